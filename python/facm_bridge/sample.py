"""Samples from a checkpoint of this project, in PyTorch, for `npm run facm -- eval --samples`:

    python -m facm_bridge.sample --ckpt teacher.safetensors --samplers euler1,euler2,euler50,nfe1 --n 1000 --ema --out s.safetensors

The CLI's samplers (src/objectives/samplers.ts) from the CLI's noise (src/cli/main.ts drawSamples):
z from the project's Rng(seed), in chunks of 256; consistency sampling with N calls (x ← x + (1 − t)·F(x, t),
re-noised to the next t from the same Rng), or the FM branch's Euler ODE (c = 2 − t, r = 1 with the aux
condition). One tensor per sampler, (n, C, H, W), named as given; the metadata names the checkpoint,
step, weights and seed. The measuring (FD, precision, recall) stays in the CLI: this only saves the
sampling time where the WebGPU adapter is a CPU emulation.
"""

import argparse
import json
import re
import sys

import numpy as np
import torch

from . import checkpoint, stfile
from .model import DiT
from .rng import Rng

CHUNK = 256


def parse_samplers(text: str):
    out = []
    for raw in text.split(","):
        m = re.fullmatch(r"(nfe|euler)(\d+)", raw.strip().lower())
        if not m or not 1 <= int(m.group(2)) <= 1000:
            raise SystemExit(f"--samplers: '{raw}' is not a sampler: write nfeN or eulerN (N from 1 to 1000), comma-separated")
        out.append((m.group(0), m.group(1), int(m.group(2))))
    return out


@torch.no_grad()
def draw(model: DiT, kind: str, k: int, n: int, seed: int) -> np.ndarray:
    cfg = model.cfg
    D = cfg.C * cfg.H * cfg.W
    rng = Rng(seed)
    z = rng.normals(n * D).reshape(n, cfg.C, cfg.H, cfg.W)
    out = np.empty_like(z)
    for i0 in range(0, n, CHUNK):
        b = min(CHUNK, n - i0)
        x = torch.from_numpy(z[i0:i0 + b].copy())
        y = torch.tensor([(i0 + i) % cfg.numClasses for i in range(b)], dtype=torch.float32) if cfg.numClasses else None
        full = lambda v: torch.full((b,), float(v), dtype=torch.float32)
        if kind == "euler":
            dt = 1 / k
            for i in range(k):
                t = i * dt
                x = x + dt * model(x, full(np.float32(2 - t)), y, full(1) if cfg.useR else None)
        else:
            for i in range(k):
                t, tn = i / k, (i + 1) / k
                xe = x + (1 - t) * model(x, full(np.float32(t)), y, full(0) if cfg.useR else None)
                if i == k - 1:
                    x = xe
                    break
                eps = torch.from_numpy(rng.normals(b * D).reshape(x.shape))
                x = tn * xe + (1 - tn) * eps
        out[i0:i0 + b] = x.numpy()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m facm_bridge.sample", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--samplers", required=True, help="comma-separated nfeN / eulerN")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0, help="the noise seed (the CLI's --seed)")
    ap.add_argument("--ema", action="store_true", help="sample with the EMA weights (when the checkpoint has them)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    st = checkpoint.load(a.ckpt)
    model = DiT(st["model"])
    ema = a.ema and st["ema"] is not None
    model.load_flat(st["ema"] if ema else st["params"])
    model.eval()
    run = st["run"] or {}
    obj = ((run.get("config") or {}).get("objective")) if run.get("format") == "facm-run/2" else None
    if obj == "meanflow":
        raise SystemExit(f"{a.ckpt}: a MeanFlow model samples with its second condition r; sample it with the CLI")
    tensors = []
    for name, kind, k in parse_samplers(a.samplers):
        tensors.append((name, draw(model, kind, k, a.n, a.seed)))
        print(f"{name}: {a.n} samples", flush=True)
    meta = {"samples": json.dumps({"ckpt": a.ckpt, "step": st["step"], "weights": "ema" if ema else "online", "seed": a.seed, "n": a.n,
                                   "run": run, "config": st["model"].to_json()})}
    stfile.write(a.out, tensors, meta)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
