// The kernel smoke check (route `?smoke`): acquire a device on the page itself, run one real kernel
// against a JS reference, show the adapter and its limits. Without WebGPU, explain how to get it.

import { useEffect, useState } from 'react';
import { acquireDevice, describeAdapter, WebGPUUnavailableError, type AdapterReport } from '../../gpu/device';
import { Gpu } from '../../gpu/runtime';
import { describeSmoke, runMatmulSmoke, type SmokeResult } from './smoke';
import { NoWebGPU } from './NoWebGPU';

type Boot =
  | { kind: 'loading' }
  | { kind: 'unavailable'; message: string }
  | { kind: 'ready'; report: AdapterReport; smoke: SmokeResult | null; error: string | null };

// One device per page: StrictMode runs effects twice in development, so start-up is memoised.
let started: Promise<Boot> | null = null;

async function boot(): Promise<Boot> {
  let gpu: Gpu;
  try {
    gpu = new Gpu(await acquireDevice());
  } catch (e) {
    if (e instanceof WebGPUUnavailableError) return { kind: 'unavailable', message: e.message };
    return { kind: 'unavailable', message: `Requesting a WebGPU device failed: ${(e as Error).message}` };
  }
  try {
    return { kind: 'ready', report: gpu.report, smoke: await runMatmulSmoke(gpu), error: null };
  } catch (e) {
    return { kind: 'ready', report: gpu.report, smoke: null, error: (e as Error).message };
  }
}

export function SmokePage() {
  const [state, setState] = useState<Boot>({ kind: 'loading' });
  useEffect(() => {
    let live = true;
    (started ??= boot()).then((s) => live && setState(s));
    return () => {
      live = false;
    };
  }, []);

  if (state.kind === 'unavailable') return <NoWebGPU message={state.message} />;
  return (
    <main style={styles.main}>
      <h1>FACM playground · device check</h1>
      {state.kind === 'loading' ? (
        <p data-testid="smoke-status">Acquiring a WebGPU device…</p>
      ) : (
        <>
          <p data-testid="smoke-status" style={{ color: state.smoke?.ok ? '#0a7a28' : '#a30000' }}>
            {state.smoke ? describeSmoke(state.smoke) : `matmul FAILED: ${state.error}`}
          </p>
          <AdapterPanel report={state.report} />
        </>
      )}
      <p>
        <a href="./">← back to the playground</a>
      </p>
    </main>
  );
}

function AdapterPanel({ report }: { report: AdapterReport }) {
  return (
    <section>
      <h2>Adapter</h2>
      <p data-testid="adapter">{describeAdapter(report)}</p>
      <table data-testid="limits" style={styles.table}>
        <tbody>
          {Object.entries(report.limits).map(([name, v]) => (
            <tr key={name}>
              <td style={styles.cell}>{name}</td>
              <td style={{ ...styles.cell, textAlign: 'right' }}>{v?.toLocaleString('en-US') ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p>
        Features: <span data-testid="features">{report.features.join(', ') || 'none'}</span>
      </p>
    </section>
  );
}

const styles = {
  main: { fontFamily: 'system-ui, sans-serif', maxWidth: 760, margin: '2rem auto', padding: '0 1rem' },
  table: { borderCollapse: 'collapse', fontFamily: 'ui-monospace, monospace', fontSize: 13 },
  cell: { border: '1px solid #ddd', padding: '2px 8px' },
} as const;
