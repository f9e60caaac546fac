"""The small DiT of docs/math.md (src/model/dit.ts, params.ts, config.ts) as a torch.nn.Module.

Parameter names and layouts are facebookresearch/DiT's (nn.Linear [out, in], the patch embedding a
p x p stride-p Conv2d), so `state_dict()` is the project's checkpoint table. The fixed 2-D sin-cos
position embedding is a non-persistent buffer (the project's files do not store it). Time enters
raw (no x1000): 256-dim [cos, sin] embedding, then Linear -> SiLU -> Linear. adaLN-Zero init.
"""

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .rng import Rng

TIME_DIM = 256
LN_EPS = 1e-6


@dataclass
class DiTConfig:
    C: int
    H: int
    W: int
    patch: int
    D: int
    depth: int
    heads: int
    numClasses: int = 0
    useR: bool = False

    def to_json(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_json(d: dict) -> "DiTConfig":
        keys = ["C", "H", "W", "patch", "D", "depth", "heads", "numClasses", "useR"]
        missing = [k for k in keys if k not in d]
        if missing:
            raise ValueError(f"model config lacks {', '.join(missing)}")
        return DiTConfig(**{k: d[k] for k in keys})

    def validate(self) -> "DiTConfig":
        for k in ["C", "H", "W", "patch", "D", "depth", "heads"]:
            v = getattr(self, k)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"invalid model config: {k} must be a positive integer (got {v})")
        if self.H % self.patch or self.W % self.patch:
            raise ValueError(f"invalid model config: patch {self.patch} must divide H {self.H} and W {self.W}")
        if self.H != self.W:
            raise ValueError(f"invalid model config: images must be square (H {self.H} != W {self.W})")
        if self.D % self.heads:
            raise ValueError(f"invalid model config: heads {self.heads} must divide D {self.D}")
        if self.D % 4:
            raise ValueError(f"invalid model config: D {self.D} must be a multiple of 4 (2-D sin-cos position embedding)")
        return self

    @property
    def tokens(self) -> int:
        return (self.H // self.patch) * (self.W // self.patch)


PRESETS = {
    "tiny": DiTConfig(3, 8, 8, 2, 32, 2, 2, 0, False),
    "tiny-16": DiTConfig(3, 16, 16, 4, 64, 2, 4, 0, False),
    "mnist-16": DiTConfig(1, 16, 16, 4, 64, 2, 4, 0, False),
    "points": DiTConfig(2, 1, 1, 1, 64, 2, 2, 0, False),
    "cifar-s": DiTConfig(3, 32, 32, 4, 192, 6, 3, 10, False),
    "cifar-b": DiTConfig(3, 32, 32, 2, 256, 8, 4, 10, False),
}


def param_table(cfg: DiTConfig):
    """[(name, shape, init, decay, fans)] in the order of src/model/params.ts (init and the flat layout follow it)."""
    D, C, p = cfg.D, cfg.C, cfg.patch
    specs = []

    def add(name, shape, init, fans=None):
        specs.append((name, tuple(shape), init, len(shape) > 1 and "embedding_table" not in name, fans))

    def linear(prefix, out, inf, init):
        add(f"{prefix}.weight", [out, inf], init, (inf, out))
        add(f"{prefix}.bias", [out], "zero")

    add("x_embedder.proj.weight", [D, C, p, p], "xavier", (C * p * p, D))
    add("x_embedder.proj.bias", [D], "zero")
    linear("t_embedder.mlp.0", D, TIME_DIM, "normal02")
    linear("t_embedder.mlp.2", D, D, "normal02")
    if cfg.numClasses > 0:
        add("y_embedder.embedding_table.weight", [cfg.numClasses + 1, D], "normal02")
    if cfg.useR:
        linear("r_embedder.mlp.0", D, TIME_DIM, "normal02")
        linear("r_embedder.mlp.2", D, D, "normal02")
    for i in range(cfg.depth):
        b = f"blocks.{i}"
        linear(f"{b}.adaLN_modulation.1", 6 * D, D, "zero")
        linear(f"{b}.attn.qkv", 3 * D, D, "xavier")
        linear(f"{b}.attn.proj", D, D, "xavier")
        linear(f"{b}.mlp.fc1", 4 * D, D, "xavier")
        linear(f"{b}.mlp.fc2", D, 4 * D, "xavier")
    linear("final_layer.adaLN_modulation.1", 2 * D, D, "zero")
    linear("final_layer.linear", p * p * C, D, "zero")
    return specs


def init_params(cfg: DiTConfig, seed: int, perturb: float = 0.0):
    """DiT's init drawn from the project's Rng: the same float32 weights as initParams(table, seed, perturb) in TypeScript."""
    rng = Rng(seed)
    out = {}
    for name, shape, init, _, fans in param_table(cfg):
        n = int(np.prod(shape))
        v = np.zeros(n, dtype=np.float64)
        if init == "xavier":
            bound = math.sqrt(6 / (fans[0] + fans[1]))
            v = -bound + (bound - -bound) * rng.uniforms(n)
        elif init == "normal02":
            v = rng.normals64(n) * 0.02
        if perturb > 0 and init == "zero":
            v = rng.normals64(n) * perturb
        out[name] = v.astype(np.float32).reshape(shape)
    return out


def pos_embed_2d(D: int, grid: int) -> np.ndarray:
    """DiT's fixed 2-D sin-cos embedding (T, D): [sin(w*om), cos(w*om), sin(h*om), cos(h*om)], om_k = 10000^(-k/(D/4))."""
    q = D // 4
    omega = np.array([1 / 10000 ** (k / q) for k in range(q)])
    hh, ww = np.meshgrid(np.arange(grid, dtype=np.float64), np.arange(grid, dtype=np.float64), indexing="ij")
    w = ww.reshape(-1, 1) * omega
    h = hh.reshape(-1, 1) * omega
    return np.concatenate([np.sin(w), np.cos(w), np.sin(h), np.cos(h)], axis=1)


def time_embed(c: torch.Tensor) -> torch.Tensor:
    half = TIME_DIM // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float64, device=c.device) / half).to(c.dtype)
    a = c[:, None] * freqs[None]
    return torch.cat([torch.cos(a), torch.sin(a)], dim=1)


class _TimeMlp(nn.Module):
    def __init__(self, D: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(TIME_DIM, D), nn.SiLU(), nn.Linear(D, D))

    def forward(self, c):
        return self.mlp(time_embed(c))


class _PatchEmbed(nn.Module):
    def __init__(self, C, D, p):
        super().__init__()
        self.proj = nn.Conv2d(C, D, p, stride=p)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, T, D), tokens row-major over (h, w)


