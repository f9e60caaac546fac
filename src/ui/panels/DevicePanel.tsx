// Throughput and device: steps/s and images/s of each run, the adapter, live GPU buffer memory.

import { describeAdapter } from '../../gpu/device';
import { DEVICE_NOTE } from '../widgets/teach';
import { focused, useStore } from '../state/store';

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

export function DevicePanel() {
  const run = useStore(focused);
  const runs = useStore((s) => s.runs);
  const pageAdapter = useStore((s) => s.pageAdapter);
  if (!run) return null;
  const totalIps = runs.reduce((a, r) => a + (r.state === 'running' ? r.imagesPerSec : 0), 0);
  const fallback = run.adapter?.isFallback ?? /swiftshader|fallback/i.test(pageAdapter);
  return (
    <section className="panel" data-testid="device-panel">
      <div className="panel-main">
        <header className="panel-head">
          <h3>Throughput &amp; device</h3>
          <a className="muted" href="?smoke">
            kernel smoke check ↗
          </a>
        </header>
        <div className="stats">
          <Stat label="steps / s" value={run.stepsPerSec ? run.stepsPerSec.toFixed(2) : '—'} testId="stat-sps" />
          <Stat label="images / s" value={run.imagesPerSec ? run.imagesPerSec.toFixed(1) : '—'} />
          <Stat label="all runs, images / s" value={totalIps ? totalIps.toFixed(1) : '—'} />
          <Stat label="GPU buffers" value={run.memory ? `${mib(run.memory.bytes)} in ${run.memory.buffers}` : '—'} testId="stat-memory" />
          <Stat label="parameters" value={run.params ? run.params.toLocaleString('en-US') : '—'} />
          <Stat label="forward FLOPs / image" value={run.flopsPerImage ? `${(run.flopsPerImage / 1e6).toFixed(2)} M` : '—'} />
        </div>
        <dl className="kv">
          <dt>adapter</dt>
          <dd data-testid="run-adapter">{run.adapter ? describeAdapter(run.adapter) : pageAdapter || '—'}</dd>
          <dt>dataset</dt>
          <dd>
            {run.dataset
              ? `${run.dataset.name}: ${run.dataset.count.toLocaleString('en-US')} images, ${run.dataset.C}×${run.dataset.H}×${run.dataset.W}${run.dataset.numClasses ? `, ${run.dataset.numClasses} classes` : ''}${run.dataset.resizedFrom ? ` (resized from ${run.dataset.resizedFrom})` : ''}`
              : '—'}
          </dd>
          {run.loadedFrom && (
            <>
              <dt>weights from</dt>
              <dd>{run.loadedFrom}</dd>
            </>
          )}
        </dl>
        {fallback && (
          <p className="hint">
            This is a software adapter (no GPU was found): expect a few images per second. Keep the <b>tiny</b> preset and a
            small batch, or open the page on a machine with a GPU.
          </p>
        )}
      </div>
      {DEVICE_NOTE}
    </section>
  );
}

function Stat({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <div className="stat">
      <div className="stat-value" data-testid={testId}>
        {value}
      </div>
      <div className="stat-label">{label}</div>
    </div>
  );
}
