"""safetensors as the project writes them (src/train/safetensors.ts): u64 LE header length, JSON
header padded with spaces to 8 bytes, tensors packed in order, string metadata, and the project's
FNV-1a 64 checksum of the data section in __metadata__.checksum (verified on read when present).

Reading also accepts F16 / BF16 / F64 (converted to float32, listed in `converted`), so plain PyTorch
files open; writing is F32 only, as the playground reads it.
"""

import json
import os
import struct

import numpy as np

MAX_HEADER = 100_000_000
# FACM_CHECKSUM=0 skips computing and verifying the checksum (it costs ~35 s per 100 MB in CPython:
# a cifar-b checkpoint with EMA and moments is 156 MB). Files written so carry no checksum.
CHECKSUM = os.environ.get("FACM_CHECKSUM", "1") != "0"
_FNV_PRIME = 0x100000001B3
_M64 = (1 << 64) - 1


def checksum(data: bytes) -> str:
    """FNV-1a 64 of the bytes as 16 hex digits (sequential by nature: about 35 s per 100 MB in CPython)."""
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * _FNV_PRIME) & _M64
    return f"{h:016x}"


def _bf16_to_f32(raw: bytes) -> np.ndarray:
    u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
    return u.view(np.float32)


_READERS = {
    "F32": lambda raw: np.frombuffer(raw, dtype="<f4"),
    "F16": lambda raw: np.frombuffer(raw, dtype="<f2").astype(np.float32),
    "F64": lambda raw: np.frombuffer(raw, dtype="<f8").astype(np.float32),
    "BF16": _bf16_to_f32,
}
_SIZES = {"F32": 4, "F16": 2, "F64": 8, "BF16": 2}


def read(path_or_bytes, verify: bool = CHECKSUM):
    """-> (tensors {name: float32 array}, metadata {str: str}, converted {name: dtype} for non-F32 tensors)."""
    if isinstance(path_or_bytes, (bytes, bytearray)):
        buf = bytes(path_or_bytes)
    else:
        with open(path_or_bytes, "rb") as f:
            buf = f.read()
    if len(buf) < 8:
        raise ValueError(f"safetensors: truncated: {len(buf)} bytes, the header length alone is 8")
    (n,) = struct.unpack("<Q", buf[:8])
    if n > MAX_HEADER or 8 + n > len(buf):
        raise ValueError(f"safetensors: bad header length {n} for a {len(buf)}-byte file")
    header = json.loads(buf[8 : 8 + n].decode("utf-8"))
    data = memoryview(buf)[8 + n :]
    meta = {k: str(v) for k, v in (header.pop("__metadata__", None) or {}).items()}
    tensors, converted = {}, {}
    for name, e in header.items():
        dt = e.get("dtype")
        if dt not in _READERS:
            raise ValueError(f"safetensors: tensor '{name}' has dtype {dt}; readable: {', '.join(_READERS)}")
        start, end = e["data_offsets"]
        shape = list(e["shape"])
        want = int(np.prod(shape, dtype=np.int64)) * _SIZES[dt]
        if end - start != want or end > len(data):
            raise ValueError(f"safetensors: tensor '{name}': data_offsets [{start}, {end}] do not fit shape {shape} of {dt} in a {len(data)}-byte data section")
        tensors[name] = _READERS[dt](bytes(data[start:end])).reshape(shape).copy()
        if dt != "F32":
            converted[name] = dt
    if verify and "checksum" in meta:
        got = checksum(bytes(data))
        if got != meta["checksum"]:
            raise ValueError(f"safetensors: checksum mismatch: data section hashes to {got}, header says {meta['checksum']} (file corrupted)")
    return tensors, meta, converted


def write(path, tensors, metadata=None, with_checksum: bool = CHECKSUM) -> bytes:
    """tensors: [(name, array)] in file order, stored as F32. Returns the bytes (and writes them if path)."""
    entries, chunks, off = {}, [], 0
    for name, a in tensors:
        a = np.ascontiguousarray(np.asarray(a, dtype="<f4"))
        raw = a.tobytes()
        entries[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        chunks.append(raw)
        off += len(raw)
    data = b"".join(chunks)
    meta = {k: str(v) for k, v in (metadata or {}).items()}
    if with_checksum:
        meta["checksum"] = checksum(data)
    header = ({"__metadata__": meta} if meta else {}) | entries
    js = json.dumps(header, separators=(",", ":")).encode("utf-8")
    js += b" " * ((-len(js)) % 8)
    out = struct.pack("<Q", len(js)) + js + data
    if path:
        tmp = f"{path}.tmp"
        with open(tmp, "wb") as f:
            f.write(out)
        import os

        os.replace(tmp, path)
    return out
