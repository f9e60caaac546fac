// Routes: `?smoke` is the kernel smoke check (src/ui/SmokePage.tsx); anything else the playground,
// or, when the page finds no WebGPU adapter, the page that explains how to get one.

import { useEffect, useState } from 'react';
import { NoWebGPU } from './NoWebGPU';
import { Playground } from './Playground';
import { SmokePage } from './SmokePage';

type Boot = { kind: 'loading' } | { kind: 'unavailable'; message: string } | { kind: 'ready'; adapter: string };

const HELP =
  'WebGPU is not available in this browser. Use a recent Chrome or Edge (113+), or Firefox/Safari with WebGPU enabled; ' +
  'on Linux Chrome, start it with --enable-unsafe-webgpu (and --enable-features=Vulkan).';

let probing: Promise<Boot> | null = null;

/** Asks for an adapter (no device: each run's worker makes its own). */
async function probe(): Promise<Boot> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return { kind: 'unavailable', message: HELP };
  try {
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return { kind: 'unavailable', message: `navigator.gpu exists but returned no adapter (blocklisted driver, or hardware acceleration off). ${HELP}` };
    const i = adapter.info;
    const name = [i?.vendor, i?.architecture, i?.device, i?.description].filter(Boolean).join(' / ') || 'WebGPU adapter';
    return { kind: 'ready', adapter: name };
  } catch (e) {
    return { kind: 'unavailable', message: `requestAdapter failed: ${(e as Error).message}` };
  }
}

export function App() {
  const smoke = new URLSearchParams(location.search).has('smoke');
  if (smoke) return <SmokePage />;
  return <PlaygroundRoute />;
}

function PlaygroundRoute() {
  const [boot, setBoot] = useState<Boot>({ kind: 'loading' });
  useEffect(() => {
    let live = true;
    (probing ??= probe()).then((b) => live && setBoot(b));
    return () => {
      live = false;
    };
  }, []);
  if (boot.kind === 'unavailable') return <NoWebGPU message={boot.message} />;
  if (boot.kind === 'loading') return <p className="loading">Looking for a WebGPU adapter…</p>;
  return <Playground adapter={boot.adapter} />;
}
