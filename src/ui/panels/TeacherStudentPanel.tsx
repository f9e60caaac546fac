// Teacher vs student (a distilling run): from the same noise, the teacher's Euler-N samples for
// N = 1 … 50 and the student's NFE 1 and 2, as grids; and FD against the number of network calls,
// one line per model (log x), the student's points updated at the quality cadence.

import type { PlotData } from 'plotly.js-cartesian-dist-min';
import { baseLayout, emptyNote, LivePlot, logAxis, type PlotSpec } from '../widgets/LivePlot';
import { GridCanvas } from '../widgets/GridCanvas';
import { TEACHER_NOTE } from '../widgets/teach';
import { positiveRange } from '../widgets/ticks';
import { focused, useStore, type RunView } from '../state/store';
import { nfeLines, worthText } from '../state/qualityPlots';
import { NO_TEACHER } from '../../config';

const TEACHER_COLOUR = '#475569';

function buildNfe(run: RunView): PlotSpec {
  const { teacher, student } = nfeLines(run.teacher, run.quality);
  const data: PlotData[] = [];
  if (teacher) data.push({ type: 'scatter', mode: 'lines+markers', name: teacher.name, x: teacher.x, y: teacher.y, line: { color: TEACHER_COLOUR, width: 2 }, marker: { size: 7 }, hovertemplate: 'teacher Euler %{x}: FD %{y:.3g}<extra></extra>' } as PlotData);
  if (student) data.push({ type: 'scatter', mode: 'lines+markers', name: student.name, x: student.x, y: student.y, line: { color: run.color, width: 2 }, marker: { size: 9, symbol: 'diamond' }, hovertemplate: 'student NFE %{x}: FD %{y:.3g}<extra></extra>' } as PlotData);
  const real = run.quality?.real.fd;
  const shapes = real !== undefined && Number.isFinite(real) && data.length ? [{ type: 'line', xref: 'paper', x0: 0, x1: 1, y0: real, y1: real, line: { color: '#94a3b8', dash: 'dot', width: 1.5 } }] : [];
  const range = positiveRange([...data.map((d) => d.y as number[]), ...(shapes.length ? [[real!]] : [])]);
  const annotations = data.length ? [] : [emptyNote("measuring the teacher's FD at each N…")];
  return {
    data,
    points: (teacher?.x.length ?? 0) + (student?.x.length ?? 0),
    layout: baseLayout({
      xaxis: { type: 'log', title: { text: 'network calls (log)', standoff: 4 }, tickvals: [1, 2, 4, 8, 16, 50], ticktext: ['1', '2', '4', '8', '16', '50'], gridcolor: '#eef1f5' },
      yaxis: logAxis('FD (log)', range),
      shapes,
      annotations,
    } as Parameters<typeof baseLayout>[0]),
  };
}

export function TeacherStudentPanel() {
  const run = useStore(focused);
  if (!run || run.config.teacher === NO_TEACHER) return null;
  const t = run.teacher;
  const s = run.samples;
  const { teacher } = nfeLines(t, run.quality);
  const complete = !!t && t.quality.every((q) => q !== null);
  return (
    <section className="panel" data-testid="teacher-panel">
      <div className="panel-main">
        <header className="panel-head">
          <h3>Teacher vs student</h3>
          <span className="muted">{t ? `${t.name}; student ${run.name}${s ? ` at step ${s.step}` : ''}` : run.state === 'idle' ? '— press Train' : '— loading the teacher…'}</span>
        </header>
        <h5 className="sub">The teacher: Euler N steps (N network calls)</h5>
        <div className="grids small">
          {(t?.steps ?? []).map((n, i) => (
            <GridCanvas key={n} label={`teacher Euler ${n}`} set={t!.grids[i] ?? null} size={104} testId={`teacher-grid-${n}`} />
          ))}
        </div>
        <h5 className="sub">The student, from the same noise: one and two network calls</h5>
        <div className="grids small">
          <GridCanvas label="student NFE 1" set={s?.oneStep ?? null} size={104} testId="student-grid-1" step={s?.step} />
          <GridCanvas label="student NFE 2" set={s?.twoStep ?? null} size={104} testId="student-grid-2" step={s?.step} />
        </div>
        <p className="finding" data-testid="teacher-worth">
          {run.quality ? worthText(teacher, run.quality.oneStep.fd, complete) : worthText(null, NaN, complete)}
        </p>
        <LivePlot testId="nfe-plot" height={240} build={() => buildNfe(run)} deps={[run.teacher, run.quality, run.color]} />
      </div>
      {TEACHER_NOTE}
    </section>
  );
}
