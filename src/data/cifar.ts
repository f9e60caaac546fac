// CIFAR-10 binary version and the containers it ships in (gzip, ustar), with Web-standard APIs
// only so the same code runs in the browser (file drop) and in Node (CLI).
// Record layout: 1 label byte, then 3072 pixel bytes: 1024 R, 1024 G, 1024 B, each 32×32 row-major,
// which is already the (C, H, W) layout of Dataset.

import { concatDatasets, makeDataset, type Dataset } from './dataset';

export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
const SIDE = 32;
const PIXELS = 3 * SIDE * SIDE;
export const CIFAR_RECORD = 1 + PIXELS; // 3073

/** Parses one CIFAR-10 .bin (data_batch_N.bin or test_batch.bin) into a Dataset. */
export function parseCifarBin(bytes: Uint8Array, name = 'cifar10.bin', classNames: string[] = CIFAR10_CLASSES): Dataset {
  if (bytes.length === 0 || bytes.length % CIFAR_RECORD !== 0) {
    const whole = Math.floor(bytes.length / CIFAR_RECORD);
    throw new Error(
      `${name}: ${bytes.length} bytes is not a whole number of CIFAR-10 records (${CIFAR_RECORD} bytes each: ` +
        `${whole} records + ${bytes.length - whole * CIFAR_RECORD} bytes left over; truncated or not a CIFAR-10 .bin)`,
    );
  }
  if (classNames.length !== 10) throw new Error(`${name}: CIFAR-10 needs 10 class names, got ${classNames.length}`);
  const count = bytes.length / CIFAR_RECORD;
  const images = new Float32Array(count * PIXELS);
  const labels = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    const off = n * CIFAR_RECORD;
    const label = bytes[off];
    if (label > 9) {
      throw new Error(
        `${name}: record ${n} (byte offset ${off}) has label ${label}, CIFAR-10 labels are 0..9 ` +
          `(a CIFAR-100 .bin has 2 label bytes per record and is not supported)`,
      );
    }
    labels[n] = label;
    const dst = n * PIXELS;
    for (let i = 0; i < PIXELS; i++) images[dst + i] = bytes[off + 1 + i] / 127.5 - 1;
  }
  return makeDataset({ name, C: 3, H: SIDE, W: SIDE, numClasses: 10, classNames: [...classNames], images, labels });
}

export interface NamedBytes {
  name: string;
  bytes: Uint8Array;
}

const ascii = (b: Uint8Array, start: number, len: number): string => {
  let s = '';
  for (let i = start; i < start + len && b[i] !== 0; i++) s += String.fromCharCode(b[i]);
  return s;
};

