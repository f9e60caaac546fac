// An IDX file (MNIST's format) made in memory: magic 0x0000 08 <ndims>, big-endian dimensions, u8 data.
export function idxBytes(dims: readonly number[], data: Uint8Array): Uint8Array {
  const b = new Uint8Array(4 + 4 * dims.length + data.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x800 | dims.length);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d));
  b.set(data, 4 + 4 * dims.length);
  return b;
}
