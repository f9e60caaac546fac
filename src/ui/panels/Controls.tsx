// The control column: the focused run's commands and settings, data, checkpoints and exports.

import { fileError } from '../../util/errors';
import { useRef } from 'react';
import { PRESETS } from '../../model/config';
import { BUILTIN } from '../../data/procedural';
import { SHIPPED } from '../../data/shipped';
import { CUSTOM_DATASET, KEYS, LABEL_KEYS, NO_TEACHER, OBJECTIVE_KNOBS, RUN_KEYS, relevantKeys, specOf, UPLOADED_TEACHER, type Config, type Key } from '../../config';
import { TEACHER_IDS, TEACHERS } from '../../data/teachers';
import { objectiveSpec } from '../../objectives/table';
import { downloadCurrent, downloadSaved, loadFromBrowser, pendingEdits, removeCheckpoint, saveToBrowser, updateConfig, uploadCheckpoint, uploadTeacher, takeDatasetFiles } from '../state/actions';
import { download, metricsCsv } from '../persistence/exporters';
import { ConfigField } from '../widgets/fields';
import { GridCanvas } from '../widgets/GridCanvas';
import * as runner from '../state/runner';
import { recoveryText } from '../state/runner';
import { focused, say, shareUrl, useStore } from '../state/store';
import { StateBadge } from './RunsPanel';

/** Every run key that is not the model, data, teacher, objective, one of its knobs or a label key: a new key lands here by itself. */
const PLACED: readonly Key[] = ['preset', 'objective', 'dataset', 'teacher', 'onNonFinite'];
const OPTIMIZER_KEYS = RUN_KEYS.filter((k) => !PLACED.includes(k) && !specOf(k).knob && !specOf(k).needs);

