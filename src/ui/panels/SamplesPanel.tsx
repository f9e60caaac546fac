// Samples of the focused run from fixed noise (NFE 1, NFE 2, the anchor's Euler samples) next to
// real data, refreshed every `sampleEvery` steps; with several runs, every run's one-step samples.

import { download, gridsPng, scaleFor } from '../persistence/exporters';
import { GridCanvas } from '../widgets/GridCanvas';
import { comparedSamples, trainTimeText } from '../state/compare';
import { SAMPLES_NOTE } from '../widgets/teach';
import { focused, say, useStore } from '../state/store';
import { updateConfig } from '../state/actions';
import { NumberField } from '../widgets/fields';
import type { ImageSet } from '../../worker/protocol';

const SIZE = 168;

export const dist = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '∞');

export function SamplesPanel() {
  const run = useStore(focused);
  const runs = useStore((s) => s.runs);
  if (!run) return null;
  const s = run.samples;
  const compareBy = useStore((st) => st.compareBy);
  const cmp = runs.length > 1 ? comparedSamples(runs.map((r) => r.sampleHistory), compareBy) : null;
  const point = cmp && (cmp.step !== null || cmp.ms !== null) ? cmp : null;
  const sets: [string, ImageSet | null, string][] = [
    ['NFE 1 (one step)', s?.oneStep ?? null, 'samples-grid'],
    ['NFE 2', s?.twoStep ?? null, 'samples-grid-2'],
  ];
  if (s?.euler) sets.push([`Euler ${s.euler.steps} (anchor)`, s.euler, 'samples-euler']);
  sets.push(['real data', run.real, 'real-grid']);
  const exportPng = async () => {
    const have = sets.map((x) => x[1]).filter((x): x is ImageSet => !!x);
    if (have.length === 0) return say('warn', 'no samples yet');
    const png = await gridsPng(have, scaleFor(have[0].H, 16));
    download(`facm-samples-${run.config.objective}-step${s?.step ?? 0}.png`, png, 'image/png');
  };
  return (
    <section className="panel fit-teach" data-testid="samples-panel">
      <div className="panel-main">
        <header className="panel-head">
          <h3>Samples</h3>
          <span className="muted" data-testid="samples-step">
            <b style={{ color: run.color }}>{run.name}</b> {s ? `at step ${s.step}, ${s.weights} weights` : run.state === 'idle' ? '— press Train' : '— sampling…'}
          </span>
          <div className="toolbar">
            <label className="inline">
              every
              <NumberField k="sampleEvery" value={run.config.sampleEvery} onCommit={(v) => updateConfig('sampleEvery', v)} width={56} />
              steps
            </label>
            <select value={run.config.sampleWeights} data-testid="cfg-sampleWeights" onChange={(e) => updateConfig('sampleWeights', e.target.value as 'online' | 'ema')}>
              <option value="online">online weights</option>
              <option value="ema">EMA weights</option>
            </select>
            <button onClick={exportPng} data-testid="btn-export-png">
              ⤓ PNG
            </button>
          </div>
        </header>
        <div className="grids">
          {sets.map(([label, set, id]) => (
            <GridCanvas key={id} label={label} set={set} size={SIZE} testId={id} step={s?.step} />
          ))}
        </div>
        {s && (
          <p className="muted nearest" data-testid="samples-nearest">
            distance to the nearest real image (RMS per pixel): NFE 1 <b>{dist(s.nearest.oneStep)}</b> · NFE 2 <b>{dist(s.nearest.twoStep)}</b>
            {s.nearest.euler !== null && (
              <>
                {' '}
                · Euler <b>{dist(s.nearest.euler)}</b>
              </>
            )}{' '}
            — held-out real images {dist(s.nearest.real)}, the input noise {dist(s.nearest.noise)}
          </p>
        )}
        {runs.length > 1 && (
          <>
            <h5 className="sub" data-testid="strip-step">
              One-step samples of every run (same noise)
              {cmp?.step != null
                ? `, all at step ${cmp.step}`
                : cmp?.ms != null
                  ? `, same wall-clock: each after at most ${trainTimeText(cmp.ms)} of training, at its own step`
                  : `, each at its latest step (no ${compareBy === 'time' ? 'timed samples' : 'step in common'} yet)`}
            </h5>
            <div className="grids small">
              {runs.map((r, i) => {
                const at = point ? point.at[i] : r.samples;
                return <GridCanvas key={r.id} label={`${r.name}${at ? ` · ${at.step}` : ''}`} set={at?.oneStep ?? null} size={104} />;
              })}
            </div>
          </>
        )}
      </div>
      {SAMPLES_NOTE}
    </section>
  );
}
