// Named checkpoints in IndexedDB ("Save in browser"): metadata in one store (listed without reading
// any weights), the safetensors bytes and the metric series up to the checkpoint's step in another.
// The database itself and the autosaves (written by each run's worker) are src/train/idbStore.ts's.

import type { MetricsChunk } from '../../worker/protocol';
import type { Config } from '../../config';
import { committed, done, NAMED, openDb as db } from '../../train/idbStore';

export interface CheckpointMeta {
  id: number;
  name: string;
  step: number;
  created: number;
  bytes: number;
  config: Config;
}

interface Blob_ {
  id: number;
  bytes: Uint8Array;
  metrics: MetricsChunk | null;
}

const META = NAMED.meta;
const BLOBS = NAMED.data;

export async function listCheckpoints(): Promise<CheckpointMeta[]> {
  const d = await db();
  const all = await done(d.transaction(META, 'readonly').objectStore(META).getAll());
  return (all as CheckpointMeta[]).sort((a, b) => b.created - a.created);
}

export async function putCheckpoint(meta: Omit<CheckpointMeta, 'id'>, bytes: Uint8Array, metrics: MetricsChunk | null): Promise<number> {
  const d = await db();
  const tx = d.transaction([META, BLOBS], 'readwrite');
  const id = (await done(tx.objectStore(META).add(meta))) as number;
  tx.objectStore(BLOBS).put({ id, bytes, metrics } satisfies Blob_);
  await committed(tx);
  return id;
}

export async function getCheckpoint(id: number): Promise<{ meta: CheckpointMeta; bytes: Uint8Array; metrics: MetricsChunk | null }> {
  const d = await db();
  const tx = d.transaction([META, BLOBS], 'readonly');
  const meta = (await done(tx.objectStore(META).get(id))) as CheckpointMeta | undefined;
  const blob = (await done(tx.objectStore(BLOBS).get(id))) as Blob_ | undefined;
  if (!meta || !blob) throw new Error(`checkpoint ${id} is not in this browser's storage any more`);
  return { meta, bytes: blob.bytes, metrics: blob.metrics };
}

export async function deleteCheckpoint(id: number): Promise<void> {
  const d = await db();
  const tx = d.transaction([META, BLOBS], 'readwrite');
  tx.objectStore(META).delete(id);
  tx.objectStore(BLOBS).delete(id);
  await committed(tx);
}
