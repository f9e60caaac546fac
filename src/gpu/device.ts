// Device acquisition for the browser (navigator.gpu) and Node (Dawn, npm `webgpu`).
// One entry point, `acquireDevice`, so the trainer never knows where it runs.

export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallback: boolean;
  backend: 'browser' | 'node';
  features: string[];
  limits: Record<string, number>;
}

export interface AcquiredDevice {
  device: GPUDevice;
  adapter: GPUAdapter;
  report: AdapterReport;
}

export class WebGPUUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebGPUUnavailableError';
  }
}

const BROWSER_HELP =
  'WebGPU is not available in this browser. Use a recent Chrome or Edge (113+), or Firefox/Safari with WebGPU enabled; ' +
  'on Linux Chrome, start it with --enable-unsafe-webgpu (and --enable-features=Vulkan). A page served over plain http ' +
  'from another host than localhost is not a secure context and has no WebGPU: use https or localhost.';

const NODE_HELP =
  'Dawn (npm package `webgpu`) found no adapter. On a machine without a GPU install a software Vulkan driver: ' +
  '`apt-get install -y chromium libvulkan1` and set VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json ' +
  '(scripts/test.mjs and the CLI do this for you when that file exists).';

const LIMIT_NAMES = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'minStorageBufferOffsetAlignment',
  'minUniformBufferOffsetAlignment',
] as const;

function isNode(): boolean {
  return typeof process !== 'undefined' && !!process.versions?.node && typeof navigator === 'undefined';
}

/**
 * Point Vulkan at SwiftShader in Node when no ICD was chosen and the machine has no GPU device node
 * (/dev/nvidia*, /dev/dri/renderD*) but Debian's chromium ships SwiftShader. FACM_SWIFTSHADER=1 forces it.
 */
async function nodeSoftwareFallback(): Promise<void> {
  if (process.env.VK_ICD_FILENAMES) return;
  const fs = await import('node:fs');
  const icd = '/usr/lib/chromium/vk_swiftshader_icd.json';
  if (!fs.existsSync(icd)) return;
  const list = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir) : []);
  const hasGpu = list('/dev').some((f) => /^nvidia\d/.test(f)) || list('/dev/dri').some((f) => f.startsWith('renderD'));
  if (process.env.FACM_SWIFTSHADER === '1' || !hasGpu) process.env.VK_ICD_FILENAMES = icd;
}

// Dawn's instance must outlive every device made from it: if the `create()` result is garbage
// collected, its pending-event pump aborts the process. Keep it for the process's lifetime.
let nodeInstance: GPU | null = null;

/**
 * Vulkan's loader prints `error: XDG_RUNTIME_DIR is invalid or not set` (twice) on stderr when the
 * variable is missing or not a folder, e.g. under `su` or in a container; harmless, but it reads like a
 * failure. Give it the system's temporary folder before Dawn loads.
 */
async function nodeRuntimeDir(): Promise<void> {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const dir = process.env.XDG_RUNTIME_DIR;
  if (dir && fs.existsSync(dir) && fs.statSync(dir).isDirectory()) return;
  process.env.XDG_RUNTIME_DIR = os.tmpdir();
}

async function nodeGpu(): Promise<GPU> {
  if (nodeInstance) return nodeInstance;
  await nodeRuntimeDir();
  await nodeSoftwareFallback();
  let mod: { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
  try {
    // A variable specifier keeps bundlers from trying to pull Dawn into the browser build.
    const name = 'webgpu';
    mod = await import(/* @vite-ignore */ name);
  } catch (e) {
    throw new WebGPUUnavailableError(`Could not load the npm package 'webgpu' (Dawn): ${(e as Error).message}. Run npm ci.`);
  }
  Object.assign(globalThis, mod.globals);
  nodeInstance = mod.create([]);
  return nodeInstance;
}

/** Dawn's GPU object in Node (the one `acquireDevice` uses), e.g. to hand a peer library the same adapter. */
export async function nodeGpuInstance(): Promise<GPU> {
  return nodeGpu();
}

export interface AcquireOptions {
  powerPreference?: GPUPowerPreference;
  /** Extra features to request if the adapter has them. */
  optionalFeatures?: GPUFeatureName[];
}

export async function acquireDevice(opts: AcquireOptions = {}): Promise<AcquiredDevice> {
  const backend = isNode() ? 'node' : 'browser';
  let gpu: GPU | undefined;
  if (backend === 'node') gpu = await nodeGpu();
  else gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) throw new WebGPUUnavailableError(BROWSER_HELP);

  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) throw new WebGPUUnavailableError(backend === 'node' ? NODE_HELP : BROWSER_HELP);

  const wanted: GPUFeatureName[] = ['timestamp-query', ...(opts.optionalFeatures ?? [])];
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  // Ask for the adapter's own maxima: the defaults (128 MiB bindings, 16 KiB workgroup memory) are
  // lower than many adapters offer, and limits checks in the model compare against what we got.
  const requiredLimits: Record<string, number> = {};
  for (const name of LIMIT_NAMES) {
    if (name.startsWith('min')) continue;
    const v = (adapter.limits as unknown as Record<string, number>)[name];
    if (typeof v === 'number') requiredLimits[name] = v;
  }
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });

  const info = adapter.info ?? ({} as GPUAdapterInfo);
  const limits: Record<string, number> = {};
  for (const name of LIMIT_NAMES) limits[name] = (device.limits as unknown as Record<string, number>)[name];
  const report: AdapterReport = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    isFallback: Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    backend,
    features: [...device.features].map(String).sort(),
    limits,
  };
  return { device, adapter, report };
}

export function describeAdapter(r: AdapterReport): string {
  const name = [r.vendor, r.architecture, r.device, r.description].filter(Boolean).join(' / ') || 'unknown adapter';
  return `${name}${r.isFallback ? ' (fallback)' : ''} [${r.backend}]`;
}
