"""Data sets and the batch sampler, as src/data/ builds them.

- The built-in procedural sets (src/data/procedural.ts): `shapes8/16/32` and `blobs8`, drawn from the
  same Rng stream with the same float64 arithmetic, so a seed gives the same images as in the tab
  (up to an ulp where the C library's sin/cos/exp and V8's differ).
- IDX files (MNIST / Fashion-MNIST, gzip or not) and CIFAR-10 binary batches (bare, .tar, .tar.gz).
- Resizing to the model's shape (area average when shrinking, bilinear when growing; 1 <-> 3 channels).
- `Batcher` (src/data/dataset.ts): per-epoch seeded permutation, horizontal flips, the same
  (indices, flips) stream and the same checkpoint state ({count, batch, rng, shuffleRng, ...}).

Images are float32 (N, C, H, W) in [-1, 1].
"""

import gzip
import io
import math
import os
import re
import tarfile
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from .rng import Rng


@dataclass
class Dataset:
    name: str
    images: np.ndarray  # (N, C, H, W) float32 in [-1, 1]
    labels: np.ndarray  # (N,) uint8
    num_classes: int
    class_names: Optional[List[str]] = field(default=None)
    bound: float = 1.0  # largest |value| (images: pixels in [-1, 1]; 2-D points: POINT_BOUND)

    @property
    def count(self) -> int:
        return int(self.labels.shape[0])

    @property
    def shape(self):
        return tuple(self.images.shape[1:])


def _check(ds: Dataset) -> Dataset:
    n = ds.labels.shape[0]
    if ds.images.ndim != 4 or ds.images.shape[0] != n:
        raise ValueError(f"dataset '{ds.name}': images {ds.images.shape} do not match {n} labels")
    if n and int(ds.labels.max()) >= ds.num_classes:
        raise ValueError(f"dataset '{ds.name}': a label is >= numClasses = {ds.num_classes}")
    bad = ~((ds.images >= -ds.bound) & (ds.images <= ds.bound))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"dataset '{ds.name}': value {ds.images.flat[i]} (flat index {i}) is outside [-{ds.bound:g}, {ds.bound:g}]")
    return ds


# ---------------------------------------------------------------- procedural (src/data/procedural.ts)

SHAPE_CLASSES = ["disc", "square", "triangle", "ring", "cross"]
BLOB_CLASSES = ["top-left", "top-right", "bottom-left", "bottom-right"]


def _hsv(h, s, v):
    def f(n):
        k = (n + h * 6) % 6
        return v - v * s * max(0.0, min(k, 4 - k, 1))

    return (f(5), f(3), f(1))


def _scene(rng: Rng):
    cls = rng.int(len(SHAPE_CLASSES))
    r = rng.uniform(0.2, 0.34)
    cx = rng.uniform(r, 1 - r)
    cy = rng.uniform(r, 1 - r)
    a = rng.uniform(0, 2 * math.pi)
    fg = _hsv(rng.next(), rng.uniform(0.55, 1), rng.uniform(0.75, 1))
    bg_hue = rng.next()
    bg0 = _hsv(bg_hue, rng.uniform(0, 0.5), rng.uniform(0.05, 0.35))
    bg1 = _hsv((bg_hue + rng.uniform(-0.15, 0.15) + 1) % 1, rng.uniform(0, 0.5), rng.uniform(0.05, 0.35))
    g = rng.uniform(0, 2 * math.pi)
    return (cls, cx, cy, r, math.cos(a), math.sin(a), fg, bg0, bg1, math.cos(g), math.sin(g))