export function Controls() {
  const run = useStore(focused);
  const custom = useStore((s) => s.custom);
  const checkpoints = useStore((s) => s.checkpoints);
  const runs = useStore((s) => s.runs);
  const autosavedStep = useStore((s) => (run ? s.autosaved[run.id] : undefined));
  const teacherUpload = useStore((s) => s.teacherUpload);
  const fileInput = useRef<HTMLInputElement>(null);
  const ckInput = useRef<HTMLInputElement>(null);
  const teacherInput = useRef<HTMLInputElement>(null);
  if (!run) return null;
  const c = run.config;
  const set = <K extends Key>(k: K, v: Config[K]) => updateConfig(k, v);
  // The run's shape from its preset and teacher: the guidance keys show when distilling a labelled teacher.
  const relevant = new Set(relevantKeys(c));
  const running = run.state === 'running';
  const busy = run.state === 'starting';
  const datasets = [...Object.keys(BUILTIN), ...Object.keys(SHIPPED), ...(custom?.info || c.dataset === CUSTOM_DATASET ? [CUSTOM_DATASET] : [])];
  const share = async () => {
    const url = shareUrl();
    try {
      await navigator.clipboard.writeText(url);
      say('info', 'link copied: it restores this run’s settings');
    } catch {
      say('info', `share this link: ${url}`);
    }
  };

  return (
    <aside className="controls">
      <section className="ctl">
        <div className="run-head">
          <span className="swatch" style={{ background: run.color }} />
          <input className="run-name" value={run.name} onChange={(e) => useStore.setState((s) => ({ runs: s.runs.map((r) => (r.id === run.id ? { ...r, name: e.target.value } : r)) }))} aria-label="run name" />
          <span data-testid="run-state">
            <StateBadge run={run} />
          </span>
        </div>
        <div className="counter">
          step <b data-testid="step-counter">{run.step}</b>
          {run.stepsPerSec > 0 && <span className="muted"> · {run.stepsPerSec.toFixed(2)} steps/s</span>}
        </div>
        <div className="buttons">
          <button className="primary" data-testid="btn-train" disabled={running || busy || !!run.collapse} title={run.collapse ? 'This run collapsed: Reset it, or load a checkpoint' : 'Train until paused'} onClick={() => runner.train(run.id)}>
            ▶ Train
          </button>
          <button data-testid="btn-pause" disabled={!running} onClick={() => runner.pause(run.id)}>
            ‖ Pause
          </button>
          <button data-testid="btn-step" disabled={running || busy || !!run.collapse} onClick={() => runner.step(run.id)} title="One optimizer step">
            Step
          </button>
          <button data-testid="btn-reset" className={pendingEdits(run.id) ? 'attention' : ''} disabled={busy && !run.fatal} onClick={() => runner.reset(run.id)} title="Back to step 0 with the settings below">
            ↺ Reset
          </button>
          {/* Starting (device, data, memory check, allocation) or inside a first step that can take long: never a dead end. */}
          {(busy || (running && run.step === 0)) && (
            <button data-testid="btn-cancel" className="attention" onClick={() => runner.cancel(run.id)} title="Stop starting this run (its worker and device are closed; the settings stay)">
              ✕ Cancel
            </button>
          )}
        </div>
        {busy && !run.progress && <p className="hint">starting: waiting for the run's worker…</p>}
        {running && run.step === 0 && <p className="hint">first step in progress (the first step compiles the kernels; a large batch on a slow adapter takes long)</p>}
        {pendingEdits(run.id) && <p className="hint">Settings changed: press Reset to restart with them (Train continues the current run).</p>}
        {run.progress && <Progress stage={run.progress.stage} fraction={run.progress.fraction} />}
        {run.collapse && (
          <p className="collapse" data-testid="collapse-note">
            Collapsed at step {run.collapse.step}: <b>{run.collapse.quantity}</b> became non-finite. Training stopped; the
            parameters are those from before that step.
          </p>
        )}
        {run.recoveries.length > 0 && (
          <p className="recovery" data-testid="recovery-note">
            {recoveryText(run.recoveries[run.recoveries.length - 1])}
            {run.recoveries.length > 1 ? ` (${run.recoveries.length} losses so far)` : ''}. The steps after it were discarded
            {run.state === 'running' ? '; training goes on.' : '.'}
          </p>
        )}
        {run.error && !run.collapse && (
          <p className="error" data-testid="run-error">
            {run.error}
          </p>
        )}
      </section>

      <section className="ctl">
        <h4>Data</h4>
        <ConfigField k="dataset" config={c} onChange={set} options={datasets} />
        <div
          className="drop"
          data-testid="dropzone"
          onClick={() => fileInput.current?.click()}
          onDragOver={(e) => e.preventDefault()}
          onDrop={(e) => {
            e.preventDefault();
            e.stopPropagation();
            void takeDatasetFiles([...e.dataTransfer.files]);
          }}
        >
          Drop CIFAR-10 (<code>.tar.gz</code> / <code>.bin</code>) or MNIST-style IDX files here, or <u>choose files</u>
          <input ref={fileInput} type="file" multiple hidden data-testid="dataset-files" onChange={(e) => void takeDatasetFiles([...(e.target.files ?? [])])} />
        </div>
        {custom?.progress && <Progress stage={custom.progress.stage} fraction={custom.progress.fraction} />}
        {custom?.error && (
          <p className="error" data-testid="dataset-error">
            {fileError(custom.label, custom.error).message}
          </p>
        )}
        {custom?.info && (
          <div className="custom-info" data-testid="dataset-info">
            <GridCanvas set={custom.preview} size={64} label="" />
            <span>
              <b>{custom.info.name}</b>: {custom.info.count.toLocaleString('en-US')} images {custom.info.C}×{custom.info.H}×{custom.info.W}
              {custom.info.numClasses ? `, ${custom.info.numClasses} classes` : ''}; the model ({c.preset}) takes{' '}
              <span data-testid="model-shape">{modelShape(c.preset)}</span>
              {(() => {
                const m = PRESETS[c.preset]?.config;
                return m && (m.C !== custom.info.C || m.H !== custom.info.H) ? ', resized on use' : '';
              })()}
            </span>
          </div>
        )}
      </section>

      <section className="ctl">
        <h4>Model &amp; objective</h4>
        <ConfigField k="preset" config={c} onChange={set} note={PRESETS[c.preset]?.why} />
        <ConfigField k="objective" config={c} onChange={set} />
        {[...OBJECTIVE_KNOBS, ...LABEL_KEYS].filter((k) => relevant.has(k)).map((k) => (
          <ConfigField key={k} k={k} config={c} onChange={set} />
        ))}
        <p className="hint">{objectiveSpec(c.objective).why}.</p>
      </section>

      <section className="ctl" data-testid="distill-controls">
        <h4>Distillation</h4>
        <ConfigField k="teacher" config={c} onChange={set} options={[NO_TEACHER, ...TEACHER_IDS, ...(teacherUpload || c.teacher === UPLOADED_TEACHER ? [UPLOADED_TEACHER] : [])]} />
        <div className="buttons">
          <button onClick={() => teacherInput.current?.click()} title="Distil from an FM teacher checkpoint of your own (.safetensors, trained with objective fm at this run's model)">
            ⤒ Upload a teacher
          </button>
          <input ref={teacherInput} type="file" accept=".safetensors" hidden data-testid="teacher-upload" onChange={(e) => e.target.files?.[0] && void uploadTeacher(e.target.files[0])} />
        </div>
        {TEACHERS[c.teacher] && (
          <p className="hint" data-testid="teacher-info" title={TEACHERS[c.teacher].command}>
            {TEACHERS[c.teacher].label}: the {TEACHERS[c.teacher].preset} model trained with flow matching for {TEACHERS[c.teacher].steps} steps on {TEACHERS[c.teacher].dataset}, shipped with the app
            (its checksum is checked when it loads). The student starts from its weights; v comes from the teacher at (x_t, c = t).
          </p>
        )}
        {c.teacher === UPLOADED_TEACHER && (
          <p className="hint" data-testid="teacher-info">
            {teacherUpload ? `${teacherUpload.name}: ${teacherUpload.summary}. ` : 'No teacher uploaded in this tab: upload it again. '}
            A link cannot carry an uploaded teacher: one opened elsewhere trains from scratch until the teacher is uploaded there.
          </p>
        )}
        {c.teacher === NO_TEACHER && <p className="muted small">From scratch: v = x − ε from the data. Pick a shipped teacher (or upload one) to distil, as the paper's stage 2.</p>}
      </section>

      <section className="ctl">
        <h4>Optimizer</h4>
        <div className="two">
          {OPTIMIZER_KEYS.map((k) => (
            <ConfigField key={k} k={k} config={c} onChange={set} />
          ))}
        </div>
        <ConfigField k="onNonFinite" config={c} onChange={set} />
        <ConfigField k="euler" config={c} onChange={set} />
        <ConfigField k="memoryBudget" config={c} onChange={set} />
      </section>

      <section className="ctl">
        <h4>Checkpoints</h4>
        <div className="buttons">
          <button data-testid="btn-save" disabled={run.state === 'idle' || busy} onClick={() => void saveToBrowser(run.id)} title="Save weights, EMA and Adam state in this browser (IndexedDB)">
            Save in browser
          </button>
          <button disabled={run.state === 'idle' || busy} onClick={() => void downloadCurrent(run.id)} title="Download a .safetensors checkpoint (opens in PyTorch with DiT's models.py)">
            ⤓ .safetensors
          </button>
          <button onClick={() => ckInput.current?.click()} title="Load a .safetensors checkpoint into this run">
            ⤒ Upload
          </button>
          <input ref={ckInput} type="file" accept=".safetensors" hidden data-testid="ckpt-upload" onChange={(e) => e.target.files?.[0] && void uploadCheckpoint(e.target.files[0])} />
        </div>
        <ConfigField k="autosaveEvery" config={c} onChange={set} />
        <p className="muted small" data-testid="autosave-status">
          {c.autosaveEvery <= 0
            ? 'Autosave is off.'
            : autosavedStep !== undefined
              ? `Autosaved at step ${autosavedStep}: a reload of this tab resumes from there.`
              : `Autosaved every ${c.autosaveEvery} steps and on pause, once it trains.`}
        </p>
        <ul className="ckpts" data-testid="checkpoints">
          {checkpoints.length === 0 && <li className="muted">none saved in this browser yet</li>}
          {checkpoints.map((k) => (
            <li key={k.id} data-testid="checkpoint-item">
              <span className="ck-name" title={new Date(k.created).toLocaleString()}>
                {k.name}
              </span>
              <span className="ck-actions">
                <button data-testid="btn-load" onClick={() => void loadFromBrowser(k.id)} title={`Load into ${run.name}`}>
                  Load
                </button>
                <button className="icon" data-testid="btn-download-saved" onClick={() => void downloadSaved(k.id)} title="Download">
                  ⤓
                </button>
                <button className="icon" onClick={() => void removeCheckpoint(k.id)} title="Delete">
                  ×
                </button>
              </span>
            </li>
          ))}
        </ul>
      </section>

      <section className="ctl">
        <h4>Share &amp; export</h4>
        <div className="buttons">
          <button data-testid="btn-share" onClick={() => void share()} title="A link that restores these settings">
            Copy link
          </button>
          <button data-testid="btn-export-csv" onClick={() => download(`facm-metrics-${Date.now()}.csv`, metricsCsv(runs), 'text/csv')}>
            ⤓ metrics CSV
          </button>
        </div>
        <p className="muted small">The link carries every setting above ({Object.keys(KEYS).length} keys, defaults left out).</p>
      </section>
    </aside>
  );
}

/** A preset's input in words: "1 channel, 16×16". */
function modelShape(preset: string): string {
  const m = PRESETS[preset]?.config;
  return m ? `${m.C === 1 ? '1 channel' : `${m.C} channels`}, ${m.H}×${m.W}` : preset;
}

function Progress({ stage, fraction }: { stage: string; fraction: number | null }) {
  return (
    <div className="progress" data-testid="progress">
      <div className="progress-label">{stage}</div>
      <div className="bar">
        <div className={fraction === null ? 'indeterminate' : ''} style={{ width: fraction === null ? '30%' : `${Math.round(fraction * 100)}%` }} />
      </div>
    </div>
  );
}
