"""FM (stage 1) and FACM / CM without anchor (docs/math.md; src/objectives/objectives.ts, step.ts).

`plan_step` draws a step's random quantities from the project's Rng in the order planStep does
(t, then the noise; float32 as the TypeScript arrays), so a run continued here draws the batches
and noise the tab would have drawn. `step_loss` evaluates the branches on a DiT and returns the
differentiable loss and the per-sample statistics.

The FM loss's cosine uses current PyTorch's semantics written out: each side normalised on its own,
cos_C(a, b) = sum_C (a / max(|a|, eps)) * (b / max(|b|, eps)), eps = 1e-8.
"""

import math
import os
from dataclasses import asdict, dataclass

import numpy as np
import torch

from .rng import Rng

COS_EPS = 1e-8


@dataclass
class ObjectiveConfig:
    name: str = "facm"
    lambdaFM: float = 1.0
    interval: str = "extended"
    alpha: bool = True
    clamp: bool = True
    tMean: float = 0.8
    tStd: float = 1.6
    scmWarmup: float = 1000
    scmNormalise: bool = True
    flowRatio: float = 0.75
    meanflowP: float = 1.0

    SUPPORTED = ("fm", "facm", "cm-no-anchor")

    @staticmethod
    def from_json(d: dict) -> "ObjectiveConfig":
        known = {k: d[k] for k in ObjectiveConfig.__dataclass_fields__ if k in d}
        return ObjectiveConfig(**known).checked()

    def checked(self) -> "ObjectiveConfig":
        if self.name not in self.SUPPORTED:
            raise ValueError(f"objective '{self.name}' is not in the PyTorch bridge (it has {', '.join(self.SUPPORTED)}); train it in the playground or the Node CLI")
        if self.interval not in ("extended", "aux"):
            raise ValueError(f"interval must be extended or aux, got '{self.interval}'")
        if self.name == "cm-no-anchor":
            self.lambdaFM = 0.0
        return self

    def to_json(self) -> dict:
        return asdict(self)

    def needs_r(self) -> bool:
        return self.interval == "aux" and self.name in ("facm", "cm-no-anchor")


def sample_t(rng: Rng, mean: float, std: float) -> float:
    return 1 - (2 / math.pi) * math.atan(math.exp(rng.normal() * std - mean))


def guidance_labels(t: np.ndarray, y: np.ndarray, null_class: int, t_min: float) -> np.ndarray:
    """The teacher's unconditional labels: the null class where guidance applies (t >= tMin), the row's own label below."""
    return np.where(t >= t_min, null_class, y).astype(np.float32)


def plan_step(obj: ObjectiveConfig, use_r: bool, x: np.ndarray, y, B: int, rng: Rng, labels: dict = None) -> dict:
    """The step's t, eps, x_t, v and branches (numpy float32), drawing from rng as planStep does.
    `labels` (class-conditional runs): numClasses, labelDropout, cfgWeight, cfgTMin."""
    f32 = np.float32
    if obj.name == "fm":
        t = rng.uniforms(B).astype(f32)
    else:
        t = np.array([sample_t(rng, obj.tMean, obj.tStd) for _ in range(B)], dtype=f32)
    x = x.reshape(B, -1)
    eps = rng.normals(x.size).reshape(B, -1)
    t64 = t.astype(np.float64)[:, None]
    xt = (t64 * x + (1 - t64) * eps).astype(f32)
    v = (x.astype(np.float64) - eps).astype(f32)
    t64 = t.astype(np.float64)
    branches = []
    if obj.name == "fm":
        half = np.arange(B) < B / 2
        c = np.where(half, t64, 2 - t64).astype(f32)
        r = np.where(half, 0, 1).astype(f32) if use_r else None
        branches.append({"kind": "fm", "c": c, "r": r, "scale": 1 / B})
    else:
        aux = obj.interval == "aux"
        zeros = np.zeros(B, f32)
        if obj.lambdaFM > 0:
            c = t.copy() if aux else (2 - t64).astype(f32)
            r = (np.ones(B, f32) if aux else zeros.copy()) if use_r else None
            branches.append({"kind": "fm", "c": c, "r": r, "scale": obj.lambdaFM / B})
        branches.append({
            "kind": "residual", "c": t.copy(), "r": zeros.copy() if use_r else None,
            "tC": np.ones(B, f32), "tR": zeros.copy() if use_r else None,
            "k": 1 - t64, "a": (1 - np.sqrt(t64)) if obj.alpha else np.ones(B), "lambda": np.cos(math.pi * t64 / 2),
            "clamp": obj.clamp, "p": 0.5, "scale": 1 / B,
        })
    # Label dropout, drawn last as planStep does: a label goes to the null class with probability p;
    # the teacher keeps the batch's labels. Guidance: the teacher's unconditional labels (the window).
    y_in, guidance = y, None
    if y is not None and labels:
        y = np.asarray(y, np.float32)
        if labels["labelDropout"] > 0:
            y_in = np.where(rng.uniforms(B) < labels["labelDropout"], labels["numClasses"], y).astype(np.float32)
        if labels["cfgWeight"] > 1:
            guidance = {"w": labels["cfgWeight"], "yU": guidance_labels(t, y, labels["numClasses"], labels["cfgTMin"])}
    return {"B": B, "t": t, "xt": xt, "v": v, "eps": eps, "y": y_in, "teacherY": y, "guidance": guidance, "branches": branches}


