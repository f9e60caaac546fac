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


def bench_one(preset: str, objective: str, device: torch.device, batch: int, reps: int) -> float:
    cfg = DiTConfig(**PRESETS[preset].to_json())
    ds = make_blobs(max(256, batch), 0, 8)
    if ds.shape != (cfg.C, cfg.H, cfg.W):
        ds = resize(ds, cfg.H, cfg.W, cfg.C)
    run = Run(cfg, dict(DEFAULT_TRAIN, batch=batch), ObjectiveConfig(name=objective).checked(), ds, device)
    run.model.load_flat(init_params(cfg, 0, 0.02))
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    run.step()
    times = []
    for _ in range(reps):
        sync()
        t0 = time.perf_counter()
        run.step()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


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
    print(f"{'preset':8s} {'device':8s} {'FM ms':>9s} {'FM img/s':>9s} {'FACM ms':>9s} {'FACM img/s':>10s} {'FACM/FM':>8s}")
    for dev in devices:
        name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
        for p in a.presets.split(","):
            fm = bench_one(p, "fm", dev, a.batch, a.reps)
            fa = bench_one(p, "facm", dev, a.batch, a.reps)
            print(f"{p:8s} {dev.type:8s} {fm * 1e3:9.1f} {a.batch / fm:9.1f} {fa * 1e3:9.1f} {a.batch / fa:10.1f} {fa / fm:8.2f}   ({name})", flush=True)


if __name__ == "__main__":
    main()
