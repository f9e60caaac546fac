// Where autosaved checkpoints go: a key → bytes store, optionally with the writer's own records kept
// beside each checkpoint. The session writes through this interface; the CLI uses a folder
// (src/cli/fsStore.ts), the worker IndexedDB (src/train/idbStore.ts), tests memory.

/** What a writer keeps beside a checkpoint: `meta` small (listed with the keys, without reading bytes), `data` read with the bytes. */
export interface Beside {
  meta?: Record<string, unknown>;
  data?: Record<string, unknown>;
}

/** One stored checkpoint as `entries()` lists it: its key, when it was written, its size and the writer's `meta`. */
export type StoredEntry = Record<string, unknown> & { slot: string; saved: number; bytes: number };

export interface CheckpointStore {
  /** Stores `bytes` (and `beside`, where the store keeps it) under `key`, replacing what was there (atomically where the medium allows). */
  save(key: string, bytes: Uint8Array, beside?: Beside): Promise<void>;
  /** The bytes under `key`, or null when there are none. */
  load(key: string): Promise<Uint8Array | null>;
  /** Every key in the store. */
  list(): Promise<string[]>;
  delete?(key: string): Promise<void>;
  /** Stores that keep `beside`: every entry with its meta, and a checkpoint's bytes with its data. */
  entries?(): Promise<StoredEntry[]>;
  loadWith?(key: string): Promise<({ bytes: Uint8Array } & Record<string, unknown>) | null>;
}

/** Keys that name files: letters, digits, '.', '_', '-' (1–128). */
export function checkKey(key: string): string {
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(key) || key.startsWith('.'))
    throw new Error(`checkpoint key '${key}' must be 1–128 letters, digits, '.', '_' or '-' (not starting with '.')`);
  return key;
}

/** In-memory store (tests, and a session without persistence). Keeps copies of the bytes. */
export class MemoryCheckpointStore implements CheckpointStore {
  private readonly items = new Map<string, { bytes: Uint8Array; entry: StoredEntry; data: Record<string, unknown> }>();
  async save(key: string, bytes: Uint8Array, beside: Beside = {}): Promise<void> {
    this.items.set(checkKey(key), { bytes: bytes.slice(), entry: { ...beside.meta, slot: key, saved: Date.now(), bytes: bytes.length }, data: { ...beside.data } });
  }
  async load(key: string): Promise<Uint8Array | null> {
    return this.items.get(key)?.bytes.slice() ?? null;
  }
  async list(): Promise<string[]> {
    return [...this.items.keys()];
  }
  async delete(key: string): Promise<void> {
    this.items.delete(key);
  }
  async entries(): Promise<StoredEntry[]> {
    return [...this.items.values()].map((i) => i.entry);
  }
  async loadWith(key: string): Promise<({ bytes: Uint8Array } & Record<string, unknown>) | null> {
    const i = this.items.get(key);
    return i ? { ...i.data, bytes: i.bytes.slice() } : null;
  }
}
