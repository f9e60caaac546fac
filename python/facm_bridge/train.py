"""Train or continue a FACM playground run in PyTorch, on one process or N (torchrun + DDP).

Continue a run exported from the tab or the Node CLI (config, step, EMA, AdamW moments and the
data / noise streams all come from the checkpoint):

    python -m facm_bridge.train --init run.safetensors --steps 1000 --out runs/py
    torchrun --nproc_per_node=4 -m facm_bridge.train --init run.safetensors --steps 1000 --out runs/py

or start one here (the same config keys as `npm run facm -- train`):

    python -m facm_bridge.train --preset tiny --objective facm --dataset shapes8 --steps 200 --batch 32

The output folder gets checkpoint.safetensors and autosave.safetensors (the same bytes, the project's
format: `npm run facm -- train --resume DIR --steps M` goes on in Node, the playground's Upload opens
it) and metrics.jsonl (one line per step, the Node CLI's fields).

Multi-process: every rank draws the run's global batch order and noise (the seeded Batcher and Rng,
so 1 and N processes train the same run) and computes its B/N rows of each batch;
DistributedDataParallel averages the gradients (NCCL on GPUs, gloo on CPU); rank 0 writes the files.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

from . import checkpoint
from .data import Batcher, load_dataset
from .model import PRESETS, DiT, DiTConfig, init_params
from .objectives import JVP_BACKEND, ObjectiveConfig, plan_step, step_loss, summarise, sums
from .optim import AdamW
from .rng import Rng

# The Node trainer's defaults (src/train/trainer.ts DEFAULT_TRAIN).
DEFAULT_TRAIN = {"batch": 32, "lr": 1e-3, "lrWarmup": 0, "lrDecaySteps": 0, "lrFloor": 0.0, "beta1": 0.9, "beta2": 0.99, "weightDecay": 0.0, "adamEps": 1e-8, "gradClip": 1.0,
                 "emaDecay": 0.999, "seed": 0, "flip": 0.5, "onNonFinite": "stop", "snapshotEvery": 50, "maxRollbacks": 3}
# Class-conditional runs (src/config/keys.ts): label dropout, and the guidance of a labelled teacher.
DEFAULT_LABELS = {"labelDropout": 0.1, "cfgWeight": 1.75, "cfgTMin": 0.125}
BATCH_SEED, NOISE_SEED = 0x5EED, 0x7A11  # the trainer's stream seeds: Batcher(seed ^ 0x5eed), Rng(seed ^ 0x7a11)


class Run:
    """One run's state on this process: model, optimizer, EMA, streams; steps it; saves it."""

    def __init__(self, cfg: DiTConfig, train: dict, obj: ObjectiveConfig, ds, device, dtype=torch.float32, teacher=None, dist_info=(0, 1)):
        self.cfg, self.train, self.obj, self.ds = cfg, train, obj, ds
        self.rank, self.world = dist_info
        B = train["batch"]
        if B % self.world:
            raise ValueError(f"batch {B} does not split over {self.world} processes: pass a batch that is a multiple of the process count")
        if ds.shape != (cfg.C, cfg.H, cfg.W):
            raise ValueError(f"dataset {ds.name} is {ds.shape} but the model expects {(cfg.C, cfg.H, cfg.W)}")
        if obj.needs_r() and not cfg.useR:
            raise ValueError(f"objective {obj.name} with the aux interval needs a model with a second time condition (useR)")
        self.device, self.dtype = device, dtype
        self.model = DiT(cfg).to(device=device, dtype=dtype)
        self.teacher = teacher
        self.net = self.model
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            self.net = DDP(self.model, device_ids=[device.index] if device.type == "cuda" else None, broadcast_buffers=False)
            self.net.cfg = cfg
        self.opt = AdamW(self.model, lr=train["lr"], beta1=train["beta1"], beta2=train["beta2"], eps=train["adamEps"],
                         weight_decay=train["weightDecay"], grad_clip=train["gradClip"], ema_decay=train["emaDecay"],
                         warmup=train["lrWarmup"], decay_steps=train["lrDecaySteps"], floor=train["lrFloor"])
        self.batcher = Batcher(ds, B, train["seed"] ^ BATCH_SEED, train["flip"])
        self.rng = Rng(train["seed"] ^ NOISE_SEED)
        self.rows = np.arange(B)[self.rank * (B // self.world):(self.rank + 1) * (B // self.world)]

    def load_state(self, st: dict) -> None:
        self.model.load_flat(st["params"])
        T = lambda a: torch.as_tensor(np.asarray(a), device=self.device).to(self.dtype)
        for k in self.opt.params:
            self.opt.ema[k].copy_(T((st["ema"] or st["params"])[k]))
            if st["m"] is not None:
                self.opt.m[k].copy_(T(st["m"][k]))
            if st["v"] is not None:
                self.opt.v[k].copy_(T(st["v"][k]))
        self.opt.step = st["step"]
        if st.get("resume"):
            self.batcher.restore(st["resume"]["batcher"])
            self.rng.set_state(st["resume"]["rng"])

    def step(self) -> dict:
        B = self.train["batch"]
        x, y = self.batcher.next()
        lab = self.train.get("labels")  # absent: no label dropout, no guidance (as the Node Trainer)
        labels = dict(lab, numClasses=self.cfg.numClasses) if lab and self.cfg.numClasses else None
        plan = plan_step(self.obj, self.cfg.useR, x, y if self.cfg.numClasses else None, B, self.rng, labels)
        for p in self.model.parameters():
            p.grad = None
        loss, results = step_loss(self.net, plan, rows=self.rows, teacher=self.teacher, grad_scale=self.world)
        loss.backward()
        s = sums(results)
        if self.world > 1:
            s = self._reduce(s)
        m = summarise(s, B)
        norm, bad = self.opt.apply()
        m.update(step=self.opt.step, gradNorm=norm, nonFinite=bad, tMean=float(plan["t"].astype(np.float64).mean()))
        return m

    def _reduce(self, s):
        import torch.distributed as dist

        keys = [(i, k) for i, r in enumerate(s) for k, v in r.items() if torch.is_tensor(v)]
        flat = torch.stack([s[i][k].to(torch.float64) for i, k in keys])
        dist.all_reduce(flat)
        for j, (i, k) in enumerate(keys):
            s[i][k] = flat[j]
        return s

    def state(self, which: str) -> dict:
        src = {"params": dict(self.model.named_parameters()), "ema": self.opt.ema, "m": self.opt.m, "v": self.opt.v}[which]
        return {k: t.detach().to("cpu", torch.float32).numpy() for k, t in src.items()}

    def save(self, out: str, run_meta: dict) -> str:
        os.makedirs(out, exist_ok=True)
        resume = {"batcher": self.batcher.get_state(), "rng": self.rng.get_state()}
        path = os.path.join(out, "checkpoint.safetensors")
        data = checkpoint.save(path, self.cfg, self.opt.step, self.state("params"), self.state("ema"), self.state("m"), self.state("v"), run=run_meta, resume=resume)
        tmp = os.path.join(out, "autosave.safetensors.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, os.path.join(out, "autosave.safetensors"))
        return path


RUN_FORMAT = "facm-run/2"  # src/config/metadata.ts: {format, config: every run key, dataset, ...the writer's extras}
TRAIN_KEYS = ["batch", "lr", "lrWarmup", "lrDecaySteps", "lrFloor", "beta1", "beta2", "weightDecay", "gradClip", "emaDecay", "flip", "seed", "onNonFinite"]


def train_config_from_run(run) -> tuple:
    """(train dict, objective) from a checkpoint's run metadata: the current layout (facm-run/2), or
    the earlier ones (the CLI's TrainConfig with the objective as an object; the playground's)."""
    r = run or {}
    if r.get("format") == RUN_FORMAT:
        c = r.get("config") or {}
        if "objective" not in c:
            raise ValueError("the checkpoint's run metadata has no objective")
        train = {k: c.get(k, v) for k, v in DEFAULT_TRAIN.items()}
        train["labels"] = {k: c.get(k, v) for k, v in DEFAULT_LABELS.items()}
        return train, ObjectiveConfig.from_json(dict(c, name=c["objective"]))
    src = r if "objective" in r else r.get("train") or {}
    if "objective" not in src:
        raise ValueError("the checkpoint records no training config (objective, optimizer) in its metadata: start a fresh run with --preset/--objective")
    train = {k: src.get(k, v) for k, v in DEFAULT_TRAIN.items()}
    train["labels"] = dict(DEFAULT_LABELS, **(src.get("labels") or {}))
    return train, ObjectiveConfig.from_json(src["objective"])


def run_metadata(run: dict, train: dict, obj: ObjectiveConfig, preset: str, dataset_key: str, dataset_name: str) -> dict:
    """The run entry written back: the checkpoint's own (its view keys, the playground's and the CLI's
    extras kept) in the current layout, with this run's objective, optimizer and data."""
    r = dict(run or {})
    keys = dict(r.get("config") or {}) if r.get("format") == RUN_FORMAT else dict(r.get("playground") or {})
    keys.update({k: train[k] for k in TRAIN_KEYS}, objective=obj.name, preset=preset, dataset=dataset_key)
    keys.update(train.get("labels") or DEFAULT_LABELS)
    keys.update({k: getattr(obj, k) for k in ("lambdaFM", "interval", "alpha", "clamp", "tMean", "tStd", "flowRatio", "meanflowP", "scmWarmup", "scmNormalise")})
    extras = {k: v for k, v in r.items() if k in ("cli",) or k not in DEFAULT_TRAIN and k not in ("objective", "playground", "model", "train")}
    return dict(extras, format=RUN_FORMAT, config=keys, dataset=dataset_name)


def pick_device(name: str, local_rank: int) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        return torch.device("cuda", local_rank)
    return torch.device(name)


def parse(argv):
    ap = argparse.ArgumentParser(prog="python -m facm_bridge.train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--init", help="a checkpoint of this project to continue (config, step, EMA, optimizer and streams from it); with --teacher: only its weights, as the student's start (a fresh run of this command line's objective and optimizer)")
    ap.add_argument("--steps", type=int, default=200, help="optimizer steps to take here")
    ap.add_argument("--out", default=None, help="output folder (default runs/py-<objective>-<preset>-<time>)")
    ap.add_argument("--dataset", default=None, help="built-in name or files / folder; default: the run's")
    ap.add_argument("--teacher", default=None, help="a frozen teacher checkpoint (distillation); default: the run's")
    ap.add_argument("--preset", default="tiny", choices=list(PRESETS))
    ap.add_argument("--objective", default="facm", choices=list(ObjectiveConfig.SUPPORTED))
    ap.add_argument("--lambda-fm", type=float)
    ap.add_argument("--interval", choices=["extended", "aux"])
    ap.add_argument("--no-alpha", action="store_true")
    ap.add_argument("--no-clamp", action="store_true")
    ap.add_argument("--t-mean", type=float)
    ap.add_argument("--t-std", type=float)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--lr-warmup", type=int, help="steps of linear learning-rate warm-up (default 0)")
    ap.add_argument("--lr-decay-steps", type=int, help="a cosine decay of the rate over this many steps after the warm-up (default 0: constant)")
    ap.add_argument("--lr-floor", type=float, help="the decayed rate as a share of lr (default 0)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--label-dropout", type=float, help=f"class-conditional models: share of labels dropped to the null class (default {DEFAULT_LABELS['labelDropout']})")
    ap.add_argument("--cfg-weight", type=float, help=f"distilling a class-conditional teacher: guidance weight w (default {DEFAULT_LABELS['cfgWeight']}; 1: none)")
    ap.add_argument("--cfg-tmin", type=float, help=f"guidance applies where t >= this (default {DEFAULT_LABELS['cfgTMin']})")
    ap.add_argument("--device", default="auto", help="auto (cuda when present), cpu, cuda")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--save-every", type=int, default=0, help="also write the checkpoint every N steps (0: only at the end)")
    return ap.parse_args(argv)


def main(argv=None):
    a = parse(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(a.device, local)
    if world > 1:
        import torch.distributed as dist

        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            torch.cuda.set_device(device)
    log = (lambda *s, **k: print(*s, **k, flush=True)) if rank == 0 else (lambda *s, **k: None)
    st = None
    # Distillation (--teacher with --init) starts a fresh run from the init's weights, as the Node
    # CLI does: this command line's objective and optimizer, step 0, no optimizer state.
    distil = bool(a.init and a.teacher)
    if a.init and not distil:
        st = checkpoint.load(a.init)
        cfg = st["model"]
        train, obj = train_config_from_run(st["run"])
        run_meta = dict(st["run"] or {})
    else:
        obj = ObjectiveConfig(name=a.objective)
        init = checkpoint.load(a.init) if distil else None
        cfg = init["model"] if distil else DiTConfig(**PRESETS[a.preset].to_json())
        train = dict(DEFAULT_TRAIN, seed=a.seed, labels=dict(DEFAULT_LABELS))
        run_meta = {"cli": {"dataset": a.dataset or "", "steps": 0, "teacher": a.teacher, **({} if distil else {"preset": a.preset})}}
    for key, val in (("lambdaFM", a.lambda_fm), ("interval", a.interval), ("tMean", a.t_mean), ("tStd", a.t_std)):
        if val is not None:
            setattr(obj, key, val)
    if a.no_alpha:
        obj.alpha = False
    if a.no_clamp:
        obj.clamp = False
    obj.checked()
    if not a.init:
        cfg.useR = obj.needs_r()
    elif distil and obj.needs_r() and not cfg.useR:
        raise SystemExit(f"{a.init}: the teacher has no second time condition r, which {obj.name} with the aux interval needs: distil with the extended interval")
    for key, val in (("labelDropout", a.label_dropout), ("cfgWeight", a.cfg_weight), ("cfgTMin", a.cfg_tmin)):
        if val is not None:
            train["labels"][key] = val
    if a.batch:
        train["batch"] = a.batch
    if a.lr:
        train["lr"] = a.lr
    for key, val in (("lrWarmup", a.lr_warmup), ("lrDecaySteps", a.lr_decay_steps), ("lrFloor", a.lr_floor)):
        if val is not None:
            train[key] = val
    cli = dict(run_meta.get("cli") or {})
    spec = a.dataset if a.dataset is not None else cli.get("dataset", run_meta.get("dataset", ""))
    ds = load_dataset(spec or "", cfg.C, cfg.H, cfg.W, train["seed"])
    teacher = None
    tpath = a.teacher if a.teacher is not None else cli.get("teacher")
    dtype = torch.float64 if a.dtype == "float64" else torch.float32
    if tpath:
        ts = checkpoint.load(tpath)
        teacher = DiT(ts["model"]).to(device=device, dtype=dtype)
        teacher.load_flat(ts["ema"] or ts["params"])  # as the Node trainer: the teacher's EMA weights when stored
        teacher.requires_grad_(False)
    run = Run(cfg, train, obj, ds, device, dtype, teacher, (rank, world))
    # The Node CLI's entry, so `npm run facm -- train --resume OUT` finds the data, teacher and preset
    # (a run exported from the page has none yet).
    if a.dataset is not None or "dataset" not in cli:
        cli["dataset"] = spec or ds.name
    cli.setdefault("teacher", tpath or None)
    same = lambda p: all(getattr(p, k) == getattr(cfg, k) for k in ("C", "H", "W", "patch", "D", "depth", "heads", "numClasses"))
    cli.setdefault("preset", next((n for n, p in PRESETS.items() if same(p)), "custom"))
    if st is not None:
        if st["resume"] is None:
            log("note: the checkpoint holds no data / noise stream positions: batches start afresh from the seed")
        if a.batch and st["resume"] and a.batch != st["resume"]["batcher"]["batch"]:
            st = dict(st, resume=None)
            log(f"note: batch changed to {a.batch}: batches start afresh from the seed")
        run.load_state(st)
    else:
        run.model.load_flat(init["params"] if distil else init_params(cfg, train["seed"]))
        for k, p in run.model.named_parameters():
            run.opt.ema[k].copy_(p.detach())
    out = a.out or os.path.join("runs", f"py-{obj.name}-{cli['preset']}-{int(time.time())}")
    start = run.opt.step
    target = start + a.steps
    nparams = sum(p.numel() for p in run.model.parameters())
    log(f"model {cfg.C}x{cfg.H}x{cfg.W} patch {cfg.patch} D {cfg.D} depth {cfg.depth} heads {cfg.heads}, {nparams:,} parameters; objective {obj.name}; "
        f"data {ds.name} ({ds.count} images); batch {train['batch']} over {world} process(es) on {device} ({a.dtype}, JVP by {JVP_BACKEND}); step {start} -> {target}")
    from .data import BUILTIN, SHIPPED

    key = run_meta.get("config", {}).get("dataset") if run_meta.get("format") == RUN_FORMAT else None
    dataset_key = cli["dataset"] if cli["dataset"] in BUILTIN or cli["dataset"] in SHIPPED else (key or "custom")
    run_meta = run_metadata(run_meta, train, obj, cli["preset"], dataset_key, ds.name)
    metrics_path = os.path.join(out, "metrics.jsonl")
    if rank == 0:
        os.makedirs(out, exist_ok=True)
    t0 = time.time()
    last_t, last_s = t0, start
    lines = []
    stopped = None
    saved = None
    while run.opt.step < target:
        m = run.step()
        lines.append(json.dumps(m))
        if m["nonFinite"] or not math.isfinite(m["loss"]):
            stopped = m["step"]
            log(f"COLLAPSE at step {m['step']}: a non-finite loss or gradient; stopping (the update of that step was skipped)")
            break
        if m["step"] % a.log_every == 0 or m["step"] == target:
            now = time.time()
            sps = (m["step"] - last_s) / max(now - last_t, 1e-9)
            last_t, last_s = now, m["step"]
            log(f"step {m['step']}  loss {m['loss']:.4g}  L_FM {m['lossFM']:.4g}  L_CM {m['lossCM']:.4g}  |g| {m['gradNorm']:.4g}  "
                f"clamp {m['clampFrac']:.4g}  {sps:.2f} steps/s  {sps * train['batch']:.1f} img/s")
        if rank == 0 and (m["step"] == target or (a.save_every and m["step"] % a.save_every == 0)):
            with open(metrics_path, "a") as f:
                f.write("".join(l + "\n" for l in lines))
            lines = []
            cli["steps"] = m["step"]
            run.save(out, dict(run_meta, cli=cli))
            saved = m["step"]
    if rank == 0 and (lines or saved != run.opt.step):
        with open(metrics_path, "a") as f:
            f.write("".join(l + "\n" for l in lines))
        cli["steps"] = run.opt.step
        run.save(out, dict(run_meta, cli=cli))
    secs = time.time() - t0
    done = run.opt.step - start
    log(f"done: {done} steps in {secs:.1f} s ({done / max(secs, 1e-9):.2f} steps/s, {done * train['batch'] / max(secs, 1e-9):.1f} img/s) on {world} x {device}")
    log(f"wrote {os.path.join(out, 'checkpoint.safetensors')} (step {run.opt.step}) and {metrics_path}")
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    return 1 if stopped else 0


if __name__ == "__main__":
    sys.exit(main())