def _draw(scenes, size: int) -> np.ndarray:
    """Rasterises scenes into (n, 3, size, size), vectorised over scenes, pixels and supersamples."""
    ss = 6 if size <= 8 else 4 if size <= 16 else 3
    col = lambda i: np.array([s[i] for s in scenes], dtype=np.float64).reshape(-1, 1, 1, 1, 1)
    cls, cx, cy, r, ca, sa = (col(i) for i in range(6))
    py = np.arange(size, dtype=np.float64).reshape(1, size, 1, 1, 1)
    px = np.arange(size, dtype=np.float64).reshape(1, 1, size, 1, 1)
    sy = np.arange(ss, dtype=np.float64).reshape(1, 1, 1, ss, 1)
    sx = np.arange(ss, dtype=np.float64).reshape(1, 1, 1, 1, ss)
    x = (px + (sx + 0.5) / ss) / size - cx
    y = (py + (sy + 0.5) / ss) / size - cy
    u = (ca * x + sa * y) / r
    v = (-sa * x + ca * y) / r
    c3 = math.sqrt(3) / 2
    r2 = u * u + v * v
    au, av = np.abs(u), np.abs(v)
    masks = [
        r2 <= 1,
        (au <= 0.82) & (av <= 0.82),
        (v <= 0.5) & (-c3 * u - 0.5 * v <= 0.5) & (c3 * u - 0.5 * v <= 0.5),
        (r2 <= 1) & (r2 >= 0.55 * 0.55),
        ((au <= 0.3) & (av <= 1)) | ((av <= 0.3) & (au <= 1)),
    ]
    inside = np.select([np.broadcast_to(cls == k, u.shape) for k in range(5)], masks, False)
    cov = inside.sum(axis=(3, 4)) / (ss * ss)  # (n, size, size)
    gx = np.array([s[9] for s in scenes]).reshape(-1, 1, 1)
    gy = np.array([s[10] for s in scenes]).reshape(-1, 1, 1)
    pyy = np.arange(size, dtype=np.float64).reshape(1, size, 1)
    pxx = np.arange(size, dtype=np.float64).reshape(1, 1, size)
    t = 0.5 + 0.5 * (((pxx + 0.5) / size - 0.5) * gx + ((pyy + 0.5) / size - 0.5) * gy) * math.sqrt(2)
    out = np.empty((len(scenes), 3, size, size), dtype=np.float32)
    for c in range(3):
        fg = np.array([s[6][c] for s in scenes]).reshape(-1, 1, 1)
        b0 = np.array([s[7][c] for s in scenes]).reshape(-1, 1, 1)
        b1 = np.array([s[8][c] for s in scenes]).reshape(-1, 1, 1)
        bg = b0 + (b1 - b0) * t
        v01 = bg + (fg - bg) * cov
        out[:, c] = np.minimum(1, np.maximum(-1, v01 * 2 - 1))
    return out


