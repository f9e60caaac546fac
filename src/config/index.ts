// One declared config: the key table (keys.ts), the value rules (spec.ts) and the codecs that read
// it: URL (url.ts), checkpoint metadata (metadata.ts), CLI flags (cli.ts).
export * from './spec';
export * from './keys';
export * from './url';
export * from './metadata';
