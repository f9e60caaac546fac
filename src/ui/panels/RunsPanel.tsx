// The runs table: every run with its state, step, latest loss and how its config differs from the
// first run's; ablation presets that create a comparable set of runs in one click.

import { useStore as useVanilla } from 'zustand';
import { useState } from 'react';
import { ABLATIONS, DISTIL_PRESET, findAblation } from '../state/ablations';
import { metricsStore, seriesOf } from '../state/metrics';
import { RUNS_NOTE } from '../widgets/teach';
import { focused, useStore, type RunView } from '../state/store';
import { diffConfigs, formatKey, specOf } from '../../config';
import { comparedSamples, meanUpTo, trainTimeText, type CompareBy } from '../state/compare';
import { NumberField } from '../widgets/fields';
import { addRun, applyAblation, removeRun, setFocus, togglePlay, updateConfig } from '../state/actions';
import { pause, recoveryText, train } from '../state/runner';
import { dist } from './SamplesPanel';
import { NOISE_LIKE_AFTER, NOISE_LIKE_FRACTION, noiseLike } from '../../data/nearest';
import type { QualityFigures, RunQuality } from '../../worker/protocol';

const fmt = (x: number, d = 3) => (Number.isFinite(x) ? (Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(2) : x.toPrecision(d)) : '—');

export function StateBadge({ run }: { run: RunView }) {
  if (run.collapse) return <span className="badge bad" title={`${run.collapse.quantity} became non-finite`}>collapsed @ {run.collapse.step}</span>;
  if (run.error && (run.state === 'error' || run.fatal)) return <span className="badge bad">error</span>;
  return <span className={`badge ${run.state}`}>{run.state}</span>;
}

