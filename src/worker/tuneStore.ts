// The page's side of the autotuning cache (src/ops/tune.ts; Node's is src/cli/tuneStore.ts): tune
// records in IndexedDB, one per adapter key. Its own small database, so that adding it needs no
// upgrade of the checkpoints' database (src/train/idbStore.ts) while another tab holds that open.

import { committed, done } from '../train/idbStore';
import type { TuneRecord, TuneStore } from '../ops/tune';

const DB = 'facm-playground-tune';
const RECORDS = 'records';

let opening: Promise<IDBDatabase> | null = null;

function openTuneDb(): Promise<IDBDatabase> {
  opening ??= new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => {
      if (!req.result.objectStoreNames.contains(RECORDS)) req.result.createObjectStore(RECORDS, { keyPath: 'adapter' });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => {
      opening = null;
      reject(new Error(`IndexedDB (kernel tuning): ${req.error?.message ?? 'could not open the database'}`));
    };
  });
  return opening;
}

export class IdbTuneStore implements TuneStore {
  async load(adapter: string): Promise<TuneRecord | null> {
    const tx = (await openTuneDb()).transaction(RECORDS, 'readonly');
    return ((await done(tx.objectStore(RECORDS).get(adapter))) as TuneRecord | undefined) ?? null;
  }

  async save(record: TuneRecord): Promise<void> {
    const tx = (await openTuneDb()).transaction(RECORDS, 'readwrite');
    tx.objectStore(RECORDS).put(record);
    await committed(tx);
  }
}

/** This browser's tune store, or null where there is no IndexedDB (then nothing is tuned: it could not be kept). */
export function browserTuneStore(): TuneStore | null {
  return typeof indexedDB === 'undefined' ? null : new IdbTuneStore();
}
