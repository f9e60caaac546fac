"""The project's seeded generator (src/util/rng.ts): mulberry32 + Box-Muller normals.

Same seed -> the same stream as the TypeScript Rng, so the built-in data sets, the initial weights,
the batch order and the noise of a step are those of a Node or browser run with that seed.
All arithmetic is on unsigned 32-bit patterns; JavaScript's signed intermediates have the same bits.
"""

import math

import numpy as np

_M = 0xFFFFFFFF


class Rng:
    def __init__(self, seed: int):
        s = (int(seed) & _M) ^ 0x9E3779B9
        self.s = s - (1 << 32) if s >= 1 << 31 else s  # JavaScript's ^ gives a signed int32: kept for identical state JSON
        self.spare = None

    def next(self) -> float:
        """Uniform in [0, 1)."""
        t = self.s = (self.s + 0x6D2B79F5) & _M
        t = ((t ^ (t >> 15)) * (t | 1)) & _M
        t = (t ^ ((t + (((t ^ (t >> 7)) * (t | 61)) & _M)) & _M)) & _M
        return ((t ^ (t >> 14)) & _M) / 4294967296.0

    def uniform(self, lo: float = 0.0, hi: float = 1.0) -> float:
        return lo + (hi - lo) * self.next()

    def int(self, n: int) -> int:
        return math.floor(self.next() * n)

    def normal(self) -> float:
        if self.spare is not None:
            v = self.spare
            self.spare = None
            return v
        u = 0.0
        while u == 0.0:
            u = self.next()
        v = self.next()
        r = math.sqrt(-2.0 * math.log(u))
        self.spare = r * math.sin(2.0 * math.pi * v)
        return r * math.cos(2.0 * math.pi * v)

    def uniforms(self, n: int) -> np.ndarray:
        """n successive next() values at once (float64). mulberry32's state is a counter, so the
        stream vectorises: state k is s + k*0x6D2B79F5."""
        k = np.arange(1, n + 1, dtype=np.uint64)
        t = (np.uint64(self.s & _M) + k * np.uint64(0x6D2B79F5)) & np.uint64(_M)
        self.s = (self.s + n * 0x6D2B79F5) & _M
        m = np.uint64(_M)
        t = ((t ^ (t >> np.uint64(15))) * (t | np.uint64(1))) & m
        t = (t ^ ((t + (((t ^ (t >> np.uint64(7))) * (t | np.uint64(61))) & m)) & m)) & m
        return ((t ^ (t >> np.uint64(14))) & m).astype(np.float64) / 4294967296.0

    def normals(self, n: int, scale: float = 1.0) -> np.ndarray:
        """n normals times scale as float32 (as the TypeScript Float32Array)."""
        return (self.normals64(n) * scale).astype(np.float32)

    def normals64(self, n: int) -> np.ndarray:
        """The next n normal() values (float64), vectorised (Box-Muller pairs: cos first, sin kept as the spare)."""
        out = np.empty(n, dtype=np.float64)
        i = 0
        if n and self.spare is not None:
            out[0] = self.spare
            self.spare = None
            i = 1
        pairs = (n - i + 1) // 2
        if pairs:
            save = (self.s, self.spare)
            uv = self.uniforms(2 * pairs).reshape(pairs, 2)
            if (uv[:, 0] == 0).any():  # the rejection loop would draw again: take the scalar path
                self.s, self.spare = save
                for j in range(i, n):
                    out[j] = self.normal()
                return out
            r = np.sqrt(-2.0 * np.log(uv[:, 0]))
            a = 2.0 * math.pi * uv[:, 1]
            both = np.stack([r * np.cos(a), r * np.sin(a)], axis=1).reshape(-1)
            out[i:] = both[: n - i]
            if (n - i) % 2:
                self.spare = float(both[-1])
        return out

    def get_state(self) -> dict:
        """The position, in the checkpoint's JSON form ({s, spare})."""
        return {"s": self.s, "spare": self.spare}

    def set_state(self, st: dict) -> None:
        s = st["s"]
        if not isinstance(s, int) or s < -0x80000000 or s > _M:
            raise ValueError(f"Rng state s={s!r} is not a 32-bit integer")
        spare = st.get("spare")
        if spare is not None and not math.isfinite(spare):
            raise ValueError(f"Rng state spare={spare!r} is not a number")
        self.s = s  # as given (signed or not, as JavaScript had it): next() works modulo 2^32 either way
        self.spare = None if spare is None else float(spare)

    def fork(self, tag: int) -> "Rng":
        seed = ((math.floor(self.next() * 4294967296) & _M) * 2654435761) & _M
        return Rng(seed ^ (tag & _M))