export function RunsPanel() {
  const runs = useStore((s) => s.runs);
  const focusId = useStore((s) => focused(s)?.id);
  const ablation = useStore((s) => s.ablation);
  useVanilla(metricsStore, (s) => s.version); // latest losses, at the metric rate (≤ 4 Hz per run)
  const ref = runs[0];
  const active = findAblation(ablation);
  const [fromTeacher, setFromTeacher] = useState(!!active?.variantOf);
  const compareBy = useStore((s) => s.compareBy);
  // Several runs: figures at the largest step every run has samples at (or the same training time), not each run's latest.
  const cmp = runs.length > 1 ? comparedSamples(runs.map((r) => r.sampleHistory), compareBy) : null;
  const point = cmp && (cmp.step !== null || cmp.ms !== null) ? cmp : null;
  const atHead = cmp?.step != null ? ` @${cmp.step}` : cmp?.ms != null ? ` @${trainTimeText(cmp.ms)}` : '';
  const stopAt = ref?.config.stopAt ?? 0;
  return (
    <section className="panel" data-testid="runs-panel">
      <div className="panel-main">
        <header className="panel-head">
          <h3>Runs</h3>
          <div className="toolbar">
            <button onClick={() => runs.forEach((r) => train(r.id))} title="Start every run">▶ Train all</button>
            <button onClick={() => runs.forEach((r) => pause(r.id))} title="Pause every run">‖ Pause all</button>
            <button onClick={addRun} title="A new run with the focused run's settings">+ Add run</button>
            <label className="inline" title={specOf('stopAt').why}>
              train all to step
              <NumberField k="stopAt" value={stopAt} onCommit={(v) => updateConfig('stopAt', v)} width={64} />
              <span className="muted">{stopAt ? '' : '(no cap)'}</span>
            </label>
          </div>
        </header>
        {runs.length > 1 && (
          <p className="muted compare-note" data-testid="compare-step">
            <select value={compareBy} data-testid="compare-by" onChange={(e) => useStore.setState({ compareBy: e.target.value as CompareBy })} title="Compare the runs at the same step (the objectives' merit per step) or after the same wall-clock training time (what a step costs counts too)">
              <option value="step">same step</option>
              <option value="time">same wall-clock</option>
            </select>{' '}
            {cmp?.step != null
              ? `loss, L_CM, clamped and NFE 1 → data at step ${cmp.step}, the last step every run has samples for (loss figures: mean of the 10 steps up to it)`
              : cmp?.ms != null
                ? `same wall-clock: loss, L_CM, clamped and NFE 1 → data from each run's last samples within ${trainTimeText(cmp.ms)} of training (pauses excluded), each at its own step (after the figure); not a per-step comparison`
                : compareBy === 'time'
                  ? 'loss, L_CM and clamped: each run at its own latest step, until every run has timed samples'
                  : 'loss, L_CM and clamped: each run at its own latest step, until every run has samples at a common step'}
          </p>
        )}
        <table className="runs" data-testid="runs-table">
          <thead>
            <tr>
              <th>run</th>
              <th>objective</th>
              <th>state</th>
              <th className="num">step</th>
              <th className="num">loss{atHead}</th>
              <th className="num">L_CM{atHead}</th>
              <th className="num">clamped{atHead}</th>
              <th className="num" title="one-step samples' distance to the nearest real image (RMS per pixel); the noise's own distance after the slash">
                NFE 1 → data{atHead}
              </th>
              <th className="num" title="Fréchet distance of the one-step samples to the data in its feature space (PCA of the training images; src/metrics), every 'quality every' steps; held-out real images and the input noise after the slash. Hover a figure for precision / recall and NFE 2.">
                FD NFE 1
              </th>
              <th className="num">steps/s</th>
              <th>differs from {ref ? ref.name : 'the first run'}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {runs.map((r, i) => {
              const s = seriesOf(r.id);
              const st = s.steps();
              const at = point ? point.at[i] : r.samples;
              const fig = (k: 'loss' | 'lossCM' | 'clampFrac') => (point ? (at ? meanUpTo(st, s.get(k), at.step) : NaN) : s.last(k));
              const diff = ref && r !== ref ? diffConfigs(ref.config, r.config) : [];
              return (
                <tr key={r.id} className={r.id === focusId ? 'focus' : ''} onClick={() => setFocus(r.id)} data-testid={`run-row-${r.id}`}>
                  <td>
                    <span className="swatch" style={{ background: r.color }} />
                    {r.name}
                  </td>
                  <td>{r.config.objective}</td>
                  <td>
                    <StateBadge run={r} />
                    {r.recoveries.length > 0 && (
                      <span className="badge warn" title={r.recoveries.map((x) => recoveryText(x)).join('\n')} data-testid="recovery-badge">
                        device lost{r.recoveries.length > 1 ? ` ×${r.recoveries.length}` : ''}, restored @ {r.recoveries[r.recoveries.length - 1].restoredFrom}
                      </span>
                    )}
                    {r.samples && noiseLike(r.samples.step, r.samples.nearest.oneStep, r.samples.nearest.noise) && (
                      <span
                        className="badge warn"
                        data-testid="noise-like-badge"
                        title={`A heuristic: after ${NOISE_LIKE_AFTER} steps, the one-step samples are still more than ${100 * NOISE_LIKE_FRACTION} % of the input noise's distance from the data (${dist(r.samples.nearest.oneStep)} vs ${dist(r.samples.nearest.noise)}): the run is not learning the data, whatever its loss says.`}
                      >
                        samples ≈ noise
                      </span>
                    )}
                  </td>
                  <td className="num">{r.step}</td>
                  <td className="num">{fmt(fig('loss'))}</td>
                  <td className="num">{fmt(fig('lossCM'))}</td>
                  <td className="num">{Number.isFinite(fig('clampFrac')) ? `${(100 * fig('clampFrac')).toFixed(0)}%` : '—'}</td>
                  <td className="num" data-testid="run-nearest" data-step={at?.step ?? ''}>
                    {at ? (
                      <>
                        {dist(at.nearest.oneStep)}
                        <span className="muted"> / {dist(at.nearest.noise)}</span>
                        {point?.ms != null && <span className="muted"> (step {at.step})</span>}
                      </>
                    ) : (
                      '—'
                    )}
                  </td>
                  <td className="num" data-testid="run-fd">
                    {r.quality ? (
                      <span title={qualityText(r.quality)}>
                        {fdText(r.quality.oneStep.fd)}
                        <span className="muted">
                          {' '}
                          / {fdText(r.quality.real.fd)} / {fdText(r.quality.noise.fd)}
                        </span>
                      </span>
                    ) : (
                      '—'
                    )}
                  </td>
                  <td className="num">{r.stepsPerSec ? r.stepsPerSec.toFixed(2) : '—'}</td>
                  <td className="diff">
                    {r === ref ? <span className="muted">reference</span> : diff.length === 0 ? <span className="muted">same config</span> : diff.map((k) => <code key={k}>{specOf(k).label}: {formatKey(k, r.config[k])}</code>)}
                  </td>
                  <td className="actions" onClick={(e) => e.stopPropagation()}>
                    <button className="icon" onClick={() => togglePlay(r.id)} title={r.state === 'running' ? 'Pause' : 'Train'}>
                      {r.state === 'running' ? '‖' : '▶'}
                    </button>
                    {runs.length > 1 && (
                      <button className="icon" onClick={() => removeRun(r.id)} title="Remove this run">
                        ×
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        <div className="ablations">
          <span className="muted">Ablation presets (same data; every run trains to the same step):</span>
          {ABLATIONS.map((a) => {
            const id = fromTeacher ? `${a.id}-teacher` : a.id;
            return (
              <button key={a.id} className={id === ablation ? 'on' : ''} onClick={() => applyAblation(id)} title={findAblation(id)!.finding} data-testid={`ablation-${a.id}`}>
                {a.title}
              </button>
            );
          })}
          <label className="check" title="Each preset's runs distil from the shipped teacher of their kind of data (Fashion-MNIST 16×16 for images, eight Gaussians for 2-D) instead of training from scratch">
            <input type="checkbox" checked={fromTeacher} data-testid="ablation-from-teacher" onChange={(e) => setFromTeacher(e.target.checked)} />
            from the teacher
          </label>
        </div>
        <div className="ablations">
          <span className="muted">Distillation:</span>
          <button className={DISTIL_PRESET.id === ablation ? 'on' : ''} onClick={() => applyAblation(DISTIL_PRESET.id)} title={DISTIL_PRESET.finding} data-testid={`ablation-${DISTIL_PRESET.id}`}>
            {DISTIL_PRESET.title}
          </button>
        </div>
        {active && <p className="finding">{active.finding}</p>}
      </div>
      {RUNS_NOTE}
    </section>
  );
}

const fdText = (fd: number) => (Number.isFinite(fd) ? fd.toFixed(fd < 10 ? 2 : 1) : '∞');

/** The tooltip of the FD cell: every figure of the latest measurement. */
function qualityText(q: RunQuality): string {
  const line = (what: string, f: QualityFigures) => `${what}: FD ${fdText(f.fd)}, precision ${f.precision.toFixed(2)}, recall ${f.recall.toFixed(2)}`;
  return [`step ${q.step}, ${q.n} images each`, line('NFE 1', q.oneStep), line('NFE 2', q.twoStep), ...(q.euler ? [line(`Euler ${q.euler.steps} (anchor)`, q.euler)] : []), line('held-out real', q.real), line('input noise', q.noise)].join('\n');
}
