"""Images per second of the FM and FACM training steps per preset, on CPU and (when present) CUDA.

    python -m facm_bridge.bench [--presets tiny,tiny-16,cifar-s,cifar-b] [--batch 32] [--device cpu,cuda]

A step is the trainer's whole step (batch, plan with its noise, forward / JVP, backward, clipping,
AdamW, EMA) in float32, timed after one warm-up step; the median over --reps steps.
"""

import argparse
import statistics
import time

import torch

from .data import make_blobs, resize
from .model import PRESETS, DiTConfig, init_params
from .objectives import JVP_BACKEND, ObjectiveConfig
from .train import DEFAULT_TRAIN, Run


def bench_one(preset: str, objective: str, device: torch.device, batch: int, reps: int):
    """(wall seconds, CPU seconds of this process) per step, medians."""
    cfg = DiTConfig(**PRESETS[preset].to_json())
    ds = make_blobs(max(256, batch), 0, 8)
    if ds.shape != (cfg.C, cfg.H, cfg.W):
        ds = resize(ds, cfg.H, cfg.W, cfg.C)
    run = Run(cfg, dict(DEFAULT_TRAIN, batch=batch), ObjectiveConfig(name=objective).checked(), ds, device)
    run.model.load_flat(init_params(cfg, 0, 0.02))
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    run.step()
    wall, cpu = [], []
    for _ in range(reps):
        sync()
        t0, c0 = time.perf_counter(), time.process_time()
        run.step()
        sync()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m facm_bridge.bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", default=",".join(PRESETS))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--device", default="cpu,cuda", help="comma-separated; cuda is skipped where absent")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    devices = [torch.device(d) for d in a.device.split(",") if d != "cuda" or torch.cuda.is_available()]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, JVP by {JVP_BACKEND}, batch {a.batch}, median of {a.reps} steps")
    print("img/s from wall-clock time; on CPU also per CPU-second of this process (what a core it had to itself would give)")
    print(f"{'preset':8s} {'device':6s} {'FM ms':>8s} {'FM img/s':>9s} {'(CPU)':>8s} {'FACM ms':>8s} {'FACM img/s':>10s} {'(CPU)':>8s} {'FACM/FM':>8s}")
    for dev in devices:
        name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
        for p in a.presets.split(","):
            fm, fmc = bench_one(p, "fm", dev, a.batch, a.reps)
            fa, fac = bench_one(p, "facm", dev, a.batch, a.reps)
            cpu = lambda c: f"{a.batch / c:8.1f}" if dev.type == "cpu" else f"{'':8s}"
            print(f"{p:8s} {dev.type:6s} {fm * 1e3:8.1f} {a.batch / fm:9.1f} {cpu(fmc)} {fa * 1e3:8.1f} {a.batch / fa:10.1f} {cpu(fac)} {fa / fm:8.2f}   ({name})", flush=True)


if __name__ == "__main__":
    main()
