// `npm run facm -- eval`, run as a user would: a one-channel run on the shipped fashion16 set and a
// built-in one, each printing FD / precision / recall for its samples, held-out real images and noise.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'facm-eval-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function facm(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', './scripts/wgsl-loader.mjs', 'src/cli/main.ts', ...args], { encoding: 'utf8', env: process.env });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** The FD, precision and recall of one row of eval's table. */
function row(out: string, what: RegExp): { fd: number; precision: number; recall: number } {
  const line = out.split('\n').find((l) => what.test(l));
  assert.ok(line, `no row ${what} in:\n${out}`);
  const m = /FD ([\d.]+|inf)\s+precision ([\d.]+)\s+recall ([\d.]+)/.exec(line!);
  assert.ok(m, line);
  return { fd: Number(m![1] === 'inf' ? Infinity : m![1]), precision: Number(m![2]), recall: Number(m![3]) };
}

test('eval: mnist-16 on the shipped fashion16 set (1 channel) and tiny on blobs8: samples, held-out real and noise rows', () => {
  for (const [preset, dataset] of [['mnist-16', null], ['tiny', 'blobs8']] as const) {
    const out = join(dir, preset);
    let r = facm('train', '--preset', preset, '--objective', 'fm', ...(dataset ? ['--dataset', dataset] : []), '--steps', '2', '--batch', '2', '--out', out, '--autosave-every', '0');
    assert.equal(r.code, 0, r.err);
    if (!dataset) assert.match(r.out, /model: mnist-16 1×16×16, .* data fashion16 \(6000 images\)/);
    const grid = join(dir, `${preset}.png`);
    r = facm('eval', '--ckpt', join(out, 'checkpoint.safetensors'), '--n', '64', '--euler', '2', '--grid', grid);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`${dataset ?? 'fashion16'}: FD / precision / recall \\(k = 3\\) in its feature space: PCA, 32 of ${dataset ? 192 : 256} pixels`));
    const samples = row(r.out, /samples \(Euler 2 steps \(FM branch\), online weights, step 2\)/);
    const real = row(r.out, /held-out real \(64 images\)/);
    const noise = row(r.out, /N\(0, 1\) noise/);
    assert.ok(real.fd * 5 < noise.fd && real.fd < samples.fd, `${preset}: samples ${samples.fd}, held-out ${real.fd}, noise ${noise.fd}`);
    assert.ok(real.recall > noise.recall, `${preset}: held-out recall ${real.recall} vs noise ${noise.recall}`);
    assert.match(r.out, /nearest .* image \(RMS per pixel, \d+ references\): samples [\d.]+, held-out real [\d.]+, input noise [\d.]+/);
    assert.ok(existsSync(grid));
  }
  const r = facm('eval');
  assert.equal(r.code, 2);
  assert.match(r.err, /error: eval needs --ckpt/);
});
