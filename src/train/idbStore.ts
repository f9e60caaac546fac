// The playground's IndexedDB (page and workers alike: both have IndexedDB): opening the database,
// promise wrappers for its requests, and the CheckpointStore the worker's TrainingSession autosaves
// into. One record per key in each of two object stores: the small one (key, time, size and the
// writer's `meta`) is listed without reading any weights, the other holds the bytes and the
// writer's `data` (e.g. the metric series). The named checkpoints of "Save in browser" live in two
// more stores of the same database (src/ui/persistence/idb.ts).

import type { Beside, CheckpointStore, StoredEntry } from './store';

const DB = 'facm-playground';
/** The named checkpoints' stores (src/ui/persistence/idb.ts). */
export const NAMED = { meta: 'checkpoints', data: 'checkpoint-data' } as const;
const AUTO = { meta: 'autosaves', data: 'autosave-data' } as const;

let opening: Promise<IDBDatabase> | null = null;

export function openDb(): Promise<IDBDatabase> {
  if (typeof indexedDB === 'undefined') return Promise.reject(new Error('this browser has no IndexedDB (private mode?): use Download instead'));
  opening ??= new Promise((resolve, reject) => {
    // Version 2 added the autosave stores; version 1's named checkpoints are kept as they are.
    const req = indexedDB.open(DB, 2);
    req.onupgradeneeded = () => {
      const d = req.result;
      if (!d.objectStoreNames.contains(NAMED.meta)) d.createObjectStore(NAMED.meta, { keyPath: 'id', autoIncrement: true });
      if (!d.objectStoreNames.contains(NAMED.data)) d.createObjectStore(NAMED.data, { keyPath: 'id' });
      for (const name of [AUTO.meta, AUTO.data]) if (!d.objectStoreNames.contains(name)) d.createObjectStore(name, { keyPath: 'slot' });
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

export const done = <T>(req: IDBRequest<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new Error(`IndexedDB: ${req.error?.message ?? 'request failed'}`));
  });

export const committed = (tx: IDBTransaction): Promise<void> =>
  new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(new Error(`IndexedDB: ${tx.error?.message ?? 'transaction failed'}`));
    tx.onabort = () => reject(new Error(`IndexedDB: ${tx.error?.message ?? 'transaction aborted (storage full?)'}`));
  });

/**
 * Autosaves in IndexedDB, keyed by slot (any string). A save writes both records in one
 * transaction, so a reader sees the old pair or the new one, never half of each.
 */
export class IdbCheckpointStore implements CheckpointStore {
  async save(key: string, bytes: Uint8Array, beside: Beside = {}): Promise<void> {
    const tx = (await openDb()).transaction([AUTO.meta, AUTO.data], 'readwrite');
    tx.objectStore(AUTO.meta).put({ ...beside.meta, slot: key, saved: Date.now(), bytes: bytes.length } satisfies StoredEntry);
    tx.objectStore(AUTO.data).put({ ...beside.data, slot: key, bytes });
    await committed(tx);
  }

  async loadWith(key: string): Promise<({ bytes: Uint8Array } & Record<string, unknown>) | null> {
    const got = await done((await openDb()).transaction(AUTO.data, 'readonly').objectStore(AUTO.data).get(key));
    return (got as { bytes: Uint8Array } | undefined) ?? null;
  }

  async load(key: string): Promise<Uint8Array | null> {
    return (await this.loadWith(key))?.bytes ?? null;
  }

  async entries(): Promise<StoredEntry[]> {
    return (await done((await openDb()).transaction(AUTO.meta, 'readonly').objectStore(AUTO.meta).getAll())) as StoredEntry[];
  }

  async list(): Promise<string[]> {
    return (await this.entries()).map((e) => e.slot);
  }

  async delete(...keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const tx = (await openDb()).transaction([AUTO.meta, AUTO.data], 'readwrite');
    for (const k of keys) for (const s of [AUTO.meta, AUTO.data]) tx.objectStore(s).delete(k);
    await committed(tx);
  }
}
