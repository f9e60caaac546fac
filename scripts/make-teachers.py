"""Train the FM teachers shipped with the app (public/teachers/) with the PyTorch bridge, and export them.

    /usr/bin/python3 scripts/make-teachers.py fashion16-fm [--threads 2] [--work runs/teachers]
    /usr/bin/python3 scripts/make-teachers.py eight-gaussians-fm

Each teacher is a fresh FM run of this project's own model and trainer (python/facm_bridge: the
same DiT, FM step, AdamW, EMA, data and seeded streams as the Node trainer), trained in segments of
`segment` steps (each continues the previous one's checkpoint exactly: weights, EMA, AdamW moments,
data and noise positions), so every segment's checkpoint is a point of the learning curve
(`npm run facm -- eval --ckpt runs/teachers/<id>/step-<N>/checkpoint.safetensors ...`). The last
one's EMA weights are written to public/teachers/<id>.safetensors (as the parameters: the file holds
what a sampler or a distillation uses, no optimizer state), with the run's metadata and a `teacher`
entry (data set, its SHA-256, steps, images seen, the command). The script prints the file's SHA-256.

Training is float32 on the CPU (or CUDA when present): bit-exact reproduction needs the same torch
build and thread count; elsewhere the weights differ in the last bits and the figures by noise.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "python"))

# id: the run. Hyper-parameters were chosen for images seen under a CPU budget (README, *Teachers*).
TEACHERS = {
    "fashion16-fm": dict(preset="mnist-16", dataset="fashion16", batch=64, lr=3e-3, steps=500, segment=500, seed=0),
    "eight-gaussians-fm": dict(preset="points", dataset="eight-gaussians", batch=128, lr=2e-3, steps=1500, segment=500, seed=0),
}


def sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def data_checksum(dataset: str) -> dict:
    """The shipped files' SHA-256 (checked against src/data/shipped.ts), or the procedural set's rule."""
    from facm_bridge.data import SHIPPED

    if dataset not in SHIPPED:
        return {"procedural": f"{dataset}, drawn from the run's seed (src/data/points2d.ts / procedural.ts)"}
    pinned = open(os.path.join(REPO, "src", "data", "shipped.ts")).read()
    out = {}
    for rel in SHIPPED[dataset]:
        h = sha256(os.path.join(REPO, rel))
        if h not in pinned:
            raise SystemExit(f"{rel}: SHA-256 {h} is not the one pinned in src/data/shipped.ts: remake the set (scripts/make-fashion16.ts) before training a teacher on it")
        out[os.path.basename(rel)] = h
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("id", choices=list(TEACHERS))
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the shipped teachers: 1; more threads on a loaded machine spin and run slower)")
    ap.add_argument("--procs", type=int, default=1, help="train each segment on this many processes (torchrun on gloo; the batch must split over them)")
    ap.add_argument("--work", default=os.path.join(REPO, "runs", "teachers"), help="where the segments' checkpoints go")
    ap.add_argument("--steps", type=int, default=0, help="stop after this many steps (default: the teacher's own); a shorter run is not the shipped teacher")
    ap.add_argument("--export-only", action="store_true", help="export the last finished segment without training")
    a = ap.parse_args(argv)
    import torch

    from facm_bridge import checkpoint

    torch.set_num_threads(a.threads)
    t = TEACHERS[a.id]
    steps = a.steps or t["steps"]
    work = os.path.join(a.work, a.id)
    data = data_checksum(t["dataset"])
    prev = None
    t0 = time.time()
    for end in range(t["segment"], steps + 1, t["segment"]):
        out = os.path.join(work, f"step-{end}")
        ck = os.path.join(out, "checkpoint.safetensors")
        if os.path.exists(ck):  # a finished segment (a rerun continues where it stopped)
            prev = ck
            continue
        if a.export_only:
            break
        args = ["--steps", str(t["segment"]), "--out", out, "--log-every", "100"]
        args += ["--init", prev] if prev else ["--preset", t["preset"], "--objective", "fm", "--dataset", t["dataset"], "--batch", str(t["batch"]), "--lr", str(t["lr"]), "--seed", str(t["seed"])]
        print(f"[{a.id}] steps {end - t['segment']} -> {end} ({time.time() - t0:.0f} s so far)", flush=True)
        # Each segment in its own process(es): --procs N runs it on N CPU processes (torchrun, gloo), the same run as one process to ~1e-7.
        launch = [sys.executable, "-m", "facm_bridge.train"] if a.procs == 1 else [sys.executable, "-m", "facm_bridge.torchrun", f"--nproc_per_node={a.procs}", f"--master_port={29500 + os.getpid() % 1000}", "-m", "facm_bridge.train"]
        env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"), OMP_NUM_THREADS=str(a.threads))
        if subprocess.run(launch + args, env=env).returncode != 0:
            raise SystemExit(f"{a.id}: the segment ending at step {end} stopped (non-finite loss): see {out}/metrics.jsonl")
        prev = ck
    if prev is None:
        raise SystemExit(f"{a.id}: no finished segment under {work}")
    st = checkpoint.load(prev)
    run = dict(st["run"] or {})
    run["config"] = dict(run.get("config") or {}, dataset=t["dataset"])  # a named set (bridges before the shipped sets were named wrote 'custom')
    run["teacher"] = {
        "id": a.id,
        "weights": "the EMA of the run's weights at its last step, stored as the parameters",
        "dataset": t["dataset"],
        "data": data,
        "steps": st["step"],
        "imagesSeen": st["step"] * t["batch"],
        "command": f"/usr/bin/python3 scripts/make-teachers.py {a.id} --procs {a.procs} --threads {a.threads}",
        "trainer": "python/facm_bridge (PyTorch " + torch.__version__ + ", float32)",
    }
    dest = os.path.join(REPO, "public", "teachers", f"{a.id}.safetensors")
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    checkpoint.save(dest, st["model"], st["step"], st["ema"] or st["params"], run=run)
    size = os.path.getsize(dest)
    if size > 4 * 1024 * 1024:
        raise SystemExit(f"{dest} is {size} bytes, over the 4 MB a shipped teacher may take")
    print(f"wrote {os.path.relpath(dest, REPO)}: step {st['step']}, {st['step'] * t['batch']} images seen, {size} bytes, SHA-256 {sha256(dest)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
