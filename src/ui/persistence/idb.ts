// Checkpoints in IndexedDB: metadata in one store (listed without reading any weights), the
// safetensors bytes and the metric series up to the checkpoint's step in another. Autosaves (one
// slot per run, overwritten; see autosave.ts) are kept apart from these named checkpoints, in the
// same two-store shape.

import type { MetricsChunk } from '../../worker/protocol';
import type { Config } from '../../config';

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
const AUTO_META = 'autosaves';
const AUTO_DATA = 'autosave-data';

let opening: Promise<IDBDatabase> | null = null;

function db(): Promise<IDBDatabase> {
  if (typeof indexedDB === 'undefined') return Promise.reject(new Error('this browser has no IndexedDB (private mode?): use Download instead'));
  opening ??= new Promise((resolve, reject) => {
    // Version 2 added the autosave stores; version 1's named checkpoints are kept as they are.
    const req = indexedDB.open(DB, 2);
    req.onupgradeneeded = () => {
      const d = req.result;
      if (!d.objectStoreNames.contains(META)) d.createObjectStore(META, { keyPath: 'id', autoIncrement: true });
      if (!d.objectStoreNames.contains(BLOBS)) d.createObjectStore(BLOBS, { keyPath: 'id' });
      if (!d.objectStoreNames.contains(AUTO_META)) d.createObjectStore(AUTO_META, { keyPath: 'slot' });
      if (!d.objectStoreNames.contains(AUTO_DATA)) d.createObjectStore(AUTO_DATA, { keyPath: 'slot' });
    };
    // Another tab still holding version 1 open would block the upgrade: it is asked to let go.
    req.onblocked = () => console.warn('IndexedDB: upgrade waits for another tab of this page to close or reload');
    req.onsuccess = () => {
      req.result.onversionchange = () => {
        req.result.close();
        opening = null;
      };
      resolve(req.result);
    };
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

// ------------------------------------------------------------------ autosaves

/** One run's autosave slot: what the page needs to rebuild the run (the weights are in AUTO_DATA). */
export interface AutosaveMeta {
  /** Stable for the run's life, across reloads (a restored run keeps its slot). */
  slot: string;
  /** The page load that wrote it last: a reload restores the newest page's set of slots. */
  page: string;
  /** Position of the run in the page's list, and whether it was the focused one. */
  order: number;
  focused: boolean;
  name: string;
  step: number;
  saved: number;
  bytes: number;
  /** The controls' config (pending edits included) and the one the weights were trained with. */
  config: Config;
  applied: Config;
  /** The page's query string when it was saved (see restoreDecision in autosavePolicy.ts). */
  search: string;
}

export async function listAutosaves(): Promise<AutosaveMeta[]> {
  const d = await db();
  return (await done(d.transaction(AUTO_META, 'readonly').objectStore(AUTO_META).getAll())) as AutosaveMeta[];
}

/** Overwrites the run's slot (metadata and data in one transaction: a reader sees the old pair or the new one). */
export async function putAutosave(meta: AutosaveMeta, bytes: Uint8Array, metrics: MetricsChunk | null): Promise<void> {
  const d = await db();
  const tx = d.transaction([AUTO_META, AUTO_DATA], 'readwrite');
  tx.objectStore(AUTO_META).put(meta);
  tx.objectStore(AUTO_DATA).put({ slot: meta.slot, bytes, metrics });
  await committed(tx);
}

export async function getAutosaveData(slot: string): Promise<{ bytes: Uint8Array; metrics: MetricsChunk | null }> {
  const d = await db();
  const got = (await done(d.transaction(AUTO_DATA, 'readonly').objectStore(AUTO_DATA).get(slot))) as { bytes: Uint8Array; metrics: MetricsChunk | null } | undefined;
  if (!got) throw new Error(`autosave ${slot} is not in this browser's storage any more`);
  return got;
}

/** Rewrites only the small metadata records (e.g. a restored set adopted by this page load). */
export async function patchAutosaves(metas: AutosaveMeta[]): Promise<void> {
  if (metas.length === 0) return;
  const d = await db();
  const tx = d.transaction(AUTO_META, 'readwrite');
  for (const m of metas) tx.objectStore(AUTO_META).put(m);
  await committed(tx);
}

export async function deleteAutosaves(slots: string[]): Promise<void> {
  if (slots.length === 0) return;
  const d = await db();
  const tx = d.transaction([AUTO_META, AUTO_DATA], 'readwrite');
  for (const s of slots) {
    tx.objectStore(AUTO_META).delete(s);
    tx.objectStore(AUTO_DATA).delete(s);
  }
  await committed(tx);
}