# ---------------------------------------------------------------- JVP


def _has_func() -> bool:
    """torch.func.jvp (torch >= 2) unless FACM_JVP=forward_ad asks for the forward-AD path."""
    if os.environ.get("FACM_JVP") == "forward_ad":
        return False
    return hasattr(torch, "func") and hasattr(torch.func, "jvp")


JVP_BACKEND = "torch.func.jvp" if _has_func() else "torch.autograd.forward_ad"


def jvp(model, x, c, tx, tc, y=None, r=None, tr=None):
    """(F, dF) with dF = dF/dx.tx + dF/dc.tc [+ dF/dr.tr] in forward mode; F keeps its autograd graph
    to the parameters (the loss backpropagates through the primal only), dF is detached."""
    if _has_func():
        if r is None:
            F, dF = torch.func.jvp(lambda a, b: model(a, b, y, None), (x, c), (tx, tc))
        else:
            F, dF = torch.func.jvp(lambda a, b, d: model(a, b, y, d), (x, c, r), (tx, tc, tr))
        return F, dF.detach()
    import torch.autograd.forward_ad as fwAD

    with fwAD.dual_level():
        rd = None if r is None else fwAD.make_dual(r, tr)
        out = model(fwAD.make_dual(x, tx), fwAD.make_dual(c, tc), y, rd)
        F, dF = fwAD.unpack_dual(out)
        dF = dF.detach().clone()
    # torch 1.13's forward AD cannot run a backward inside the dual level; the primal's graph survives it.
    return F, dF


# ---------------------------------------------------------------- losses


def fm_terms(F, v):
    """Per sample: mean_CHW (F - v)^2 and mean_HW (1 - cos_C(F, v))."""
    B = F.shape[0]
    mse = ((F - v) ** 2).reshape(B, -1).mean(1)
    na = torch.linalg.vector_norm(F, dim=1, keepdim=True).clamp_min(COS_EPS)
    nb = torch.linalg.vector_norm(v, dim=1, keepdim=True).clamp_min(COS_EPS)
    cos = ((F / na) * (v / nb)).sum(1)  # (B, H, W)
    return mse, (1 - cos).reshape(B, -1).mean(1)


def residual_terms(F, v, dF, k, a, lam, clamp: bool, p: float):
    """FACM's CM loss per sample: g = F- - v - k.dF, target = F- - a.clamp(g), e = mean (F - target)^2,
    loss = lam.e / (e- + 1e-3)^p. Returns (loss, stats) with stats as res_stats reports them."""
    B = F.shape[0]
    sh = (B,) + (1,) * (F.dim() - 1)
    Fd = F.detach()
    g = Fd - v - k.reshape(sh) * dF
    phi = g.clamp(-1, 1) if clamp else g
    target = Fd - a.reshape(sh) * phi
    e = ((F - target) ** 2).reshape(B, -1).mean(1)
    loss = lam * e / (e.detach() + 1e-3) ** p
    flat = lambda z: z.reshape(B, -1)
    stats = {
        "e": e.detach(), "loss": loss.detach(), "g2": (flat(g) ** 2).mean(1), "clampFrac": (flat(g).abs() > 1).to(g.dtype).mean(1),
        "tF2": (flat(dF) ** 2).mean(1), "v2": (flat(v) ** 2).mean(1), "ktF2": (k.reshape(B, 1) ** 2 * flat(dF) ** 2).mean(1),
    }
    return loss, stats


