// Residual clamping: the fraction of residual elements clamped (every run), the RMS of g against the
// RMS of v and of (1−t)·dF/dt (focused run), and the clamped fraction binned by t over steps.

import type { PlotData } from 'plotly.js-dist-min';
import { baseLayout, emptyNote, LivePlot, logAxis, type PlotSpec } from '../widgets/LivePlot';
import { decimate, seriesOf, smooth } from '../state/metrics';
import { CLAMP_NOTE } from '../widgets/teach';
import { focused, useStore, type RunView } from '../state/store';
import { T_BINS } from '../../worker/protocol';
import { collapseMarks } from './LossPanel';

const MAX_POINTS = 1200;
const COLUMNS = 48;

function buildClamp(runs: RunView[], w: number): PlotSpec {
  const data: PlotData[] = [];
  let points = 0;
  for (const r of runs) {
    const s = seriesOf(r.id);
    if (s.n === 0 || !s.get('clampFrac').some(Number.isFinite)) continue;
    const idx = decimate(s.n, MAX_POINTS);
    const y = smooth(s.get('clampFrac'), w);
    const st = s.steps();
    data.push({ type: 'scatter', mode: 'lines', name: r.name, x: idx.map((i) => st[i]), y: idx.map((i) => (Number.isFinite(y[i]) ? y[i] : null)), line: { color: r.color, width: 2 } });
    points += idx.length;
  }
  const marks = collapseMarks(runs);
  if (data.length === 0) marks.annotations.push(emptyNote('no residual yet') as (typeof marks.annotations)[number]);
  // Runs keep their colours from the runs table: no legend to crowd a third of a panel.
  return { data, points, layout: baseLayout({ showlegend: false, yaxis: { range: [0, 1], tickformat: '.0%', gridcolor: '#eef1f5', title: { text: '|g| > 1 (clamped)', standoff: 4 } }, ...marks }) };
}

function buildRms(run: RunView | undefined, w: number): PlotSpec {
  const data: PlotData[] = [];
  let points = 0;
  if (run) {
    const s = seriesOf(run.id);
    const st = s.steps();
    const idx = decimate(s.n, MAX_POINTS);
    const parts = [
      ['rmsV', 'RMS v', '#16a34a', 'solid'],
      ['rmsKdFdt', 'RMS (1−t)·dF/dt', '#ea580c', 'solid'],
      ['rmsG', 'RMS g', '#2563eb', 'dot'],
    ] as const;
    for (const [k, name, color, dash] of parts) {
      const y = smooth(s.get(k), w);
      if (!y.some((v) => Number.isFinite(v) && v > 0)) continue;
      data.push({ type: 'scatter', mode: 'lines', name, x: idx.map((i) => st[i]), y: idx.map((i) => (Number.isFinite(y[i]) && y[i] > 0 ? y[i] : null)), line: { color, width: 2, dash } });
      points += idx.length;
    }
  }
  return { data, points, layout: baseLayout({ yaxis: logAxis(`RMS · ${run?.name ?? ''}`), annotations: data.length ? [] : [emptyNote('no residual yet')] }) };
}

function buildHeat(run: RunView | undefined): PlotSpec {
  if (!run) return { data: [], points: 0, layout: baseLayout() };
  const s = seriesOf(run.id);
  const n = s.n;
  const cols = n === 0 ? 0 : Math.min(COLUMNS, Math.max(1, Math.floor(n / 4))); // ≥ 4 steps a column: a few samples per cell
  const x: number[] = [];
  const z: (number | null)[][] = Array.from({ length: T_BINS }, () => []);
  const st = s.steps();
  let any = false;
  for (let c = 0; c < cols; c++) {
    const a = Math.floor((c * n) / cols);
    const b = Math.floor(((c + 1) * n) / cols);
    x.push(Math.round((st[a] + st[b - 1]) / 2));
    for (let j = 0; j < T_BINS; j++) {
      let cnt = 0;
      let cl = 0;
      for (let i = a; i < b; i++) {
        cnt += s.binCount[i * T_BINS + j];
        cl += s.binClamp[i * T_BINS + j];
      }
      const hasResidual = Number.isFinite(s.f.clampFrac[a]);
      z[j].push(cnt > 0 && hasResidual ? cl / cnt : null);
      if (cnt > 0 && hasResidual) any = true;
    }
  }
  const y = Array.from({ length: T_BINS }, (_, j) => (j + 0.5) / T_BINS);
  return {
    points: any ? cols * T_BINS : 0,
    data: any
      ? [{ type: 'heatmap', x, y, z, zmin: 0, zmax: 1, colorscale: 'YlOrRd', reversescale: true, colorbar: { thickness: 8, tickformat: '.0%', len: 0.9 }, hovertemplate: 't ≈ %{y:.2f}, step ≈ %{x}: %{z:.0%} clamped<extra></extra>' }]
      : [],
    layout: baseLayout({
      yaxis: { title: { text: 't (0 noise → 1 data)', standoff: 4 }, range: [0, 1], gridcolor: '#eef1f5' },
      annotations: any ? [] : [emptyNote(run.config.objective === 'fm' ? 'FM has no consistency residual' : 'clamped fraction by t: no data yet')],
    }),
  };
}

export function ClampPanel() {
  const runs = useStore((s) => s.runs);
  const run = useStore(focused);
  const w = useStore((s) => s.smoothing);
  return (
    <section className="panel" data-testid="clamp-panel">
      <div className="panel-main">
        <header className="panel-head">
          <h3>Residual clamping</h3>
          <span className="muted">clamped fraction (all runs) · RMS and t-bins for <b style={{ color: run?.color }}>{run?.name}</b></span>
        </header>
        <div className="plots3">
          <LivePlot testId="clamp-plot" height={240} build={() => buildClamp(runs, w)} deps={[runs, w]} />
          <LivePlot testId="rms-plot" height={240} build={() => buildRms(run, w)} deps={[run?.id, w]} />
          <LivePlot testId="heat-plot" height={240} build={() => buildHeat(run)} deps={[run?.id, run?.config.objective]} />
        </div>
      </div>
      {CLAMP_NOTE}
    </section>
  );
}
