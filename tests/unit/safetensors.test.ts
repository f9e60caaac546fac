import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checksum, readSafetensors, writeSafetensors, type NamedTensor } from '../../src/train/safetensors';
import { Rng } from '../../src/util/rng';

const enc = (s: string) => new TextEncoder().encode(s);

function sample(): NamedTensor[] {
  const rng = new Rng(1);
  const odd = new Float32Array([NaN, -0, Infinity, -Infinity, 1e-45, 3.4028234663852886e38]);
  // A NaN with a non-default payload must survive too.
  new Uint32Array(odd.buffer)[0] = 0x7fc12345;
  return [
    { name: 'blocks.0.attn.w', shape: [3, 5], data: rng.normals(15) },
    { name: 'scalar', shape: [], data: new Float32Array([2.5]) },
    { name: 'empty', shape: [0, 4], data: new Float32Array(0) },
    { name: 'odd', shape: [6], data: odd },
    // A view into a bigger buffer at an offset.
    { name: 'view', shape: [2, 2], data: new Float32Array(rng.normals(9).buffer, 4, 4) },
  ];
}

/** Builds a file with a hand-written header (for malformed-input tests). */
function raw(header: unknown, data: Uint8Array = new Uint8Array(0), pad = true): Uint8Array {
  let json = enc(typeof header === 'string' ? header : JSON.stringify(header));
  if (pad && json.length % 8) json = enc(new TextDecoder().decode(json) + ' '.repeat(8 - (json.length % 8)));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

test('FNV-1a 64 checksum matches reference vectors', () => {
  assert.equal(checksum(new Uint8Array(0)), 'cbf29ce484222325');
  assert.equal(checksum(enc('a')), 'af63dc4c8601ec8c');
  assert.equal(checksum(enc('foobar')), '85944171f73967e8');
});

test('safetensors round-trips bit-exactly with metadata, in the given order', () => {
  const ts = sample();
  const meta = { config: JSON.stringify({ D: 32, depth: 2 }), step: '1200', note: 'ünïcode ✓' };
  const bytes = writeSafetensors(ts, meta);
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + n) % 8, 0, 'data section 8-byte aligned');
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  assert.deepEqual(
    Object.keys(header).filter((k) => k !== '__metadata__'),
    ts.map((t) => t.name),
  );
  assert.deepEqual(header['blocks.0.attn.w'], { dtype: 'F32', shape: [3, 5], data_offsets: [0, 60] });
  assert.deepEqual(header.scalar.data_offsets, [60, 64]);
  assert.equal(bytes.length, 8 + n + ts.reduce((s, t) => s + t.data.byteLength, 0), 'no holes');

  const back = readSafetensors(bytes);
  assert.deepEqual({ ...back.metadata, checksum: undefined }, { ...meta, checksum: undefined });
  assert.match(back.metadata.checksum, /^[0-9a-f]{16}$/);
  assert.deepEqual([...back.tensors.keys()], ts.map((t) => t.name));
  for (const t of ts) {
    const got = back.tensors.get(t.name)!;
    assert.deepEqual(got.shape, t.shape);
    const a = new Uint8Array(got.data.buffer, got.data.byteOffset, got.data.byteLength);
    const b = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    assert.deepEqual(a, b, `${t.name} bit-exact`);
  }
  // Reading from an unaligned view of the file works too.
  const shifted = new Uint8Array(bytes.length + 3);
  shifted.set(bytes, 3);
  assert.equal(readSafetensors(shifted.subarray(3)).tensors.get('blocks.0.attn.w')!.data[4], ts[0].data[4]);
  // No checksum when asked, and none verified.
  const plain = writeSafetensors(ts, {}, { checksum: false });
  assert.deepEqual(readSafetensors(plain).metadata, {});
});