def make_shapes(count: int, size: int, seed: int) -> Dataset:
    if count < 0 or size < 4:
        raise ValueError(f"make_shapes: count {count} must be >= 0 and size {size} >= 4")
    rng = Rng(seed)
    scenes = [_scene(rng) for _ in range(count)]
    chunk = max(1, 20000 // (size * size))
    images = np.concatenate([_draw(scenes[i : i + chunk], size) for i in range(0, count, chunk)]) if count else np.zeros((0, 3, size, size), np.float32)
    labels = np.array([s[0] for s in scenes], dtype=np.uint8)
    return _check(Dataset(f"shapes{size}", images, labels, len(SHAPE_CLASSES), list(SHAPE_CLASSES)))


def make_blobs(count: int, seed: int, size: int = 8) -> Dataset:
    if count < 0 or size < 4 or size % 2:
        raise ValueError(f"make_blobs: count {count} must be >= 0 and size {size} an even integer >= 4")
    rng = Rng(seed)
    half = size / 2
    images = np.empty((count, 3, size, size), dtype=np.float32)
    labels = np.empty(count, dtype=np.uint8)
    yy = np.arange(size, dtype=np.float64).reshape(size, 1)
    xx = np.arange(size, dtype=np.float64).reshape(1, size)
    for n in range(count):
        right = rng.int(2)
        bottom = rng.int(2)
        cx = right * half + rng.uniform(0.5, half - 1)
        cy = bottom * half + rng.uniform(0.5, half - 1)
        sigma = rng.uniform(0.7, 1.3) * (size / 8)
        amp = rng.uniform(0.7, 1)
        col = _hsv(rng.next(), rng.uniform(0.3, 1), 1)
        bg = rng.uniform(0, 0.1)
        labels[n] = bottom * 2 + right
        g = amp * np.exp(-((xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2) / (2 * sigma * sigma))
        for c in range(3):
            images[n, c] = (bg + (col[c] - bg) * g) * 2 - 1
    return _check(Dataset(f"blobs{size}", images, labels, 4, list(BLOB_CLASSES)))


# ---------------------------------------------------------------- 2-D point sets (src/data/points2d.ts)
# Each point is a (C = 2, H = 1, W = 1) image for the `points` preset; the same draws as the
# TypeScript sets for a seed (tests/python/data.test.ts compares them).

_TAU = 2 * math.pi


def _eight_gaussians(rng: Rng):
    k = rng.int(8)
    a = k * _TAU / 8
    return math.cos(a) + 0.1 * rng.normal(), math.sin(a) + 0.1 * rng.normal(), k


def _two_moons(rng: Rng):
    k = rng.int(2)
    a = rng.uniform(0, math.pi)
    x, y = (math.cos(a), math.sin(a)) if k == 0 else (1 - math.cos(a), 0.5 - math.sin(a))
    return x + 0.08 * rng.normal(), y + 0.08 * rng.normal(), k


def _checkerboard(rng: Rng):
    k = rng.int(8)
    row = k // 2
    col = 2 * (k % 2) + (row % 2)
    return col - 2 + rng.next(), row - 2 + rng.next(), k


def _spiral(rng: Rng):
    k = rng.int(2)
    s = math.sqrt(rng.next())
    a = s * 1.75 * _TAU
    sign = 1 if k == 0 else -1
    return sign * s * math.cos(a) + 0.05 * rng.normal(), sign * s * math.sin(a) + 0.05 * rng.normal(), k


def _swiss_roll(rng: Rng):
    t = 1.5 * math.pi * (1 + 2 * rng.next())
    return t * math.cos(t) + 0.3 * rng.normal(), t * math.sin(t) + 0.3 * rng.normal(), 0


POINT_SPECS = {  # name: (draw, class names)
    "eight-gaussians": (_eight_gaussians, [f"mode {k}" for k in range(8)]),
    "two-moons": (_two_moons, ["upper", "lower"]),
    "checkerboard": (_checkerboard, [f"square {k}" for k in range(8)]),
    "spiral": (_spiral, ["arm 0", "arm 1"]),
    "swiss-roll": (_swiss_roll, ["roll"]),
}
POINT_BOUND = 16.0
_NORM_DRAW = 20000
_norms = {}


def _point_normaliser(name: str):
    """Mean and the common RMS of both coordinates over a fixed draw (seed-independent), as points2d.ts."""
    if name not in _norms:
        rng = Rng(0x2D2D)
        xy = [POINT_SPECS[name][0](rng)[:2] for _ in range(_NORM_DRAW)]
        mx = my = 0.0
        for x, y in xy:  # summed in order, as the TypeScript loop (the same rounding)
            mx += x
            my += y
        mx /= _NORM_DRAW
        my /= _NORM_DRAW
        v = 0.0
        for x, y in xy:
            v += (x - mx) ** 2 + (y - my) ** 2
        _norms[name] = (mx, my, 1 / math.sqrt(v / (2 * _NORM_DRAW)))
    return _norms[name]


def make_points(name: str, count: int, seed: int, split: str = "train") -> Dataset:
    """`count` points of set `name` from `seed`, normalised; 'train' and 'heldout' are independent streams."""
    if name not in POINT_SPECS:
        raise ValueError(f"unknown 2-D point set '{name}' (have {', '.join(POINT_SPECS)})")
    draw, classes = POINT_SPECS[name]
    mx, my, scale = _point_normaliser(name)
    rng = Rng(seed if split == "train" else (seed ^ 0x4E1D07) & 0xFFFFFFFF)
    images = np.empty((count, 2, 1, 1), dtype=np.float32)
    labels = np.empty(count, dtype=np.uint8)
    for i in range(count):
        x, y, k = draw(rng)
        images[i, 0, 0, 0] = (x - mx) * scale
        images[i, 1, 0, 0] = (y - my) * scale
        labels[i] = k
    return _check(Dataset(name if split == "train" else f"{name}:heldout", images, labels, len(classes), list(classes), POINT_BOUND))


BUILTIN = {
    "shapes32": lambda seed: make_shapes(10000, 32, seed),
    "shapes16": lambda seed: make_shapes(10000, 16, seed),
    "shapes8": lambda seed: make_shapes(10000, 8, seed),
    "blobs8": lambda seed: make_blobs(1024, seed, 8),
    **{name: (lambda seed, name=name: make_points(name, 8192, seed)) for name in POINT_SPECS},
}

# ---------------------------------------------------------------- files (src/data/idx.ts, cifar.ts, index.ts)

CIFAR_RECORD = 3073
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def _unpack(name: str, data: bytes):
    """(name, bytes) of every file, with gzip and tar containers opened (recursively)."""
    if data[:2] == b"\x1f\x8b":
        return _unpack(re.sub(r"\.t?gz$", lambda m: ".tar" if m.group(0).lower() == ".tgz" else "", name, flags=re.I), gzip.decompress(data))
    if len(data) >= 262 and data[257:262] == b"ustar":
        out = []
        with tarfile.open(fileobj=io.BytesIO(data)) as tf:
            for m in tf.getmembers():
                if m.isfile():
                    out += _unpack(m.name, tf.extractfile(m).read())
        return out
    return [(name, data)]


def _is_idx(b: bytes) -> bool:
    return len(b) >= 4 and b[0] == 0 and b[1] == 0 and b[2] in (8, 9, 0x0B, 0x0C, 0x0D, 0x0E) and 1 <= b[3] <= 4


def _parse_idx(name: str, b: bytes):
    if b[2] != 8:
        raise ValueError(f"{name}: IDX element type 0x{b[2]:02x} is not supported, only 0x08 (u8)")
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i : 8 + 4 * i], "big") for i in range(nd)]
    want = 4 + 4 * nd + int(np.prod(dims))
    if len(b) != want:
        raise ValueError(f"{name}: header says {'x'.join(map(str, dims))} u8 = {want} bytes in all, file has {len(b)} bytes")
    return dims, np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def _base(p: str) -> str:
    return p.rsplit("/", 1)[-1]


