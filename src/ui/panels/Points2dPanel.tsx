// The 2-D panels of a run on a point set: samples over the data, trajectories from 32 fixed noise
// points (integrating vs jumping), the fields at a time slider t (v, F and the residual g with the
// clamped region), and x_t. Every run side by side in a strip of small scatters below.

import { useEffect, useRef, type ReactNode } from 'react';
import { download } from '../persistence/exporters';
import { Teach } from '../widgets/teach';
import { focused, useStore } from '../state/store';
import { updateConfig } from '../state/actions';
import type { Points2d, SampleSet } from '../../worker/protocol';

const EXTENT = 3; // the view: [−3, 3]² (the data has unit variance per coordinate)
const COLORS = { data: '#b0b0b0', one: '#1f77b4', two: '#ff7f0e', euler: '#2ca02c', xt: '#9467bd' };

type Draw = (ctx: CanvasRenderingContext2D, px: (x: number, y: number) => [number, number], size: number) => void;

/** A square canvas over [−EXTENT, EXTENT]², y up; `draw` paints it; ⤓ saves it as a PNG. */
function PlaneCanvas({ draw, size, testId, label, deps, file }: { draw: Draw; size: number; testId: string; label: string; deps: unknown[]; file: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = ref.current;
    const ctx = c?.getContext('2d');
    if (!c || !ctx) return;
    c.width = size;
    c.height = size;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, size, size);
    ctx.strokeStyle = '#eee';
    ctx.beginPath();
    ctx.moveTo(size / 2, 0);
    ctx.lineTo(size / 2, size);
    ctx.moveTo(0, size / 2);
    ctx.lineTo(size, size / 2);
    ctx.stroke();
    const px = (x: number, y: number): [number, number] => [((x + EXTENT) / (2 * EXTENT)) * size, ((EXTENT - y) / (2 * EXTENT)) * size];
    draw(ctx, px, size);
    c.dataset.drawn = String(Number(c.dataset.drawn ?? 0) + 1);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  const save = () => ref.current?.toBlob((b) => b && b.arrayBuffer().then((a) => download(file, new Uint8Array(a), 'image/png')));
  return (
    <figure className="grid">
      <canvas ref={ref} data-testid={testId} style={{ width: size, height: size }} aria-label={label} />
      <figcaption>
        {label}{' '}
        <button className="tiny" onClick={save} title="save this panel as a PNG">
          ⤓
        </button>
      </figcaption>
    </figure>
  );
}

function dots(ctx: CanvasRenderingContext2D, px: (x: number, y: number) => [number, number], pts: Float32Array, color: string, r = 1.6, alpha = 0.55) {
  ctx.fillStyle = color;
  ctx.globalAlpha = alpha;
  for (let i = 0; i < pts.length; i += 2) {
    if (!Number.isFinite(pts[i]) || !Number.isFinite(pts[i + 1])) continue;
    const [x, y] = px(pts[i], pts[i + 1]);
    ctx.fillRect(x - r, y - r, 2 * r, 2 * r);
  }
  ctx.globalAlpha = 1;
}

function arrow(ctx: CanvasRenderingContext2D, x0: number, y0: number, x1: number, y1: number, head = 4) {
  ctx.beginPath();
  ctx.moveTo(x0, y0);
  ctx.lineTo(x1, y1);
  const a = Math.atan2(y1 - y0, x1 - x0);
  const len = Math.hypot(x1 - x0, y1 - y0);
  if (len > 2 * head) {
    ctx.moveTo(x1, y1);
    ctx.lineTo(x1 - head * Math.cos(a - 0.4), y1 - head * Math.sin(a - 0.4));
    ctx.moveTo(x1, y1);
    ctx.lineTo(x1 - head * Math.cos(a + 0.4), y1 - head * Math.sin(a + 0.4));
  }
  ctx.stroke();
}

/** Quiver of a field on the grid: arrows scaled so the longest spans about one grid cell. */
function quiver(ctx: CanvasRenderingContext2D, px: (x: number, y: number) => [number, number], pts: Float32Array, vec: Float32Array, color: string, cell: number) {
  let max = 1e-9;
  for (let i = 0; i < vec.length; i += 2) max = Math.max(max, Math.hypot(vec[i], vec[i + 1]));
  const k = (0.9 * cell) / max;
  ctx.strokeStyle = color;
  ctx.lineWidth = 1;
  for (let i = 0; i < pts.length; i += 2) {
    const [x0, y0] = px(pts[i], pts[i + 1]);
    arrow(ctx, x0, y0, x0 + k * vec[i], y0 - k * vec[i + 1], 3);
  }
}

