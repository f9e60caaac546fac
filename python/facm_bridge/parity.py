"""Recomputes one frozen step written by `npm run facm -- dump` in float64 and compares.

    python -m facm_bridge.parity step.safetensors [--json]

Checks, from the dump's own metadata (config, objective, seed, batch): the batch (built-in data set
and Batcher), the plan (t and the noise, from the same Rng stream), then on the dumped inputs the
outputs F_cm and dF/dt (JVP at c = t along (v, 1)), F_fm (c = 2 - t, or c = t, r = 1 on the aux interval), the losses and every
parameter gradient. Error of a quantity: max |python - dump| / max |dump| over the tensor.
"""

import argparse
import json
import sys

import numpy as np
import torch

from . import stfile
from .data import Batcher, load_dataset
from .model import DiT, DiTConfig, param_table
from .objectives import ObjectiveConfig, jvp, plan_step, step_loss, summarise, sums, teacher_velocity
from .train import DEFAULT_LABELS
from .rng import Rng


def rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = np.abs(b).max()
    d = np.abs(a - b).max()
    return float(d / scale) if scale > 0 else float(d)


def check(path: str, dataset: str = "") -> dict:
    tensors, meta, _ = stfile.read(path)
    cfg = DiTConfig.from_json(json.loads(meta["config"])).validate()
    obj = ObjectiveConfig.from_json(json.loads(meta["objective"]))
    seed = int(meta["seed"])
    x = tensors["in.x"]
    B = x.shape[0]
    err = {}
    # Inputs: the same data and the same random streams.
    ds = load_dataset(dataset, cfg.C, cfg.H, cfg.W, seed)
    bx, by = Batcher(ds, B, seed, 0).next()
    err["in.x"] = rel(bx, x)
    keys = json.loads(meta.get("run", "{}")).get("config") or {}
    labels = dict({k: keys.get(k, v) for k, v in DEFAULT_LABELS.items()}, numClasses=cfg.numClasses) if cfg.numClasses else None
    plan = plan_step(obj, cfg.useR, bx, by if cfg.numClasses else None, B, Rng(seed), labels)
    err["in.t"] = rel(plan["t"], tensors["in.t"])
    err["in.eps"] = rel(plan["eps"].reshape(x.shape), tensors["in.eps"])
    # Label dropout drawn from the same stream, and the guidance window's labels.
    if "in.y_in" in tensors:
        err["in.y_in"] = rel(plan["y"], tensors["in.y_in"])
    if "in.y_u" in tensors:
        err["in.y_u"] = rel(plan["guidance"]["yU"], tensors["in.y_u"]) if plan["guidance"] else float("inf")
    # The step, in float64 on the dumped inputs.
    torch.set_default_dtype(torch.float64)
    model = DiT(cfg).double()
    model.load_flat({s[0]: tensors[s[0]] for s in param_table(cfg)})
    t = tensors["in.t"].astype(np.float64)
    xt = t[:, None, None, None] * x + (1 - t[:, None, None, None]) * tensors["in.eps"]
    plan64 = dict(plan, xt=xt.astype(np.float64).reshape(B, -1), v=tensors["in.v"].astype(np.float64).reshape(B, -1),
                  y=tensors.get("in.y_in", tensors.get("in.y", plan["y"])), teacherY=tensors.get("in.y", plan["teacherY"]))
    X = torch.as_tensor(xt)
    V = torch.as_tensor(tensors["in.v"], dtype=torch.float64)
    teacher = None
    if "out.v" in tensors:
        # Distillation: the teacher's velocity (guided where the dump's config says) from its own parameters.
        teacher = DiT(cfg).double()
        teacher.load_flat({s[0]: tensors[f"teacher.{s[0]}"] for s in param_table(cfg)})
        rows = np.arange(B)
        err["out.v"] = rel(teacher_velocity(teacher, plan64, rows, X), tensors["out.v"])
        if plan64["guidance"] is not None:
            # What an unguided teacher gives, to show the comparison above tells the two apart.
            err["out.v@unguided"] = rel(teacher_velocity(teacher, dict(plan64, guidance=None), rows, X), tensors["out.v"])
        V = torch.as_tensor(tensors["out.v"], dtype=torch.float64)
    Tt = torch.as_tensor(t)
    Y = torch.as_tensor(plan64["y"]) if cfg.numClasses else None
    R0 = torch.zeros(B, dtype=torch.float64) if cfg.useR else None
    ones = torch.ones(B, dtype=torch.float64)
    cond = lambda key, fallback: torch.as_tensor(tensors[key], dtype=torch.float64) if key in tensors else fallback
    if "in.c_cm" in tensors or "in.c_fm" in tensors:
        # The dump writes each branch's own conditions and output: check the plan's against them, then F there.
        for br in plan["branches"]:
            name = "fm" if br["kind"] == "fm" else "cm"
            err[f"in.c_{name}"] = rel(br["c"], tensors[f"in.c_{name}"])
            if br["r"] is not None:
                err[f"in.r_{name}"] = rel(br["r"], tensors[f"in.r_{name}"])
    if "out.F_fm" in tensors:
        # The FM branch: c = 2 - t on the extended interval; c = t with the flag r = 1 on the aux one.
        c_fm = cond("in.c_fm", Tt if obj.interval == "aux" else 2 - Tt)
        r_fm = cond("in.r_fm", (ones if obj.interval == "aux" else R0) if cfg.useR else None)
        with torch.no_grad():
            err["out.F_fm"] = rel(model(X, c_fm, Y, r_fm), tensors["out.F_fm"])
            if obj.interval == "aux" and "in.c_fm" not in tensors:
                # Dumps from before the aux fix wrote F at c = 2 - t, r = 0 as out.F_fm: report that comparison too.
                err["out.F_fm@c=2-t,r=0"] = rel(model(X, 2 - Tt, Y, R0), tensors["out.F_fm"])
    if "out.F_cm" in tensors:
        F_cm, dFdt = jvp(model, X, cond("in.c_cm", Tt), V, ones, Y, cond("in.r_cm", R0), R0)
        err["out.F_cm"] = rel(F_cm.detach(), tensors["out.F_cm"])
        err["out.dFdt"] = rel(dFdt, tensors["out.dFdt"])
    model.zero_grad()
    loss, results = step_loss(model, plan64, teacher=teacher)
    loss.backward()
    m = summarise(sums(results), B)
    for k, name in (("loss", "out.loss"), ("lossFM", "out.loss_fm"), ("lossCM", "out.loss_cm")):
        err[name] = rel(m[k], tensors[name])
    grads = {f"grad.{n}": rel(p.grad, tensors[f"grad.{n}"]) for n, p in model.named_parameters()}
    err["grad (worst)"] = max(grads.values())
    worst = max(grads, key=grads.get)
    return {"objective": obj.name, "interval": obj.interval, "batch": B, "errors": err, "worstGrad": worst, "grads": grads,
            "loss": {"python": m["loss"], "dump": float(tensors["out.loss"][0])}}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m facm_bridge.parity", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dump")
    ap.add_argument("--dataset", default="", help="the data set the dump was made with (default: the preset's built-in)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    r = check(a.dump, a.dataset)
    if a.json:
        print(json.dumps(r))
    else:
        for k, v in r["errors"].items():
            print(f"{k:14s} {v:.3e}")
        print(f"worst gradient: {r['worstGrad']}")


if __name__ == "__main__":
    sys.exit(main())
