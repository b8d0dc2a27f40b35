// Preloaded into a service by bench/sse.ts (with --expose-gc): SIGUSR2 runs a full GC, so memory
// read from /metrics right after is live memory, not garbage awaiting collection.
process.on('SIGUSR2', () => {
  globalThis.gc?.();
});