test('safetensors checksum catches a flipped byte in the data', () => {
  const bytes = writeSafetensors(sample(), { step: '1' });
  const bad = bytes.slice();
  bad[bad.length - 7] ^= 0x10;
  assert.throws(() => readSafetensors(bad), /checksum mismatch/);
});

test('safetensors: truncated and garbage files give clear errors', () => {
  const bytes = writeSafetensors(sample(), {});
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.throws(() => readSafetensors(bytes.subarray(0, 5)), /truncated: 5 bytes/);
  assert.throws(() => readSafetensors(bytes.subarray(0, 8 + n - 10)), /truncated: header needs/);
  assert.throws(() => readSafetensors(bytes.subarray(0, bytes.length - 4)), /offsets out of range: tensor '.*' ends at \d+ but the data section has \d+ bytes/);
  assert.throws(() => readSafetensors(enc('PK\x03\x04 this is a zip, not safetensors')), /bad header: header length \d+ is over/);
  assert.throws(() => readSafetensors(raw('{"a": [1, 2')), /bad header: not valid UTF-8 JSON/);
  assert.throws(() => readSafetensors(raw([1, 2])), /bad header: expected a JSON object, got an array/);
  assert.throws(() => readSafetensors(raw({ w: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, new Uint8Array(16))), /unsupported dtype "I64" for tensor 'w' \(readable: F32, F64, F16, BF16\)/);
  assert.throws(() => readSafetensors(raw({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8))), /span 8 bytes, shape \[3\] of F32 needs 12/);
  assert.throws(() => readSafetensors(raw({ w: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, new Uint8Array(8))), /offsets out of range: tensor 'w' ends at 16/);
  assert.throws(() => readSafetensors(raw({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } })), /invalid shape/);
  assert.throws(() => readSafetensors(raw({ __metadata__: { step: 3 } })), /metadata 'step' is number, must be a string/);
  assert.throws(() => writeSafetensors([{ name: 'w', shape: [2, 2], data: new Float32Array(3) }], {}), /shape \[2, 2\] \(4 values\) but 3 values/);
  assert.throws(() => writeSafetensors([{ name: 'w', shape: [1], data: new Float32Array(1) }, { name: 'w', shape: [1], data: new Float32Array(1) }], {}), /duplicate tensor name 'w'/);
});

test('safetensors: F16, BF16 and F64 tensors are read as F32 and listed as converted', () => {
  // F16: 1, −2, 0.5, 65504 (max), 2^−24 (smallest subnormal), −0, +inf, NaN
  const h = Uint16Array.of(0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x8000, 0x7c00, 0x7e00);
  // BF16: 1, −3.5, the upper halves of f32 bits
  const bf = Uint16Array.of(0x3f80, 0xc060);
  const f64 = Float64Array.of(0.1, -1e300, 3);
  const data = new Uint8Array(16 + 4 + 24);
  data.set(new Uint8Array(h.buffer), 0);
  data.set(new Uint8Array(bf.buffer), 16);
  data.set(new Uint8Array(f64.buffer), 20);
  const f = readSafetensors(raw({ h: { dtype: 'F16', shape: [2, 4], data_offsets: [0, 16] }, b: { dtype: 'BF16', shape: [2], data_offsets: [16, 20] }, d: { dtype: 'F64', shape: [3], data_offsets: [20, 44] } }, data));
  assert.deepEqual(Array.from(f.tensors.get('h')!.data), [1, -2, 0.5, 65504, 2 ** -24, -0, Infinity, NaN]);
  assert.deepEqual(f.tensors.get('h')!.shape, [2, 4]);
  assert.deepEqual(Array.from(f.tensors.get('b')!.data), [1, -3.5]);
  assert.deepEqual(Array.from(f.tensors.get('d')!.data), [Math.fround(0.1), -Infinity, 3]);
  assert.deepEqual([...f.converted], [['h', 'F16'], ['b', 'BF16'], ['d', 'F64']]);
  assert.equal(readSafetensors(writeSafetensors(sample(), {})).converted.size, 0);
});