def load_files(paths: List[str], split: str = "train") -> Dataset:
    """IDX pairs or CIFAR-10 batches from files / folders (recognised by content, as the TS loader)."""
    files = []
    for p in paths:
        if not os.path.exists(p):
            raise FileNotFoundError(f"dataset '{p}' is neither a built-in ({', '.join(BUILTIN)}) nor an existing file or folder: pass --dataset with the run's files (CIFAR-10 .bin / .tar.gz, IDX)")
        entries = [os.path.join(p, f) for f in sorted(os.listdir(p))] if os.path.isdir(p) else [p]
        for e in entries:
            if os.path.isfile(e):
                with open(e, "rb") as fh:
                    files += _unpack(e, fh.read())
    idx = [(n, *_parse_idx(n, b)) for n, b in files if _is_idx(b)]
    bins = sorted([(n, b) for n, b in files if not _is_idx(b) and len(b) and len(b) % CIFAR_RECORD == 0], key=lambda f: f[0])
    is_test = lambda n: re.search(r"t10k|test", _base(n), re.I) is not None
    pick = lambda items: [f for f in items if (split == "test") == is_test(f[0])] or items
    if idx and bins:
        raise ValueError("mixed datasets: IDX files and CIFAR batches")
    if idx:
        imgs = pick([f for f in idx if len(f[1]) == 3])
        labs = pick([f for f in idx if len(f[1]) == 1])
        if not imgs or not labs:
            raise ValueError("IDX: need an images file (3 dimensions) and a labels file (1 dimension)")
        key = lambda n: re.sub(r"idx\d", "idx", re.sub(r"images?|labels?", "*", _base(n), count=1, flags=re.I), flags=re.I)
        xs, ys = [], []
        for n, _, a in imgs:
            lab = labs[0] if len(imgs) == 1 and len(labs) == 1 else next((l for l in labs if key(l[0]) == key(n)), None)
            if lab is None:
                raise ValueError(f"{n}: no matching IDX labels file")
            if lab[2].shape[0] != a.shape[0]:
                raise ValueError(f"{n}: {a.shape[0]} images but {lab[2].shape[0]} labels")
            xs.append((a[:, None].astype(np.float64) / 127.5 - 1).astype(np.float32))
            ys.append(lab[2].astype(np.uint8))
        labels = np.concatenate(ys)
        fashion = any(re.search("fashion", n, re.I) for n, _ in files) or any(re.search("fashion", p, re.I) for p in paths)
        nc = max(10, int(labels.max()) + 1 if len(labels) else 10)
        names = (FASHION_MNIST_CLASSES if fashion else [str(i) for i in range(10)]) if nc == 10 else None
        return _check(Dataset("fashion-mnist" if fashion else "mnist", np.concatenate(xs), labels, nc, names))
    if bins:
        chosen = pick([f for f in bins if _base(f[0]) != "batches.meta.txt"])
        rec = np.concatenate([np.frombuffer(b, dtype=np.uint8).reshape(-1, CIFAR_RECORD) for _, b in chosen])
        if rec[:, 0].max() > 9:
            raise ValueError("CIFAR-10 labels are 0..9 (a CIFAR-100 .bin is not supported)")
        images = (rec[:, 1:].astype(np.float64) / 127.5 - 1).astype(np.float32).reshape(-1, 3, 32, 32)
        return _check(Dataset("cifar10", images, rec[:, 0].copy(), 10, list(CIFAR10_CLASSES)))
    seen = "; ".join(f"{n} ({len(b)} bytes)" for n, b in files)
    raise ValueError(f"no dataset recognised in: {seen}. Expected IDX files (optionally .gz) or CIFAR-10 binary batches (3073-byte records), loose or in a .tar / .tar.gz")


