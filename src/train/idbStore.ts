// IndexedDB CheckpointStore for the page / worker: autosaves survive a reload of the tab.
//
// UNTESTED IN NODE (there is no indexedDB there); written against the standard API, usable from a
// window or a dedicated worker. One database, one object store, records { bytes, savedAt } by key.

import { checkKey, type CheckpointStore } from './store';

const STORE = 'checkpoints';

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
  });
}

export class IdbCheckpointStore implements CheckpointStore {
  private db: Promise<IDBDatabase> | null = null;

  constructor(readonly dbName = 'facm-playground') {}

  private open(): Promise<IDBDatabase> {
    if (!this.db) {
      const idb = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
      if (!idb) return Promise.reject(new Error('IndexedDB is not available here: autosave needs a browser (or worker) with IndexedDB'));
      this.db = new Promise((resolve, reject) => {
        const r = idb.open(this.dbName, 1);
        r.onupgradeneeded = () => {
          if (!r.result.objectStoreNames.contains(STORE)) r.result.createObjectStore(STORE);
        };
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error ?? new Error(`cannot open IndexedDB '${this.dbName}'`));
        r.onblocked = () => reject(new Error(`IndexedDB '${this.dbName}' is blocked by another tab holding an older version`));
      });
      this.db.catch(() => (this.db = null));
    }
    return this.db;
  }

  private async tx<T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
    const db = await this.open();
    const t = db.transaction(STORE, mode);
    const result = req(fn(t.objectStore(STORE)));
    await new Promise<void>((resolve, reject) => {
      t.oncomplete = () => resolve();
      t.onerror = () => reject(t.error ?? new Error('IndexedDB transaction failed'));
      t.onabort = () => reject(t.error ?? new Error('IndexedDB transaction aborted (storage quota?)'));
    });
    return result;
  }

  async save(key: string, bytes: Uint8Array): Promise<void> {
    checkKey(key);
    await this.tx('readwrite', (s) => s.put({ bytes: bytes.slice(), savedAt: Date.now() }, key));
  }

  async load(key: string): Promise<Uint8Array | null> {
    const rec = (await this.tx('readonly', (s) => s.get(key))) as { bytes: Uint8Array } | undefined;
    return rec ? new Uint8Array(rec.bytes) : null;
  }

  async list(): Promise<string[]> {
    return (await this.tx('readonly', (s) => s.getAllKeys())).map(String);
  }

  async delete(key: string): Promise<void> {
    await this.tx('readwrite', (s) => s.delete(key));
  }
}
