// Loss over steps for every run: total, L_FM and L_CM on a log axis, TensorBoard-style smoothing,
// a black long-dashed line (and legend entry) where a run collapsed. Zoom survives updates (uirevision).

import type { PlotData } from 'plotly.js-cartesian-dist-min';
import { baseLayout, emptyNote, LivePlot, logAxis, type PlotSpec } from '../widgets/LivePlot';
import { decimate, seriesOf, smooth } from '../state/metrics';
import { LOSS_NOTE } from '../widgets/teach';
import { positiveRange } from '../widgets/ticks';
import { useStore, type RunView } from '../state/store';

const MAX_POINTS = 1500;

/**
 * How a collapse and a rollback are drawn: near-black long dashes and grey dash-dots, styles no run
 * has (run colours are mid-tone hues without red, state/store.ts PALETTE; runs draw solid, dashed
 * and dotted lines, never these two), each with its legend entry.
 */
export const MARKS = {
  collapse: { color: '#111827', dash: 'longdash', width: 2.5, name: 'collapse (non-finite step)' },
  rollback: { color: '#6b7280', dash: 'dashdot', width: 2, name: 'rolled back (non-finite step)' },
} as const;

/** Vertical lines where runs collapsed or rolled back, their labels, and legend entries for them. */
export function collapseMarks(runs: RunView[]) {
  const marked = runs.filter((r) => r.collapse);
  const rolled = runs.flatMap((r) => r.rollbacks);
  const line = (x: number, m: (typeof MARKS)[keyof typeof MARKS]) => ({ type: 'line', xref: 'x', yref: 'paper', x0: x, x1: x, y0: 0, y1: 1, line: { color: m.color, width: m.width, dash: m.dash } });
  // A trace with no points draws nothing but its legend entry.
  const legend = (m: (typeof MARKS)[keyof typeof MARKS]): PlotData =>
    ({ type: 'scatter', mode: 'lines', x: [null], y: [null], name: m.name, showlegend: true, hoverinfo: 'skip', line: { color: m.color, dash: m.dash, width: m.width } }) as unknown as PlotData;
  return {
    shapes: [...marked.map((r) => line(r.collapse!.step, MARKS.collapse)), ...rolled.map((b) => line(b.step, MARKS.rollback))],
    annotations: marked.map((r) => ({
      x: r.collapse!.step,
      y: 1,
      xref: 'x',
      yref: 'paper',
      yanchor: 'top',
      xanchor: 'right',
      showarrow: false,
      text: `✕ ${r.name}: ${r.collapse!.quantity} non-finite @ ${r.collapse!.step}`,
      font: { color: MARKS.collapse.color, size: 10 },
      bgcolor: 'rgba(255,255,255,0.85)',
    })),
    legend: [...(marked.length ? [legend(MARKS.collapse)] : []), ...(rolled.length ? [legend(MARKS.rollback)] : [])],
  };
}

function buildLoss(runs: RunView[], w: number, show: { total: boolean; fm: boolean; cm: boolean }): PlotSpec {
  const data: PlotData[] = [];
  let points = 0;
  const parts = [
    ['loss', 'total', 'solid', show.total],
    ['lossFM', 'L_FM', 'dash', show.fm],
    ['lossCM', 'L_CM', 'dot', show.cm],
  ] as const;
  const many = runs.length > 1;
  for (const r of runs) {
    const s = seriesOf(r.id);
    if (s.n === 0) continue;
    const idx = decimate(s.n, MAX_POINTS);
    const steps = s.steps();
    let first = true;
    for (const [k, label, dash, on] of parts) {
      if (!on) continue;
      const y = smooth(s.get(k), w);
      if (!y.some((v) => Number.isFinite(v) && v > 0)) continue;
      data.push({
        type: 'scatter',
        mode: 'lines',
        // Several runs: one legend entry per run (its colour; the dash tells the component).
        name: many ? r.name : label,
        showlegend: !many || first,
        legendgroup: many ? r.id : k,
        x: idx.map((i) => steps[i]),
        y: idx.map((i) => (Number.isFinite(y[i]) && y[i] > 0 ? y[i] : null)),
        line: { color: r.color, dash, width: k === 'loss' ? 2 : 1.5 },
        hovertemplate: `${r.name} ${label}: %{y:.4g} @ %{x}<extra></extra>`,
      });
      points += idx.length;
      first = false;
    }
  }
  const { legend, ...marks } = collapseMarks(runs);
  if (data.length === 0) marks.annotations.push(emptyNote('no steps yet: press Train') as (typeof marks.annotations)[number]);
  const range = positiveRange(data.map((d) => d.y as (number | null)[]));
  return { data: data.length ? [...data, ...legend] : data, points, layout: baseLayout({ yaxis: logAxis('loss (log)', range), ...marks }) };
}

export function LossPanel() {
  const runs = useStore((s) => s.runs);
  const w = useStore((s) => s.smoothing);
  const show = useStore((s) => s.show);
  return (
    <section className="panel" data-testid="loss-panel">
      <div className="panel-main">
        <header className="panel-head">
          <h3>Loss</h3>
          {runs.length > 1 && <span className="muted">solid total · dashed L_FM · dotted L_CM</span>}
          <div className="toolbar">
            {(['total', 'fm', 'cm'] as const).map((k) => (
              <label key={k} className="check">
                <input type="checkbox" checked={show[k]} onChange={(e) => useStore.setState({ show: { ...show, [k]: e.target.checked } })} />
                {k === 'total' ? 'total' : k === 'fm' ? 'L_FM' : 'L_CM'}
              </label>
            ))}
            <label className="slider">
              smoothing
              <input type="range" min={0} max={0.99} step={0.01} value={w} data-testid="smoothing" onChange={(e) => useStore.setState({ smoothing: Number(e.target.value) })} />
              <span className="num">{w.toFixed(2)}</span>
            </label>
          </div>
        </header>
        <LivePlot testId="loss-plot" height={300} build={() => buildLoss(runs, w, show)} deps={[runs, w, show]} />
      </div>
      {LOSS_NOTE}
    </section>
  );
}