def _resample(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights of src/data/dataset.ts resampleWeights: area when shrinking, bilinear when growing."""
    w = np.zeros((n_out, n_in))
    s = n_in / n_out
    for o in range(n_out):
        if n_out < n_in:
            lo, hi = o * s, o * s + s
            for i in range(math.floor(lo), min(n_in, math.floor(lo) + math.ceil(s) + 1)):
                ov = min(hi, i + 1) - max(lo, i)
                if ov > 0:
                    w[o, i] = np.float32(ov / s)
        else:
            src = min(max((o + 0.5) * s - 0.5, 0), n_in - 1)
            i0 = min(math.floor(src), max(n_in - 2, 0))
            f = 0 if n_in == 1 else src - i0
            w[o, i0] += np.float32(1 - f)
            if n_in > 1:
                w[o, i0 + 1] += np.float32(f)
    return w


def resize(ds: Dataset, H: int, W: int, C: Optional[int] = None) -> Dataset:
    Cin, Hin, Win = ds.shape
    Cout = C or Cin
    if Cout != Cin and not ((Cin, Cout) in ((1, 3), (3, 1))):
        raise ValueError(f"resize: cannot convert {Cin} channels to {Cout} (only 1 -> 3 and 3 -> 1)")
    x = ds.images.astype(np.float64)
    if (H, W) != (Hin, Win):
        x = np.einsum("nchw,vw->nchv", x, _resample(Win, W)).astype(np.float32).astype(np.float64)
        x = np.clip(np.einsum("nchv,uh->ncuv", x, _resample(Hin, H)), -1, 1)
    if Cout == 3 and Cin == 1:
        x = np.repeat(x, 3, axis=1)
    elif Cout == 1 and Cin == 3:
        x = np.clip(np.einsum("nchw,c->nhw", x, np.array([0.299, 0.587, 0.114]))[:, None], -1, 1)
    name = ds.name if (Cout, H, W) == (Cin, Hin, Win) else f"{ds.name}@{Cout}x{H}x{W}"
    return _check(Dataset(name, x.astype(np.float32), ds.labels, ds.num_classes, ds.class_names))


# Sets shipped with the app (src/data/shipped.ts): IDX files under the repository's public/ folder.
SHIPPED = {"fashion16": ["public/data/fashion16/train-images-idx3-ubyte", "public/data/fashion16/train-labels-idx1-ubyte"]}
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_dataset(spec: str, C: int, H: int, W: int, seed: int) -> Dataset:
    """A built-in or shipped name, or comma-separated files / folders, resized to (C, H, W) as the CLI's loadData."""
    name = spec or ("eight-gaussians" if (C, H, W) == (2, 1, 1) else "fashion16" if C == 1 and H == 16 else "shapes8" if H <= 8 else "shapes16" if H <= 16 else "shapes32")
    if name in BUILTIN:
        ds = BUILTIN[name](seed)
    elif name in SHIPPED:
        paths = [os.path.join(_REPO, f) for f in SHIPPED[name]]
        if not all(os.path.exists(f) for f in paths):
            raise FileNotFoundError(f"the shipped set {name} is not next to this package ({paths[0]}): pass --dataset with its IDX files")
        ds = load_files(paths)
        ds.name = name
    else:
        ds = load_files(name.split(","))
    if ds.shape != (C, H, W):
        ds = resize(ds, H, W, C)
    return ds


# ---------------------------------------------------------------- batches (src/data/dataset.ts Batcher)


class Batcher:
    """Seeded batches without replacement within an epoch, horizontal flips with probability flip."""

    def __init__(self, ds: Dataset, batch: int, seed: int, flip: float = 0.5):
        if batch < 1:
            raise ValueError(f"Batcher: batch must be a positive integer, got {batch}")
        if ds.count == 0:
            raise ValueError(f"Batcher: dataset '{ds.name}' is empty")
        self.ds, self.batch, self.flip = ds, batch, flip
        self.rng = Rng(seed)
        self.perm = np.arange(ds.count, dtype=np.int64)
        self.pos = ds.count
        self.shuffled = False
        self.epoch = 0
        self.shuffle_rng = None

    def _shuffle(self):
        self.shuffle_rng = self.rng.get_state()
        p = list(range(self.ds.count))
        for i in range(len(p) - 1, 0, -1):
            j = self.rng.int(i + 1)
            p[i], p[j] = p[j], p[i]
        self.perm = np.array(p, dtype=np.int64)
        self.pos = 0

    def next_indices(self):
        """(indices, flips) of the next batch: the whole draw, no pixels (cheap for ranks that need a slice)."""
        idx = np.empty(self.batch, dtype=np.int64)
        flips = np.empty(self.batch, dtype=bool)
        for b in range(self.batch):
            if self.pos >= len(self.perm):
                if self.shuffled:
                    self.epoch += 1
                self._shuffle()
                self.shuffled = True
            idx[b] = self.perm[self.pos]
            self.pos += 1
            flips[b] = self.rng.next() < self.flip
        return idx, flips

    def gather(self, idx: np.ndarray, flips: np.ndarray):
        x = self.ds.images[idx].copy()
        x[flips] = x[flips][..., ::-1]
        return x, self.ds.labels[idx].astype(np.float32)

    def next(self):
        idx, flips = self.next_indices()
        return self.gather(idx, flips)

    def get_state(self) -> dict:
        return {"count": self.ds.count, "batch": self.batch, "rng": self.rng.get_state(), "shuffleRng": self.shuffle_rng, "pos": self.pos, "shuffled": self.shuffled, "epoch": self.epoch}

    def restore(self, st: dict) -> None:
        if st["count"] != self.ds.count or st["batch"] != self.batch:
            raise ValueError(f"Batcher state is for {st['count']} images in batches of {st['batch']}, this sampler has {self.ds.count} in batches of {self.batch}")
        if not (0 <= st["pos"] <= self.ds.count):
            raise ValueError(f"Batcher state: position {st['pos']} is outside the data")
        if st.get("shuffleRng"):
            self.rng.set_state(st["shuffleRng"])
            self._shuffle()
        self.rng.set_state(st["rng"])
        self.pos = st["pos"]
        self.shuffled = st["shuffled"]
        self.epoch = st["epoch"]


def _main(argv=None):
    """python -m facm_bridge.data SPEC --shape C,H,W --seed S --n N --out file.safetensors: the first N
    images (resized to the shape) and labels, and the first batches of a Batcher, for cross-checks."""
    import argparse

    from . import stfile

    ap = argparse.ArgumentParser(prog="python -m facm_bridge.data")
    ap.add_argument("spec")
    ap.add_argument("--shape", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--batch", type=int, default=5)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    C, H, W = (int(v) for v in a.shape.split(","))
    ds = load_dataset(a.spec, C, H, W, a.seed)
    bt = Batcher(ds, a.batch, a.seed, 0.5)
    idx = np.concatenate([bt.next_indices()[0] for _ in range(3)])
    stfile.write(a.out, [("images", ds.images[: a.n]), ("labels", ds.labels[: a.n].astype(np.float32)), ("batch.indices", idx.astype(np.float32))],
                 {"name": ds.name, "count": str(ds.count), "numClasses": str(ds.num_classes)})


if __name__ == "__main__":
    _main()
