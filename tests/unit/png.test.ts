import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32, encodePng, filterScanlines, imageGrid, PNG_SIGNATURE } from '../../src/util/png';

interface Chunk {
  type: string;
  data: Uint8Array;
  crc: number;
  crcOf: Uint8Array;
}

/** Splits a PNG into chunks (independent of the encoder's own helpers apart from crc32). */
function readChunks(png: Uint8Array): Chunk[] {
  assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE);
  const v = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const out: Chunk[] = [];
  let at = 8;
  while (at < png.length) {
    const len = v.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    out.push({ type, data: png.subarray(at + 8, at + 8 + len), crc: v.getUint32(at + 8 + len), crcOf: png.subarray(at + 4, at + 8 + len) });
    at += 12 + len;
  }
  assert.equal(at, png.length, 'chunks tile the file exactly');
  return out;
}

async function inflate(bytes: Uint8Array): Promise<Uint8Array> {
  const s = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('deflate'));
  return new Uint8Array(await new Response(s).arrayBuffer());
}

test('crc32 matches the standard check value', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  assert.equal(crc32(new TextEncoder().encode('IEND')), 0xae426082);
});

test('encodePng: IHDR, CRCs and inflated IDAT reproduce the filtered scanlines', async () => {
  const width = 7;
  const height = 5;
  const rgba = new Uint8Array(width * height * 4).map((_, i) => (i * 37) % 256);
  const png = await encodePng(rgba, width, height);
  const chunks = readChunks(png);
  assert.deepEqual(chunks.map((c) => c.type), ['IHDR', 'IDAT', 'IEND']);
  for (const c of chunks) assert.equal(c.crc, crc32(c.crcOf), `${c.type} CRC`);
  const ih = new DataView(chunks[0].data.buffer, chunks[0].data.byteOffset, 13);
  assert.equal(chunks[0].data.length, 13);
  assert.deepEqual([ih.getUint32(0), ih.getUint32(4), ...chunks[0].data.subarray(8)], [width, height, 8, 6, 0, 0, 0]);
  const lines = await inflate(chunks[1].data);
  assert.deepEqual(lines, filterScanlines(rgba, width, height));
  // Filter None: each row is its filter byte then the raw pixels.
  for (let y = 0; y < height; y++) {
    assert.equal(lines[y * (width * 4 + 1)], 0);
    assert.deepEqual(lines.subarray(y * (width * 4 + 1) + 1, (y + 1) * (width * 4 + 1)), rgba.subarray(y * width * 4, (y + 1) * width * 4));
  }
  assert.equal(chunks[2].data.length, 0);
  await assert.rejects(encodePng(rgba, width, height + 1), /need 168/);
});

test('imageGrid: layout, padding, clamping, grey and upscaling', () => {
  // Two 1×2 RGB images: pixel values chosen to hit the clamps.
  const imgs = new Float32Array([
    -1, 1, // image 0, R
    0, 2, // G (2 clamps to 255)
    -3, 0.5, // B (-3 clamps to 0)
    1, 1, 1, 1, 1, 1, // image 1 white
  ]);
  const g = imageGrid(imgs, 2, 3, 1, 2, 2, 1, 2);
  assert.equal(g.width, 2 * 4 + 3);
  assert.equal(g.height, 2 + 2);
  const px = (x: number, y: number) => Array.from(g.rgba.subarray((y * g.width + x) * 4, (y * g.width + x) * 4 + 4));
  assert.deepEqual(px(0, 0), [0, 0, 0, 255], 'padding is opaque black');
  assert.deepEqual(px(1, 1), [0, 128, 0, 255]); // (-1, 0, -3) → (0, 127.5→128, 0)
  assert.deepEqual(px(2, 2), [0, 128, 0, 255], 'upscaled ×2');
  assert.deepEqual(px(3, 1), [255, 255, 191, 255]); // (1, 2, 0.5)
  assert.deepEqual(px(5, 1), [0, 0, 0, 255], 'gap between cells');
  assert.deepEqual(px(6, 1), [255, 255, 255, 255], 'second image');
  // Grey: one channel replicated; partial last row.
  const grey = imageGrid(new Float32Array([0, -1, 1]), 3, 1, 1, 1, 2, 0);
  assert.deepEqual([grey.width, grey.height], [2, 2]);
  assert.deepEqual(Array.from(grey.rgba), [128, 128, 128, 255, 0, 0, 0, 255, 255, 255, 255, 255, 0, 0, 0, 255]);
  assert.throws(() => imageGrid(new Float32Array(4), 1, 2, 1, 2, 1), /C must be 1 or 3/);
  assert.throws(() => imageGrid(new Float32Array(2), 1, 3, 1, 2, 1), /needs 6/);
});
