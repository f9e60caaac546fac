// Checkpoints in IndexedDB: metadata in one store (listed without reading any weights), the
// safetensors bytes and the metric series up to the checkpoint's step in another.

import type { MetricsChunk } from '../worker/protocol';
import type { Config } from '../worker/runConfig';

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

const DB = 'facm-playground';
const META = 'checkpoints';
const BLOBS = 'checkpoint-data';

let opening: Promise<IDBDatabase> | null = null;

function db(): Promise<IDBDatabase> {
  if (typeof indexedDB === 'undefined') return Promise.reject(new Error('this browser has no IndexedDB (private mode?): use Download instead'));
  opening ??= new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => {
      const d = req.result;
      if (!d.objectStoreNames.contains(META)) d.createObjectStore(META, { keyPath: 'id', autoIncrement: true });
      if (!d.objectStoreNames.contains(BLOBS)) d.createObjectStore(BLOBS, { keyPath: 'id' });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => {
      opening = null;
      reject(new Error(`IndexedDB: ${req.error?.message ?? 'could not open the database'}`));
    };
  });
  return opening;
}

const done = <T>(req: IDBRequest<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new Error(`IndexedDB: ${req.error?.message ?? 'request failed'}`));
  });

const committed = (tx: IDBTransaction): Promise<void> =>
  new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(new Error(`IndexedDB: ${tx.error?.message ?? 'transaction failed'}`));
    tx.onabort = () => reject(new Error(`IndexedDB: ${tx.error?.message ?? 'transaction aborted (storage full?)'}`));
  });

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