@torch.no_grad()
def teacher_velocity(teacher, plan: dict, rows, xt):
    """Distillation's v on the plan's rows: the teacher at (x_t, c = t, the batch's labels), or with
    guidance v_u + w (v_c - v_u), both passes as one forward of 2n rows (as runStep's teacherVelocity)."""
    p0 = next(teacher.parameters())
    dev, dt = p0.device, p0.dtype
    n = len(rows)
    t = torch.as_tensor(np.asarray(plan["t"])[rows], device=dev).to(dt)
    x = xt.to(dt)
    labels = plan.get("teacherY", plan["y"]) if teacher.cfg.numClasses else None
    y = None if labels is None else torch.as_tensor(np.asarray(labels)[rows], device=dev)
    g = plan.get("guidance") if y is not None else None
    if g is not None:
        x, t = torch.cat([x, x]), torch.cat([t, t])
        y = torch.cat([y, torch.as_tensor(np.asarray(g["yU"])[rows], device=dev)])
    r = torch.zeros(len(t), device=dev, dtype=dt) if teacher.cfg.useR else None
    F = teacher(x, t, y, r)
    if g is None:
        return F
    vc, vu = F[:n], F[n:]
    return vu + g["w"] * (vc - vu)


def step_loss(model, plan: dict, rows=None, teacher=None, grad_scale: float = 1.0):
    """The step's loss on the rows `rows` of the plan (all by default; a DDP rank passes its slice,
    and grad_scale = world size so that DDP's gradient average is the whole batch's gradient).
    Returns (loss tensor, per-branch stats with per-sample tensors, detached)."""
    p0 = next(model.parameters())
    dev, dt = p0.device, p0.dtype
    B = plan["B"]
    rows = np.arange(B) if rows is None else np.asarray(rows)
    T = lambda a: torch.as_tensor(np.asarray(a)[rows], device=dev).to(dt)
    C, H, W = model.cfg.C, model.cfg.H, model.cfg.W
    shape = (len(rows), C, H, W)
    xt = T(plan["xt"]).reshape(shape)
    y = None if plan["y"] is None or model.cfg.numClasses == 0 else torch.as_tensor(np.asarray(plan["y"])[rows], device=dev)
    if teacher is not None:
        v = teacher_velocity(teacher, plan, rows, xt).to(dt)
    else:
        v = T(plan["v"]).reshape(shape)
    total = 0
    out = []
    for br in plan["branches"]:
        c = T(br["c"])
        r = T(br["r"]) if br["r"] is not None else None
        if br["kind"] == "fm":
            F = model(xt, c, y, r)
            mse, cos = fm_terms(F, v)
            total = total + br["scale"] * (mse + cos).sum()
            out.append({"kind": "fm", "scale": br["scale"], "mse": mse.detach(), "cos": cos.detach()})
        else:
            tR = T(br["tR"]) if br["tR"] is not None else None
            F, dF = jvp(model, xt, c, v, T(br["tC"]), y, r, tR)
            loss, st = residual_terms(F, v, dF, T(br["k"]), T(br["a"]), T(br["lambda"]), br["clamp"], br["p"])
            total = total + br["scale"] * loss.sum()
            out.append({"kind": "residual", "scale": br["scale"], **st})
    return total * grad_scale, out


def summarise(results, B: int) -> dict:
    """Step scalars from per-sample sums over the whole batch (results' tensors summed over all rows)."""
    m = {"loss": 0.0, "lossFM": 0.0, "lossCM": 0.0, "clampFrac": float("nan"), "rmsG": float("nan"), "rmsDFdt": float("nan"), "rmsV": float("nan"), "rmsKdFdt": float("nan")}
    for r in results:
        if r["kind"] == "fm":
            s = float(r["mse"] + r["cos"])
            m["lossFM"] = s / B
            m["loss"] += r["scale"] * s
        else:
            m["lossCM"] = float(r["loss"]) / B
            m["loss"] += r["scale"] * float(r["loss"])
            m["clampFrac"] = float(r["clampFrac"]) / B
            m["rmsG"] = math.sqrt(float(r["g2"]) / B)
            m["rmsDFdt"] = math.sqrt(float(r["tF2"]) / B)
            m["rmsV"] = math.sqrt(float(r["v2"]) / B)
            m["rmsKdFdt"] = math.sqrt(float(r["ktF2"]) / B)
    return m


def sums(results):
    """Per-branch sums over this process's rows (what DDP ranks all-reduce before `summarise`)."""
    return [{k: (v.sum() if torch.is_tensor(v) else v) for k, v in r.items()} for r in results]
