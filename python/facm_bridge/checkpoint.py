"""The project's checkpoint files (src/train/checkpoint.ts): DiT parameters under their DiT names, EMA
under `ema.`, AdamW moments under `optim.m.` / `optim.v.`, and in the metadata format, config (JSON),
run (JSON: objective, optimizer, data, the CLI's entry), step, resume (JSON: the Batcher's and the
noise Rng's positions) and the checksum. Written in the parameter table's order, float32.
"""

import json

import numpy as np

from . import stfile
from .model import DiTConfig, param_table

FORMAT = "facm-playground/1"


def load(path: str) -> dict:
    tensors, meta, converted = stfile.read(path)
    if "config" not in meta:
        raise ValueError(f"{path}: not a facm-playground checkpoint: no model config in the safetensors metadata")
    cfg = DiTConfig.from_json(json.loads(meta["config"])).validate()
    table = param_table(cfg)

    def group(prefix, required):
        if not required and not any(prefix + s[0] in tensors for s in table):
            return None
        out = {}
        for name, shape, *_ in table:
            t = tensors.get(prefix + name)
            if t is None:
                raise ValueError(f"{path}: checkpoint lacks tensor {prefix + name}")
            if tuple(t.shape) != shape:
                raise ValueError(f"{path}: tensor {prefix + name} has shape {list(t.shape)}, the config needs {list(shape)}")
            out[name] = t
        return out

    step = int(meta.get("step", "0"))
    js = lambda k: json.loads(meta[k]) if meta.get(k) else None
    return {"model": cfg, "run": js("run"), "resume": js("resume"), "step": step, "params": group("", True),
            "ema": group("ema.", False), "m": group("optim.m.", False), "v": group("optim.v.", False)}


def save(path: str, cfg: DiTConfig, step: int, params: dict, ema=None, m=None, v=None, run=None, resume=None) -> bytes:
    table = param_table(cfg)
    tensors = []
    for prefix, group in (("", params), ("ema.", ema), ("optim.m.", m), ("optim.v.", v)):
        if group is not None:
            tensors += [(prefix + name, np.asarray(group[name], dtype=np.float32)) for name, *_ in table]
    meta = {"format": FORMAT, "config": json.dumps(cfg.to_json()), "run": json.dumps(run), "step": str(int(step))}
    if resume is not None:
        meta["resume"] = json.dumps(resume)
    return stfile.write(path, tensors, meta)