class _LabelEmbed(nn.Module):
    def __init__(self, n, D):
        super().__init__()
        self.embedding_table = nn.Embedding(n + 1, D)

    def forward(self, y):
        return self.embedding_table(y.long())


class _Attention(nn.Module):
    def __init__(self, D, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(D, 3 * D)
        self.proj = nn.Linear(D, D)

    def forward(self, x):
        B, T, D = x.shape
        hd = D // self.heads
        qkv = self.qkv(x).reshape(B, T, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = torch.softmax((q @ k.transpose(-2, -1)) * (1 / math.sqrt(hd)), dim=-1)
        return self.proj((att @ v).transpose(1, 2).reshape(B, T, D))


class _Mlp(nn.Module):
    def __init__(self, D):
        super().__init__()
        self.fc1 = nn.Linear(D, 4 * D)
        self.fc2 = nn.Linear(4 * D, D)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


def _modulate(x, shift, scale):
    return F.layer_norm(x, x.shape[-1:], eps=LN_EPS) * (1 + scale[:, None]) + shift[:, None]


class _Block(nn.Module):
    def __init__(self, D, heads):
        super().__init__()
        self.attn = _Attention(D, heads)
        self.mlp = _Mlp(D)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(D, 6 * D))

    def forward(self, x, cvec):
        sh1, sc1, g1, sh2, sc2, g2 = self.adaLN_modulation(cvec).chunk(6, dim=1)
        x = x + g1[:, None] * self.attn(_modulate(x, sh1, sc1))
        return x + g2[:, None] * self.mlp(_modulate(x, sh2, sc2))


class _FinalLayer(nn.Module):
    def __init__(self, D, out):
        super().__init__()
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(D, 2 * D))
        self.linear = nn.Linear(D, out)

    def forward(self, x, cvec):
        shift, scale = self.adaLN_modulation(cvec).chunk(2, dim=1)
        return self.linear(_modulate(x, shift, scale))


class DiT(nn.Module):
    def __init__(self, cfg: DiTConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        D, p = cfg.D, cfg.patch
        self.x_embedder = _PatchEmbed(cfg.C, D, p)
        self.t_embedder = _TimeMlp(D)
        if cfg.numClasses > 0:
            self.y_embedder = _LabelEmbed(cfg.numClasses, D)
        if cfg.useR:
            self.r_embedder = _TimeMlp(D)
        self.blocks = nn.ModuleList([_Block(D, cfg.heads) for _ in range(cfg.depth)])
        self.final_layer = _FinalLayer(D, p * p * cfg.C)
        self.register_buffer("pos_embed", torch.tensor(pos_embed_2d(D, cfg.H // p), dtype=torch.float32)[None], persistent=False)

    def load_flat(self, tensors: dict) -> None:
        """Copies {name: array} (the project's table) into the parameters; every name must be present."""
        sd = self.state_dict()
        missing = [k for k in sd if k not in tensors]
        if missing:
            raise ValueError(f"missing tensors: {', '.join(missing)}")
        with torch.no_grad():
            for k, t in sd.items():
                src = torch.as_tensor(np.asarray(tensors[k]))
                if tuple(src.shape) != tuple(t.shape):
                    raise ValueError(f"tensor {k} has shape {list(src.shape)}, the config needs {list(t.shape)}")
                t.copy_(src.to(t.dtype))

    def forward(self, x, c, y=None, r=None):
        cfg = self.cfg
        tok = self.x_embedder(x) + self.pos_embed.to(x.dtype)
        cvec = self.t_embedder(c)
        if cfg.numClasses > 0:
            if y is None:
                raise ValueError("this model is class-conditional: pass labels y")
            cvec = cvec + self.y_embedder(y)
        if cfg.useR:
            if r is None:
                raise ValueError("this model has a second time condition: pass r")
            cvec = cvec + self.r_embedder(r)
        for blk in self.blocks:
            tok = blk(tok, cvec)
        o = self.final_layer(tok, cvec)  # (B, T, p*p*C)
        B, p, C = x.shape[0], cfg.patch, cfg.C
        h, w = cfg.H // p, cfg.W // p
        return o.reshape(B, h, w, p, p, C).permute(0, 5, 1, 3, 2, 4).reshape(B, C, h * p, w * p)
