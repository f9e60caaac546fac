// `dump` writes what the trainer's step computed: every output comes from the same runStep the
// Trainer runs. With the auxiliary interval the FM anchor sits at c = t with the flag r = 1; the
// dumped F_fm must be the model at those conditions (an earlier dump recomputed it at c = 2 − t,
// r = 0 and wrote a wrong F_fm). Checked against the f64 reference DiT on the dumped parameters.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors } from '../../src/train/safetensors';
import { cpuBackend } from '../../src/ops/backend';
import { DiT } from '../../src/model/dit';
import { paramTable } from '../../src/model/params';
import type { DiTConfig } from '../../src/model/config';
import { cpuParams } from '../helpers/model';
import { expectClose } from '../helpers/close';

const dir = mkdtempSync(join(tmpdir(), 'facm-dump-'));
after(() => rmSync(dir, { recursive: true, force: true }));

for (const interval of ['aux', 'extended'] as const) {
  test(`dump --interval ${interval}: F_fm, F_cm and dF/dt are the model at the conditions the step used`, async () => {
    const out = join(dir, `${interval}.safetensors`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', './scripts/wgsl-loader.mjs', 'src/cli/main.ts', 'dump', '--interval', interval, '--batch', '3', '--seed', '2', '--out', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const f = readSafetensors(new Uint8Array(readFileSync(out)));
    const cfg = JSON.parse(f.metadata.config) as DiTConfig;
    assert.equal(cfg.useR, interval === 'aux');
    const get = (n: string) => {
      const t = f.tensors.get(n);
      assert.ok(t, `dump has ${n}`);
      return t!.data;
    };
    const t = get('in.t');
    const B = t.length;
    // The anchor's conditions: c = t with the flag r = 1 (aux), c = 2 − t (extended).
    expectClose('in.c_fm', get('in.c_fm'), interval === 'aux' ? t : t.map((x) => 2 - x), { atol: 0 });
    if (interval === 'aux') expectClose('in.r_fm', get('in.r_fm'), new Float32Array(B).fill(1), { atol: 0 });
    else assert.equal(f.tensors.has('in.r_fm'), false);
    const table = paramTable(cfg);
    const flat = new Float32Array(table.total);
    for (const s of table.specs) flat.set(get(s.name), s.offset);
    const be = cpuBackend();
    const dit = new DiT(be, cfg, table);
    const { P } = cpuParams(table, flat);
    const x = get('in.x');
    const eps = get('in.eps');
    const N = x.length / B;
    const xt = Float64Array.from(x, (xi, i) => t[Math.floor(i / N)] * xi + (1 - t[Math.floor(i / N)]) * eps[i]);
    const y = f.tensors.has('in.y') ? Float64Array.from(get('in.y')) : null;
    const cond = (n: string) => (f.tensors.has(n) ? Float64Array.from(get(n)) : null);
    const Ffm = dit.forward(P, { x: xt, c: Float64Array.from(get('in.c_fm')), y, r: cond('in.r_fm') }, B);
    expectClose('out.F_fm', get('out.F_fm'), Ffm, { atol: 2e-4, rtol: 2e-3 });
    const cm = dit.run(P, { x: xt, c: Float64Array.from(get('in.c_cm')), y, r: cond('in.r_cm') }, B, { tX: Float64Array.from(get('in.v')), tC: new Float64Array(B).fill(1), tR: cfg.useR ? new Float64Array(B) : null }, false);
    expectClose('out.F_cm', get('out.F_cm'), cm.F, { atol: 2e-4, rtol: 2e-3 });
    expectClose('out.dFdt', get('out.dFdt'), cm.tF!, { atol: 5e-4, rtol: 5e-3 });
  });
}
