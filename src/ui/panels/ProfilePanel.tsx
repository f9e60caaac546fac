// Profile: per-kernel GPU time of one training step of the focused run, from timestamp queries
// (the worker's Gpu.startProfile / stopProfile, aggregated by summarizeProfile as `bench --profile` does),
// and the kernel variant each shape uses with how it was chosen (autotuning, src/worker/tune.ts).

import { useState } from 'react';
import { PROFILE_NOTE } from '../widgets/teach';
import { profile, retune } from '../state/runner';
import type { RunView } from '../state/store';
import { focused, useStore } from '../state/store';

const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toFixed(3));

export function ProfilePanel() {
  const run = useStore(focused);
  const [all, setAll] = useState(false);
  if (!run) return null;
  const p = run.profile;
  const usable = run.state === 'running' || run.state === 'paused' || run.state === 'ready';
  const s = p?.summary;
  const ROWS = 12;
  const rows = s ? (all ? s.kernels : s.kernels.slice(0, ROWS)) : [];
  return (
    <section className="panel" data-testid="profile-panel">
      <div className="panel-main">
        <header className="panel-head">
          <h3>Profile</h3>
          <div className="toolbar">
            <button
              data-testid="btn-profile"
              disabled={!usable || !!p?.pending || !!run.collapse}
              onClick={() => void profile(run.id)}
              title={run.state === 'running' ? 'Time every kernel of the next step' : 'Take one step and time every kernel of it'}
            >
              {p?.pending ? 'profiling…' : 'Profile one step'}
            </button>
          </div>
        </header>
        {!p && <p className="muted small">{usable ? 'GPU time per kernel of the next training step' : 'Train or step the run first.'}{run.state === 'paused' || run.state === 'ready' ? ' (paused: profiling takes one step).' : ''}</p>}
        {p?.error && (
          <p className="error" data-testid="profile-error">
            {p.error}
          </p>
        )}
        {p && !p.pending && !p.error && !s && (
          <p className="hint" data-testid="profile-unavailable">
            This adapter has no <code>timestamp-query</code> feature, so its kernels cannot be timed on the GPU (device
            features: {p.features.length ? p.features.join(', ') : 'none'}). In Chrome it needs version 121 or later; the CLI's{' '}
            <code>npm run bench -- --profile</code> does the same on a native adapter.
          </p>
        )}
        {s && (
          <>
            <p className="muted small" data-testid="profile-total">
              step {p!.step}: {s.dispatches} dispatches, {ms(s.totalMs)} ms of GPU time in {s.kernels.length} kernels
              {p!.pending ? ' (profiling again…)' : ''}
            </p>
            <table className="profile" data-testid="profile-table">
              <thead>
                <tr>
                  <th>kernel</th>
                  <th className="num">dispatches</th>
                  <th className="num">GPU ms</th>
                  <th className="num">share of the step</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((k) => (
                  <tr key={k.label} data-testid="profile-row">
                    <td className="k">{k.label}</td>
                    <td className="num">{k.dispatches}</td>
                    <td className="num">{ms(k.ms)}</td>
                    <td className="num">
                      <span className="share" style={{ width: `${Math.round(60 * k.share)}px` }} />
                      {(100 * k.share).toFixed(1)} %
                    </td>
                  </tr>
                ))}
                {s.kernels.length > ROWS && (
                  <tr>
                    <td colSpan={4}>
                      <button className="link" onClick={() => setAll(!all)}>
                        {all ? 'show the slowest only' : `show all ${s.kernels.length} kernels`}
                      </button>
                    </td>
                  </tr>
                )}
                <tr className="total">
                  <td>total</td>
                  <td className="num">{s.dispatches}</td>
                  <td className="num">{ms(s.totalMs)}</td>
                  <td className="num">100 %</td>
                </tr>
              </tbody>
            </table>
          </>
        )}
        <TuneSection run={run} usable={usable} />
      </div>
      {PROFILE_NOTE}
    </section>
  );
}

/** Which kernel variant each of the run's shapes uses, whether timing on this adapter chose it, and a Re-tune. */
function TuneSection({ run, usable }: { run: RunView; usable: boolean }) {
  const t = run.tune;
  if (!t) return null;
  const summary = t.note
    ? t.note
    : t.timed > 0
      ? `Tuned on this adapter: ${t.timed - t.skipped} of ${t.timed} shapes timed in ${(t.ms / 1000).toFixed(1)} s${t.skipped ? ` (the time budget ran out: the others keep the rule; Re-tune times them all)` : ''}; kept in this browser for the next load.`
      : 'Cached choices for this adapter: nothing timed on this load.';
  return (
    <details className="tune" data-testid="tune">
      <summary>
        Kernel variants <span className="muted small" data-testid="tune-summary">{t.pending ? 're-tuning…' : summary}</span>
      </summary>
      <button data-testid="btn-retune" disabled={!usable || !!t.pending} onClick={() => void retune(run.id)} title="Time every kernel variant on this adapter again for this run's shapes">
        {t.pending ? 're-tuning…' : 'Re-tune'}
      </button>
      <table className="profile" data-testid="tune-table">
        <thead>
          <tr>
            <th>shape</th>
            <th>layer</th>
            <th>variant</th>
            <th>from</th>
          </tr>
        </thead>
        <tbody>
          {t.rows.map((r) => (
            <tr key={`${r.shape} ${r.layer}`} data-testid="tune-row">
              <td className="k">{r.shape}</td>
              <td>{r.layer}</td>
              <td className="k">{r.variant}</td>
              <td>{r.from}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}
