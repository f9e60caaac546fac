// Minimal PNG writer (8-bit RGBA, no interlace) on Web-standard APIs: zlib from
// CompressionStream('deflate'), chunk CRC-32 computed here. Plus a sample-grid renderer.
// Dimensions: N images, C channels (1 or 3), H × W pixels each.

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ISO 3309 / PNG) of the bytes. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

export const PNG_SIGNATURE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  v.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** Scanlines as PNG stores them before compression: each row prefixed by its filter byte (0, None). */
export function filterScanlines(rgba: Uint8Array, width: number, height: number): Uint8Array {
  const stride = width * 4;
  const out = new Uint8Array(height * (stride + 1));
  for (let y = 0; y < height; y++) out.set(rgba.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  return out;
}

async function zlib(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Encodes width × height 8-bit RGBA pixels (row-major, 4 bytes each) as a PNG file. */
export async function encodePng(rgba: Uint8Array, width: number, height: number): Promise<Uint8Array> {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 0x7fffffff || height > 0x7fffffff) {
    throw new Error(`encodePng: invalid size ${width}×${height}`);
  }
  if (rgba.length !== width * height * 4) {
    throw new Error(`encodePng: ${rgba.length} bytes for ${width}×${height} RGBA, need ${width * height * 4}`);
  }
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // colour type: RGBA
  ihdr[10] = 0; // compression: deflate
  ihdr[11] = 0; // filter method 0
  ihdr[12] = 0; // no interlace
  const idat = await zlib(filterScanlines(rgba, width, height));
  const parts = [PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Lays N images (N, C, H, W) in [-1, 1] out in a grid of `cols` columns, `pad` black pixels between
 * and around cells, each pixel repeated `scale` × `scale`. C = 1 is shown grey. Values are clamped.
 */
export function imageGrid(
  images: Float32Array,
  N: number,
  C: number,
  H: number,
  W: number,
  cols: number,
  pad = 1,
  scale = 1,
): { rgba: Uint8Array; width: number; height: number } {
  if (C !== 1 && C !== 3) throw new Error(`imageGrid: C must be 1 or 3, got ${C}`);
  for (const [k, v] of [['N', N], ['H', H], ['W', W], ['cols', cols], ['scale', scale]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`imageGrid: ${k} must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(pad) || pad < 0) throw new Error(`imageGrid: pad must be a non-negative integer, got ${pad}`);
  if (images.length < N * C * H * W) throw new Error(`imageGrid: ${images.length} values, ${N}×${C}×${H}×${W} needs ${N * C * H * W}`);
  const c = Math.min(cols, N);
  const rows = Math.ceil(N / c);
  const cw = W * scale;
  const ch = H * scale;
  const width = c * cw + (c + 1) * pad;
  const height = rows * ch + (rows + 1) * pad;
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 3; i < rgba.length; i += 4) rgba[i] = 255; // opaque black background / padding
  const to8 = (x: number) => {
    const v = Math.round((x + 1) * 127.5);
    return v > 255 ? 255 : v >= 0 ? v : 0; // NaN → 0
  };
  const plane = H * W;
  for (let n = 0; n < N; n++) {
    const ox = pad + (n % c) * (cw + pad);
    const oy = pad + Math.floor(n / c) * (ch + pad);
    const base = n * C * plane;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const p = base + y * W + x;
        const r = to8(images[p]);
        const g = C === 3 ? to8(images[p + plane]) : r;
        const b = C === 3 ? to8(images[p + 2 * plane]) : r;
        for (let sy = 0; sy < scale; sy++) {
          let o = ((oy + y * scale + sy) * width + ox + x * scale) * 4;
          for (let sx = 0; sx < scale; sx++, o += 4) {
            rgba[o] = r;
            rgba[o + 1] = g;
            rgba[o + 2] = b;
          }
        }
      }
    }
  }
  return { rgba, width, height };
}
