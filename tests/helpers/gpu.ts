// One GPU per test file (Dawn in Node: SwiftShader on CI). Call `gpuForFile()` at the top level of a
// test file: it registers the teardown that destroys the device when the file's tests end.
import { after } from 'node:test';
import { acquireDevice } from '../../src/gpu/device';
import { Gpu } from '../../src/gpu/runtime';

let shared: Promise<Gpu> | null = null;

export function gpuForFile(): () => Promise<Gpu> {
  if (!shared) {
    shared = acquireDevice().then((acq) => new Gpu(acq));
    after(async () => (await shared!).destroy());
  }
  const p = shared;
  return () => p;
}
