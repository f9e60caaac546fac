// safetensors checkpoints (https://github.com/huggingface/safetensors): u64 little-endian header
// length N, N bytes of JSON header, then the data section. Header:
//   { "__metadata__": { string: string }, name: { dtype, shape, data_offsets: [start, end] }, ... }
// with offsets relative to the data section. The header is padded with spaces so the data starts
// 8-byte aligned; tensors are packed back to back (the format forbids holes), so F32 data stays
// 4-byte aligned. Written as F32 only; read as F32, or F16 / BF16 / F64 converted to F32 (listed in
// `converted`, so a caller can say so: PyTorch exports are often half precision).
// A content checksum (FNV-1a 64 over the data section) goes in __metadata__.checksum and is verified
// on read, so a corrupted checkpoint fails loudly instead of training from garbage.

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
  metadata: Record<string, string>;
  /** Tensors stored in another dtype than F32 and converted on read: name → dtype. */
  converted: Map<string, string>;
}

/** Bytes per element of the dtypes read, and their conversion to F32. */
const READ_DTYPES: Record<string, { bytes: number; toF32: (raw: Uint8Array) => Float32Array }> = {
  F32: { bytes: 4, toF32: (raw) => new Float32Array(raw.slice().buffer) },
  F64: { bytes: 8, toF32: (raw) => Float32Array.from(new Float64Array(raw.slice().buffer)) },
  F16: { bytes: 2, toF32: (raw) => Float32Array.from(new Uint16Array(raw.slice().buffer), halfToFloat) },
  // bfloat16 is the upper half of an f32's bits.
  BF16: { bytes: 2, toF32: (raw) => new Float32Array(Uint32Array.from(new Uint16Array(raw.slice().buffer), (h) => h << 16).buffer) },
};

/** IEEE binary16 bits → number (subnormals, infinities and NaN included). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Headers larger than this are rejected (the reference implementation's limit). */
const MAX_HEADER = 100_000_000;

/** FNV-1a 64 of the bytes, as 16 hex digits. 64-bit arithmetic in two 32-bit halves (no BigInt: fast). */
export function checksum(data: Uint8Array): string {
  // offset basis 0xcbf29ce484222325; prime 0x100000001b3 = 2^40 + 0x1b3
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (let i = 0; i < data.length; i++) {
    lo ^= data[i];
    lo >>>= 0;
    const a = lo * 0x1b3; // < 2^41, exact in a double
    const carry = Math.floor(a / 4294967296);
    hi = (Math.imul(hi, 0x1b3) + carry + (lo << 8)) >>> 0; // h·0x1b3's high word + (h << 40)'s high word
    lo = a >>> 0;
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

export interface WriteOptions {
  /** Store __metadata__.checksum over the data section (default true). */
  checksum?: boolean;
}

/** Serialises F32 tensors in the order given. Float bits are copied verbatim (NaN payloads included). */
export function writeSafetensors(tensors: NamedTensor[], metadata: Record<string, string> = {}, opts: WriteOptions = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  const seen = new Set<string>();
  let offset = 0;
  const entries: Record<string, unknown> = {};
  for (const t of tensors) {
    if (t.name === '__metadata__') throw new Error(`writeSafetensors: '__metadata__' is reserved and cannot name a tensor`);
    if (seen.has(t.name)) throw new Error(`writeSafetensors: duplicate tensor name '${t.name}'`);
    seen.add(t.name);
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new Error(`writeSafetensors: tensor '${t.name}' has invalid shape [${t.shape.join(', ')}]`);
    }
    if (numel(t.shape) !== t.data.length) {
      throw new Error(`writeSafetensors: tensor '${t.name}' has shape [${t.shape.join(', ')}] (${numel(t.shape)} values) but ${t.data.length} values`);
    }
    entries[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const data = new Uint8Array(offset);
  let at = 0;
  for (const t of tensors) {
    data.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new Error(`writeSafetensors: metadata '${k}' must be a string, got ${typeof v}`);
    meta[k] = v;
  }
  if (opts.checksum ?? true) meta.checksum = checksum(data);
  if (Object.keys(meta).length > 0) header.__metadata__ = meta;
  Object.assign(header, entries);

  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  out.set(data, 8 + padded);
  return out;
}

/** The header of a safetensors file: its JSON object and where the data section starts (nothing else is read). `file` names it in errors. */
export function readSafetensorsHeader(bytes: Uint8Array, file = 'safetensors'): { header: Record<string, unknown>; dataStart: number } {
  if (bytes.length < 8) throw new Error(`${file}: truncated: ${bytes.length} bytes, the header length alone is 8`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER)) {
    throw new Error(`${file}: bad header: header length ${n64} is over the ${MAX_HEADER}-byte limit (not a safetensors file?)`);
  }
  const n = Number(n64);
  if (8 + n > bytes.length) {
    throw new Error(`${file}: truncated: header needs ${n} bytes after the length, file has ${bytes.length - 8}`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new Error(`${file}: bad header: not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new Error(`${file}: bad header: expected a JSON object, got ${Array.isArray(header) ? 'an array' : typeof header}`);
  }
  return { header: header as Record<string, unknown>, dataStart: 8 + n };
}

/** Parses a safetensors file (F32, or F16 / BF16 / F64 converted); verifies __metadata__.checksum when present. `file` names it in errors. */
export function readSafetensors(bytes: Uint8Array, file = 'safetensors'): SafetensorsFile {
  const { header, dataStart } = readSafetensorsHeader(bytes, file);
  const dataLen = bytes.length - dataStart;
  const data = bytes.subarray(dataStart);
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  const converted = new Map<string, string>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null) throw new Error(`${file}: bad header: __metadata__ is not an object`);
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') throw new Error(`${file}: bad header: metadata '${k}' is ${typeof v}, must be a string`);
        metadata[k] = v;
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) throw new Error(`${file}: bad header: entry '${name}' is not an object`);
    const dt = typeof e.dtype === 'string' ? READ_DTYPES[e.dtype] : undefined;
    if (!dt) throw new Error(`${file}: unsupported dtype ${JSON.stringify(e.dtype)} for tensor '${name}' (readable: ${Object.keys(READ_DTYPES).join(', ')})`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new Error(`${file}: bad header: tensor '${name}' has invalid shape ${JSON.stringify(shape)}`);
    }
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0) || offs[1] < offs[0]) {
      throw new Error(`${file}: bad header: tensor '${name}' has invalid data_offsets ${JSON.stringify(offs)}`);
    }
    const [start, end] = offs as [number, number];
    const want = numel(shape) * dt.bytes;
    if (end - start !== want) {
      throw new Error(`${file}: tensor '${name}': data_offsets [${start}, ${end}] span ${end - start} bytes, shape [${shape.join(', ')}] of ${e.dtype} needs ${want}`);
    }
    if (end > dataLen) {
      throw new Error(`${file}: offsets out of range: tensor '${name}' ends at ${end} but the data section has ${dataLen} bytes (truncated file?)`);
    }
    // slice() copies into a fresh, aligned buffer whatever the source alignment.
    tensors.set(name, { shape: shape as number[], data: dt.toF32(data.subarray(start, end)) });
    if (e.dtype !== 'F32') converted.set(name, e.dtype as string);
  }
  if (metadata.checksum !== undefined) {
    const got = checksum(data);
    if (got !== metadata.checksum) {
      throw new Error(`${file}: checksum mismatch: data section hashes to ${got}, header says ${metadata.checksum} (file corrupted)`);
    }
  }
  return { tensors, metadata, converted };
}
