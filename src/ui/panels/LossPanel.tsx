// Loss over steps for every run: total, L_FM and L_CM on a log axis, TensorBoard-style smoothing,
// a red line where a run collapsed. Zoom survives updates (uirevision).

import type { PlotData } from 'plotly.js-dist-min';
import { baseLayout, emptyNote, LivePlot, logAxis, type PlotSpec } from '../widgets/LivePlot';
import { decimate, seriesOf, smooth } from '../state/metrics';
import { LOSS_NOTE } from '../widgets/teach';
import { useStore, type RunView } from '../state/store';

const MAX_POINTS = 1500;

/** Red lines where runs collapsed, orange ones where a non-finite step was rolled back. */
export function collapseMarks(runs: RunView[]) {
  const marked = runs.filter((r) => r.collapse);
  const line = (x: number, color: string) => ({ type: 'line', xref: 'x', yref: 'paper', x0: x, x1: x, y0: 0, y1: 1, line: { color, width: 2, dash: 'dot' } });
  return {
    shapes: [...marked.map((r) => line(r.collapse!.step, '#dc2626')), ...runs.flatMap((r) => r.rollbacks.map((b) => line(b.step, '#f59e0b')))],
    annotations: marked.map((r) => ({
      x: r.collapse!.step,
      y: 1,
      xref: 'x',
      yref: 'paper',
      yanchor: 'top',
      xanchor: 'right',
      showarrow: false,
      text: `${r.name}: ${r.collapse!.quantity} non-finite @ ${r.collapse!.step}`,
      font: { color: '#dc2626', size: 10 },
      bgcolor: 'rgba(255,255,255,0.8)',
    })),
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
  const marks = collapseMarks(runs);
  if (data.length === 0) marks.annotations.push(emptyNote('no steps yet: press Train') as (typeof marks.annotations)[number]);
  return { data, points, layout: baseLayout({ yaxis: logAxis('loss (log)'), ...marks }) };
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
