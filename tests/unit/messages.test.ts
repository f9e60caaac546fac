// Error messages about the user's files: the file is named once, the message says what is wrong and
// what to do, and no browser plumbing text ("Failed to fetch", zlib's wording) leaks through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { fileError } from '../../src/util/errors';
import { loadCheckpoint, saveCheckpoint, CHECKPOINT_TODO } from '../../src/train/checkpoint';
import { gunzip, loadDatasetFromFiles } from '../../src/data/index';
import { PRESETS } from '../../src/model/config';
import { paramTable } from '../../src/model/params';

const count = (s: string, sub: string) => s.split(sub).length - 1;

test('fileError names the file once and adds what to do once', () => {
  assert.equal(fileError('x.safetensors', new Error('x.safetensors: bad header'), 'Do this.').message, 'x.safetensors: bad header. Do this.');
  assert.equal(fileError('runs/a/x.safetensors', new Error('x.safetensors: x.safetensors: bad')).message, 'runs/a/x.safetensors: bad');
  assert.equal(fileError('x.bin', new Error('bad; Do this.'), 'Do this.').message, 'x.bin: bad; Do this.');
  assert.equal(fileError('x.bin', 'plain string').message, 'x.bin: plain string');
});

test('a checkpoint that is not one: the name once, what is wrong, what to do', () => {
  const garbage = new Uint8Array(300).map((_, i) => (i * 37 + 11) % 256);
  const e = (() => {
    try {
      loadCheckpoint(garbage, undefined, 'x.safetensors');
    } catch (err) {
      return (err as Error).message;
    }
    return '';
  })();
  assert.equal(count(e, 'x.safetensors:'), 1, e);
  assert.ok(e.startsWith('x.safetensors: '), e);
  assert.match(e, /header length \d+ is over/);
  assert.ok(e.endsWith(CHECKPOINT_TODO), e);
  // A flipped byte: the checksum names the damage.
  const model = PRESETS.tiny.config;
  const ok = saveCheckpoint({ model, run: {}, step: 1, params: new Float32Array(paramTable(model).total) });
  ok[ok.length - 5] ^= 1;
  assert.throws(() => loadCheckpoint(ok, undefined, 'runs/a/ck.safetensors'), (err: Error) => {
    assert.match(err.message, /^runs\/a\/ck\.safetensors: checksum mismatch: .*\. Choose a \.safetensors checkpoint/);
    assert.equal(count(err.message, 'ck.safetensors'), 1, err.message);
    return true;
  });
});

test('a truncated .gz says how far it inflated and what to do, in words of ours', async () => {
  const data = new Uint8Array(200_000).map((_, i) => (i * 13) % 251);
  const gz = new Uint8Array(gzipSync(data));
  const cut = gz.subarray(0, Math.floor(gz.length / 2));
  await assert.rejects(gunzip(cut, 'train-images-idx3-ubyte.gz'), (err: Error) => {
    assert.match(err.message, /^train-images-idx3-ubyte\.gz: gzip data is corrupt or truncated \([\d,]+ bytes; [\d,]+ bytes inflated before the error\)\. .*download it again/);
    assert.doesNotMatch(err.message, /fetch|unexpected end|TypeError/i);
    assert.equal(count(err.message, 'train-images-idx3-ubyte.gz'), 1);
    return true;
  });
  assert.deepEqual(await gunzip(gz, 'whole.gz'), data);
});

test('an IDX images file alone: named once, and told to give the labels file with it', async () => {
  const head = new Uint8Array(16);
  new DataView(head.buffer).setUint32(0, 0x803);
  new DataView(head.buffer).setUint32(4, 1);
  new DataView(head.buffer).setUint32(8, 2);
  new DataView(head.buffer).setUint32(12, 2);
  const img = new Uint8Array([...head, 1, 2, 3, 4]);
  await assert.rejects(loadDatasetFromFiles([{ name: 'train-images-idx3-ubyte', bytes: img }]), (err: Error) => {
    assert.match(err.message, /^train-images-idx3-ubyte: IDX images without a labels file; give the images and labels files together \(drop both .*folder/);
    return true;
  });
});