export function Points2dView({ s, size, fieldT }: { s: SampleSet & { points2d: Points2d }; size: number; fieldT: number }) {
  const p = s.points2d;
  const f = p.fields;
  const key = [s, size];
  const samples: Draw = (ctx, px) => {
    dots(ctx, px, p.data, COLORS.data, 1.4, 0.7);
    if (s.euler) dots(ctx, px, s.euler.pixels, COLORS.euler, 1.3, 0.45);
    dots(ctx, px, s.twoStep.pixels, COLORS.two, 1.3, 0.45);
    dots(ctx, px, s.oneStep.pixels, COLORS.one, 1.3, 0.55);
  };
  const traj: Draw = (ctx, px) => {
    dots(ctx, px, p.data, COLORS.data, 1.2, 0.35);
    const tr = p.trajectories;
    const n = tr.z.length / 2;
    // Euler paths of the FM branch (green polylines), the one-step jumps (blue arrows), NFE 2 (orange: jump, re-noise, jump).
    ctx.lineWidth = 1;
    ctx.strokeStyle = COLORS.euler;
    for (let i = 0; i < n; i++) {
      ctx.beginPath();
      for (let k = 0; k <= tr.eulerSteps; k++) {
        const [x, y] = px(tr.euler[k * 2 * n + 2 * i], tr.euler[k * 2 * n + 2 * i + 1]);
        if (k === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      }
      ctx.stroke();
    }
    for (let i = 0; i < n; i++) {
      const [x0, y0] = px(tr.z[2 * i], tr.z[2 * i + 1]);
      const [x1, y1] = px(tr.jump[2 * i], tr.jump[2 * i + 1]);
      ctx.strokeStyle = COLORS.one;
      arrow(ctx, x0, y0, x1, y1, 5);
      const [xm, ym] = px(tr.nfe2.mid[2 * i], tr.nfe2.mid[2 * i + 1]);
      const [x2, y2] = px(tr.nfe2.end2[2 * i], tr.nfe2.end2[2 * i + 1]);
      ctx.strokeStyle = COLORS.two;
      ctx.setLineDash([3, 3]);
      arrow(ctx, x1, y1, xm, ym, 0);
      ctx.setLineDash([]);
      arrow(ctx, xm, ym, x2, y2, 4);
    }
    dots(ctx, px, tr.z, '#000', 2, 1);
  };
  const cell = ((2 * f.extent) / (f.size - 1)) * (size / (2 * EXTENT)); // one grid step in pixels
  const field = (which: 'v' | 'F'): Draw => (ctx, px) => {
    dots(ctx, px, p.data, COLORS.data, 1.2, 0.3);
    quiver(ctx, px, f.points, f[which], which === 'v' ? COLORS.euler : COLORS.one, cell);
  };
  const residual: Draw = (ctx, px) => {
    // |g| as coloured squares (white 0 → red 1); the clamped region |g| > 1 outlined in black.
    const half = cell / 2;
    for (let k = 0; k < f.gMax.length; k++) {
      const [x, y] = px(f.points[2 * k], f.points[2 * k + 1]);
      const a = Math.min(1, f.gMax[k]);
      ctx.fillStyle = `rgba(214, 39, 40, ${a.toFixed(3)})`;
      ctx.fillRect(x - half, y - half, cell, cell);
      if (f.gMax[k] > 1) {
        ctx.strokeStyle = '#000';
        ctx.lineWidth = 1.5;
        ctx.strokeRect(x - half + 1, y - half + 1, cell - 2, cell - 2);
      }
    }
    dots(ctx, px, p.data, COLORS.data, 1, 0.4);
  };
  const xt: Draw = (ctx, px) => {
    dots(ctx, px, p.data, COLORS.data, 1.2, 0.4);
    dots(ctx, px, p.xt, COLORS.xt, 1.4, 0.6);
  };
  const clamped = f.gMax.reduce((a, g) => a + (g > 1 ? 1 : 0), 0) / f.gMax.length;
  const file = (what: string) => `facm-2d-${what}-step${s.step}.png`;
  return (
    <>
      <div className="grids">
        <PlaneCanvas draw={samples} size={size} testId="points-samples" label="samples: NFE 1 · NFE 2 · Euler over data" deps={key} file={file('samples')} />
        <PlaneCanvas draw={traj} size={size} testId="points-trajectories" label="paths from 32 noise points" deps={key} file={file('paths')} />
      </div>
      <div className="toolbar">
        <label className="inline">
          t = <b data-testid="field-t">{fieldT.toFixed(2)}</b>
          <input type="range" min={0} max={1} step={0.05} value={fieldT} data-testid="cfg-fieldT" onChange={(e) => updateConfig('fieldT', Number(e.target.value))} />
        </label>
        <span className="muted" data-testid="fields-at">
          fields at t = {f.t.toFixed(2)}; |g| &gt; 1 (clamped) on {(100 * clamped).toFixed(0)} % of the grid
        </span>
      </div>
      <div className="grids">
        <PlaneCanvas draw={field('v')} size={size} testId="points-field-v" label={`v(x, t): FM branch, c = 2 − t${p.anchor ? '' : ' (untrained: no anchor)'}`} deps={key} file={file('v')} />
        <PlaneCanvas draw={field('F')} size={size} testId="points-field-F" label="F(x, t): average velocity to t = 1, c = t" deps={key} file={file('F')} />
        <PlaneCanvas draw={residual} size={size} testId="points-field-g" label="residual |g| (outlined: clamped, |g| > 1)" deps={key} file={file('residual')} />
        <PlaneCanvas draw={xt} size={size} testId="points-xt" label="x_t = t·x + (1 − t)·ε" deps={key} file={file('xt')} />
      </div>
    </>
  );
}

const legend = (c: string, what: ReactNode) => (
  <span style={{ marginRight: 10 }}>
    <span style={{ color: c }}>■</span> {what}
  </span>
);

export function Points2dPanel() {
  const run = useStore(focused);
  const runs = useStore((st) => st.runs);
  if (!run) return null;
  const s = run.samples;
  const d = (x: number | null) => (x === null ? '—' : Number.isFinite(x) ? x.toFixed(3) : '∞');
  return (
    <section className="panel" data-testid="points-panel">
      <div className="panel-main">
        <header className="panel-head">
          <h3>2-D: samples, paths and fields</h3>
          <span className="muted" data-testid="points-step">
            <b style={{ color: run.color }}>{run.name}</b> {s ? `at step ${s.step}, ${s.weights} weights` : run.state === 'idle' ? '— press Train' : '— sampling…'}
          </span>
        </header>
        <p className="muted">
          {legend(COLORS.data, 'data')}
          {legend(COLORS.one, 'NFE 1 / jump')}
          {legend(COLORS.two, 'NFE 2')}
          {legend(COLORS.euler, 'Euler (FM branch)')}
          {legend(COLORS.xt, 'x_t')}
        </p>
        {s?.points2d ? <Points2dView s={s as SampleSet & { points2d: Points2d }} size={220} fieldT={run.config.fieldT} /> : <div className="grid-empty">waiting…</div>}
        {s?.points2d && (
          <p className="muted nearest" data-testid="points-distance">
            sliced W2 to the data: NFE 1 <b>{d(s.nearest.oneStep)}</b> ({s.points2d.covered.oneStep}/{s.points2d.classes} modes) · NFE 2 <b>{d(s.nearest.twoStep)}</b> ({s.points2d.covered.twoStep}/{s.points2d.classes})
            {s.nearest.euler !== null && (
              <>
                {' '}
                · Euler <b>{d(s.nearest.euler)}</b> ({s.points2d.covered.euler}/{s.points2d.classes})
              </>
            )}{' '}
            — held-out data {d(s.nearest.real)}, the input noise {d(s.nearest.noise)}
          </p>
        )}
        {runs.length > 1 && (
          <>
            <h5 className="sub">NFE-1 samples of every run (same noise)</h5>
            <div className="grids small">
              {runs.map((r) =>
                r.samples?.points2d ? (
                  <PlaneCanvas
                    key={r.id}
                    size={120}
                    testId={`points-strip-${r.id}`}
                    label={`${r.name} · ${r.samples.step} · ${d(r.samples.nearest.oneStep)}`}
                    deps={[r.samples]}
                    file={`facm-2d-${r.name}-step${r.samples.step}.png`}
                    draw={(ctx, px) => {
                      dots(ctx, px, r.samples!.points2d!.data, COLORS.data, 1, 0.5);
                      dots(ctx, px, r.samples!.oneStep.pixels, COLORS.one, 1, 0.6);
                    }}
                  />
                ) : (
                  <div key={r.id} className="grid-empty" style={{ width: 120, height: 120 }}>
                    {r.name}
                  </div>
                ),
              )}
            </div>
          </>
        )}
      </div>
      {POINTS_NOTE}
    </section>
  );
}

export const POINTS_NOTE = (
  <Teach title="Reading the 2-D panels">
    <p>
      Each point is one sample; grey is the data. <b>Blue</b> points took <b>one</b> network call (z + F(z, 0)), <b>orange</b> two,
      <b> green</b> sixteen Euler steps of the FM anchor. A model that learned puts blue on the grey modes, not between them.
    </p>
    <p>
      <b>Paths</b>: from the same 32 black noise points, the green curves integrate the FM velocity step by step; the blue arrows
      are the consistency model&apos;s single jumps. Where the arrows land at the curves&apos; ends, the shortcut learned the flow.
      Orange: jump, re-noise halfway (dashed), jump again.
    </p>
    <p>
      <b>Fields</b> at the slider&apos;s t: v is the instantaneous velocity (FM branch, c = 2 − t), F the average velocity from t to
      the data (CM branch, c = t). The residual <code>g = F − (v + (1−t)·dF/dt)</code> uses the model&apos;s own JVP: red where
      F disagrees with its own flow, outlined where |g| &gt; 1 and FACM&apos;s clamp caps the target&apos;s step. x_t is what the model
      is fed at that t.
    </p>
    <p>
      <b>A collapse</b> shows as blue points that stay a Gaussian blob, shrink onto a curve or a few points, or drift off the data
      while the loss keeps falling; the distance then stays at the noise&apos;s figure. Sliced W2 compares whole distributions
      (a model covering one of eight modes scores badly even if every point sits on data).
    </p>
  </Teach>
);
