// The runs table: every run with its state, step, latest loss and how its config differs from the
// first run's; ablation presets that create a comparable set of runs in one click.

import { useStore as useVanilla } from 'zustand';
import { ABLATIONS } from '../state/ablations';
import { metricsStore, seriesOf } from '../state/metrics';
import { RUNS_NOTE } from '../widgets/teach';
import { focused, useStore, type RunView } from '../state/store';
import { diffConfigs, formatKey, specOf } from '../../config';
import { addRun, applyAblation, removeRun, setFocus, togglePlay } from '../state/actions';
import { pause, recoveryText, train } from '../state/runner';
import { dist } from './SamplesPanel';
import { NOISE_LIKE_AFTER, NOISE_LIKE_FRACTION, noiseLike } from '../../data/nearest';

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
  const active = ABLATIONS.find((a) => a.id === ablation);
  return (
    <section className="panel" data-testid="runs-panel">
      <div className="panel-main">
        <header className="panel-head">
          <h3>Runs</h3>
          <div className="toolbar">
            <button onClick={() => runs.forEach((r) => train(r.id))} title="Start every run">▶ Train all</button>
            <button onClick={() => runs.forEach((r) => pause(r.id))} title="Pause every run">‖ Pause all</button>
            <button onClick={addRun} title="A new run with the focused run's settings">+ Add run</button>
          </div>
        </header>
        <table className="runs" data-testid="runs-table">
          <thead>
            <tr>
              <th>run</th>
              <th>objective</th>
              <th>state</th>
              <th className="num">step</th>
              <th className="num">loss</th>
              <th className="num">L_CM</th>
              <th className="num">clamped</th>
              <th className="num" title="one-step samples' distance to the nearest real image (RMS per pixel); the noise's own distance after the slash">
                NFE 1 → data
              </th>
              <th className="num">steps/s</th>
              <th>differs from {ref ? ref.name : 'the first run'}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => {
              const s = seriesOf(r.id);
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
                  <td className="num">{fmt(s.last('loss'))}</td>
                  <td className="num">{fmt(s.last('lossCM'))}</td>
                  <td className="num">{Number.isFinite(s.last('clampFrac')) ? `${(100 * s.last('clampFrac')).toFixed(0)}%` : '—'}</td>
                  <td className="num" data-testid="run-nearest">
                    {r.samples ? (
                      <>
                        {dist(r.samples.nearest.oneStep)}
                        <span className="muted"> / {dist(r.samples.nearest.noise)}</span>
                      </>
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
          <span className="muted">Ablation presets (same seed and data; starts every run):</span>
          {ABLATIONS.map((a) => (
            <button key={a.id} className={a.id === ablation ? 'on' : ''} onClick={() => applyAblation(a.id)} title={a.finding} data-testid={`ablation-${a.id}`}>
              {a.title}
            </button>
          ))}
        </div>
        {active && <p className="finding">{active.finding}</p>}
      </div>
      {RUNS_NOTE}
    </section>
  );
}