function tarNumber(b: Uint8Array, start: number, len: number, what: string, at: number): number {
  if (b[start] & 0x80) {
    // GNU base-256: big-endian binary in the remaining bytes.
    let v = 0;
    for (let i = start + 1; i < start + len; i++) v = v * 256 + b[i];
    return v;
  }
  const s = ascii(b, start, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new Error(`tar: header at byte ${at}: ${what} field '${s}' is not octal`);
  return parseInt(s, 8);
}

/** Regular files of a ustar / GNU tar archive (directories, links and pax records skipped). */
export function parseTar(bytes: Uint8Array): NamedBytes[] {
  const files: NamedBytes[] = [];
  let off = 0;
  let longName: string | null = null;
  while (off + 512 <= bytes.length) {
    const h = bytes.subarray(off, off + 512);
    if (h.every((v) => v === 0)) break; // end-of-archive marker
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    const stored = tarNumber(h, 148, 8, 'checksum', off);
    if (stored !== sum) {
      throw new Error(`tar: header at byte ${off} has checksum ${stored}, computed ${sum} (corrupt or not a tar archive)`);
    }
    const size = tarNumber(h, 124, 12, 'size', off);
    const type = String.fromCharCode(h[156] || 0x30);
    const prefix = ascii(h, 257, 6).startsWith('ustar') ? ascii(h, 345, 155) : '';
    const name = longName ?? (prefix ? `${prefix}/${ascii(h, 0, 100)}` : ascii(h, 0, 100));
    longName = null;
    const dataStart = off + 512;
    const dataEnd = dataStart + size;
    if (dataEnd > bytes.length) {
      throw new Error(`tar: '${name}' needs ${size} bytes at offset ${dataStart} but the archive ends at ${bytes.length} (truncated)`);
    }
    const data = bytes.subarray(dataStart, dataEnd);
    if (type === 'L') {
      longName = ascii(data, 0, data.length); // GNU long name for the next entry
    } else if (type === 'x') {
      const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(new TextDecoder().decode(data));
      if (m) longName = m[1];
    } else if (type === '0' || type === '7') {
      files.push({ name, bytes: data });
    }
    off = dataStart + Math.ceil(size / 512) * 512;
  }
  return files;
}

/** Inflates gzip data (DecompressionStream), with an error that says what went wrong. */
export async function gunzip(bytes: Uint8Array, name = 'input'): Promise<Uint8Array> {
  if (!isGzip(bytes)) throw new Error(`${name}: not gzip data (starts ${hexHead(bytes)}, gzip starts 1f 8b)`);
  // Read chunk by chunk: the stream's own error is browser plumbing ("Failed to fetch",
  // "unexpected end of file"); what the user needs is how far the data went.
  const reader = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip')).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.length;
    }
  } catch {
    throw new Error(
      `${name}: gzip data is corrupt or truncated (${bytes.length.toLocaleString('en-US')} bytes; ${total.toLocaleString('en-US')} bytes inflated before the error). ` +
        `The file is damaged or incomplete: download it again, or use the uncompressed file.`,
    );
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export const isGzip = (b: Uint8Array): boolean => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
export const isTar = (b: Uint8Array): boolean => b.length >= 512 && ascii(b, 257, 5) === 'ustar';

export function hexHead(b: Uint8Array, n = 8): string {
  const hex = Array.from(b.subarray(0, n), (v) => v.toString(16).padStart(2, '0')).join(' ');
  return b.length === 0 ? '(empty)' : b.length > n ? `${hex} …` : hex;
}

const baseName = (p: string) => p.slice(p.lastIndexOf('/') + 1);

/** Expands gzip and tar layers (nested too) into plain files; names lose '.gz' and keep their tar path. */
export async function unpackFiles(files: NamedBytes[]): Promise<NamedBytes[]> {
  const out: NamedBytes[] = [];
  for (const f of files) {
    if (isGzip(f.bytes)) {
      const inner = await gunzip(f.bytes, f.name);
      out.push(...(await unpackFiles([{ name: f.name.replace(/\.t?gz$/i, (m) => (m.toLowerCase() === '.tgz' ? '.tar' : '')), bytes: inner }])));
    } else if (isTar(f.bytes)) {
      out.push(...(await unpackFiles(parseTar(f.bytes))));
    } else {
      out.push(f);
    }
  }
  return out;
}

export type Split = 'train' | 'test' | 'all';

/**
 * Builds a Dataset from CIFAR-10 files already unpacked: data_batch_*.bin are the training split,
 * test_batch.bin the test split, any other .bin counts as training; batches.meta.txt gives class names.
 * If the asked-for split is absent, whatever .bin files exist are used.
 */
export function cifarFromFiles(files: NamedBytes[], split: Split = 'train', name = 'cifar10'): Dataset {
  const bins = files.filter((f) => f.name.toLowerCase().endsWith('.bin')).sort((a, b) => a.name.localeCompare(b.name));
  if (bins.length === 0) {
    const names = files.map((f) => f.name).join(', ') || 'none';
    throw new Error(`CIFAR-10: no .bin batch files found (files: ${names})`);
  }
  const meta = files.find((f) => baseName(f.name) === 'batches.meta.txt');
  let classNames = CIFAR10_CLASSES;
  if (meta) {
    const lines = new TextDecoder().decode(meta.bytes).split(/\r?\n/).map((s) => s.trim()).filter((s) => s !== '');
    if (lines.length === 10) classNames = lines;
  }
  const isTest = (f: NamedBytes) => /test_batch/i.test(baseName(f.name));
  let chosen = split === 'all' ? bins : bins.filter((f) => (split === 'test') === isTest(f));
  if (chosen.length === 0) chosen = bins;
  const parts = chosen.map((f) => parseCifarBin(f.bytes, f.name, classNames));
  return concatDatasets(parts, name);
}

/**
 * CIFAR-10 as downloaded: cifar-10-binary.tar.gz, the .tar inside it, or a bare .bin, detected by
 * magic bytes (gzip 1f 8b; 'ustar' at byte 257; otherwise records of 3073 bytes).
 */
export async function loadCifarArchive(bytes: Uint8Array, opts: { split?: Split; name?: string } = {}): Promise<Dataset> {
  const name = opts.name ?? 'cifar10';
  if (!isGzip(bytes) && !isTar(bytes) && (bytes.length === 0 || bytes.length % CIFAR_RECORD !== 0)) {
    throw new Error(
      `${name}: not a CIFAR-10 archive: ${bytes.length} bytes starting ${hexHead(bytes)}; expected gzip (1f 8b), ` +
        `a tar ('ustar' at byte 257) or a .bin of 3073-byte records (${bytes.length} is not a multiple of 3073)`,
    );
  }
  const files = await unpackFiles([{ name: isGzip(bytes) || isTar(bytes) ? `${name}.archive` : `${name}.bin`, bytes }]);
  return cifarFromFiles(files, opts.split ?? 'train', name);
}
