// FD over steps for every run (NFE 1 solid, NFE 2 dashed, the FM branch's Euler-N dotted), next to
// the runs table's FD column: the quality meter's measurements, every `qualityEvery` steps.

import type { PlotData } from 'plotly.js-cartesian-dist-min';
import { baseLayout, emptyNote, LivePlot, logAxis, type PlotSpec } from '../widgets/LivePlot';
import { QUALITY_NOTE } from '../widgets/teach';
import { positiveRange } from '../widgets/ticks';
import { useStore, type RunView } from '../state/store';
import { fdOverSteps } from '../state/qualityPlots';

const DASH: Record<string, string> = { 'NFE 1': 'solid', 'NFE 2': 'dash' };

function buildFd(runs: RunView[]): PlotSpec {
  const data: PlotData[] = [];
  let points = 0;
  const many = runs.length > 1;
  for (const r of runs) {
    for (const l of fdOverSteps(r.qualityHistory)) {
      data.push({
        type: 'scatter',
        mode: 'lines+markers',
        name: many ? `${r.name} · ${l.name}` : l.name,
        x: l.x,
        y: l.y,
        line: { color: r.color, dash: DASH[l.name] ?? 'dot', width: l.name === 'NFE 1' ? 2 : 1.5 },
        marker: { size: 5 },
        hovertemplate: `${r.name} ${l.name}: FD %{y:.3g} @ %{x}<extra></extra>`,
      } as PlotData);
      points += l.x.length;
    }
  }
  const real = runs.map((r) => r.quality?.real.fd).find((x) => x !== undefined && Number.isFinite(x));
  const shapes = real !== undefined && data.length ? [{ type: 'line', xref: 'paper', x0: 0, x1: 1, y0: real, y1: real, line: { color: '#94a3b8', dash: 'dot', width: 1.5 } }] : [];
  const range = positiveRange([...data.map((d) => d.y as number[]), ...(real !== undefined ? [[real]] : [])]);
  const annotations = data.length ? [] : [emptyNote('no quality figures yet: FD is measured every “quality every” steps')];
  return { data, points, layout: baseLayout({ yaxis: logAxis('FD (log)', range), shapes, annotations } as Parameters<typeof baseLayout>[0]) };
}

export function QualityPanel() {
  const runs = useStore((s) => s.runs);
  const every = useStore((s) => s.runs[0]?.config.qualityEvery ?? 0);
  return (
    <section className="panel" data-testid="quality-panel">
      <div className="panel-main">
        <header className="panel-head">
          <h3>FD over steps</h3>
          <span className="muted">{every > 0 ? `every ${every} steps · solid NFE 1 · dashed NFE 2 · dotted Euler (anchor) · grey: held-out real` : 'quality every is 0: not measured'}</span>
        </header>
        <LivePlot testId="fd-plot" height={240} build={() => buildFd(runs)} deps={[runs]} />
      </div>
      {QUALITY_NOTE}
    </section>
  );
}
