// Where autosaved checkpoints go: a key → bytes store. The session writes through this interface;
// the CLI uses a folder (src/cli/fsStore.ts), tests memory; the page keeps its autosaves in IndexedDB itself (src/ui/persistence/autosave.ts).

export interface CheckpointStore {
  /** Stores `bytes` under `key`, replacing what was there (atomically where the medium allows). */
  save(key: string, bytes: Uint8Array): Promise<void>;
  /** The bytes under `key`, or null when there are none. */
  load(key: string): Promise<Uint8Array | null>;
  /** Every key in the store. */
  list(): Promise<string[]>;
  delete?(key: string): Promise<void>;
}

/** Keys name files and IndexedDB records: letters, digits, '.', '_', '-' (1–128). */
export function checkKey(key: string): string {
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(key) || key.startsWith('.'))
    throw new Error(`checkpoint key '${key}' must be 1–128 letters, digits, '.', '_' or '-' (not starting with '.')`);
  return key;
}

/** In-memory store (tests, and a session without persistence). Keeps copies of the bytes. */
export class MemoryCheckpointStore implements CheckpointStore {
  private readonly items = new Map<string, Uint8Array>();
  async save(key: string, bytes: Uint8Array): Promise<void> {
    this.items.set(checkKey(key), bytes.slice());
  }
  async load(key: string): Promise<Uint8Array | null> {
    return this.items.get(key)?.slice() ?? null;
  }
  async list(): Promise<string[]> {
    return [...this.items.keys()];
  }
  async delete(key: string): Promise<void> {
    this.items.delete(key);
  }
}
