// A Plotly chart fed from the transient metric store: it redraws at most every REDRAW_MS, only when
// the metrics or its inputs changed, with Plotly.react and a constant uirevision so the user's
// zoom and legend clicks survive updates. Plotly loads lazily (its bundle is large).

import { useEffect, useRef } from 'react';
import type { Layout, PlotData } from 'plotly.js-dist-min';
import { metricsStore } from '../state/metrics';

type PlotlyModule = typeof import('plotly.js-dist-min').default;
let plotly: Promise<PlotlyModule> | null = null;
export const loadPlotly = (): Promise<PlotlyModule> => (plotly ??= import('plotly.js-dist-min').then((m) => m.default ?? (m as unknown as PlotlyModule)));

export interface PlotSpec {
  data: PlotData[];
  layout: Layout;
  /** Points drawn (exposed as data-points for tests). */
  points: number;
}

const REDRAW_MS = 400;

export const baseLayout = (extra: Layout = {}): Layout => ({
  uirevision: 'keep',
  margin: { l: 52, r: 12, t: 26, b: 36 },
  paper_bgcolor: 'rgba(0,0,0,0)',
  plot_bgcolor: 'rgba(0,0,0,0)',
  font: { family: 'system-ui, -apple-system, Segoe UI, sans-serif', size: 11, color: '#334155' },
  legend: { orientation: 'h', x: 0, y: 1, yanchor: 'bottom', font: { size: 10 }, bgcolor: 'rgba(0,0,0,0)' },
  xaxis: { title: { text: 'step', standoff: 4 }, gridcolor: '#eef1f5', zeroline: false },
  yaxis: { gridcolor: '#eef1f5', zeroline: false },
  ...extra,
});

/** A log y axis labelled 0.5, 0.2, 0.1 rather than 5, 2, 10⁻¹. */
export const logAxis = (title: string) => ({ type: 'log', gridcolor: '#eef1f5', title: { text: title, standoff: 4 }, tickformat: '.1~g' });

/** Shown on an empty plot. */
export const emptyNote = (text: string) => ({ text, xref: 'paper', yref: 'paper', x: 0.5, y: 0.5, showarrow: false, font: { color: '#94a3b8', size: 12 } });

export function LivePlot({ build, height, testId, deps }: { build: () => PlotSpec; height: number; testId: string; deps: unknown[] }) {
  const el = useRef<HTMLDivElement>(null);
  const buildRef = useRef(build);
  buildRef.current = build;
  const dirty = useRef(true);

  useEffect(() => {
    dirty.current = true;
  }, deps); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    let live = true;
    let P: PlotlyModule | null = null;
    const draw = () => {
      if (!P || !el.current || !dirty.current) return;
      dirty.current = false;
      const spec = buildRef.current();
      if (spec.data.length === 0) {
        // An empty plot: only its note, no axes.
        const hide = { visible: false, showgrid: false, zeroline: false };
        spec.layout = { ...spec.layout, xaxis: hide, yaxis: hide, shapes: [] };
      }
      el.current.dataset.points = String(spec.points);
      void P.react(el.current, spec.data, { ...spec.layout, height }, { displaylogo: false, responsive: true, modeBarButtonsToRemove: ['lasso2d', 'select2d', 'toImage'] });
    };
    loadPlotly().then((m) => {
      if (!live) return;
      P = m;
      draw();
    });
    const unsub = metricsStore.subscribe(() => (dirty.current = true));
    const timer = setInterval(draw, REDRAW_MS);
    const node = el.current;
    return () => {
      live = false;
      unsub();
      clearInterval(timer);
      if (P && node) P.purge(node);
    };
  }, [height]);

  return <div ref={el} className="plot" data-testid={testId} data-points="0" style={{ height }} />;
}
