/**
 * The V8 flags every broker process runs with: the API (`scripts/start.sh`, `pnpm start`, the
 * image's CMD) and the terminal host it starts (`TERMINAL_HOST=spawn`, compose's host service);
 * the bench starts both with them too.
 * Tests check that each of those places says the same.
 *
 * - `--no-memory-reducer`: no compacting full GC (a 45–55 ms pause for every terminal) each time
 *   activity drops (docs/decisions.md, "V8 memory reducer off").
 * - `--v8-pool-size=0`: V8's helper threads (parallel and concurrent GC, background compiles)
 *   sized to the machine, one fewer than its cores, instead of Node's fixed 4. With 4 helpers
 *   per process on a 2-core machine a collection in one broker process made both cores busy for
 *   milliseconds, and every other process — the other broker process on a keystroke's path
 *   included — waited for the scheduler (docs/decisions.md, "V8 helper threads sized to the
 *   machine").
 * - `--initial-old-space-size=128`: no full collection while the old generation is below 128 MB.
 *   V8 counts the Buffers a stream allocates against a small heap's headroom (the host's live
 *   heap is ~19 MB, the API's ~40 MB): during a paste at ~22 MB/s both ran a full mark-compact
 *   every 0.27–0.5 s, each 10–40 ms of marking steps on the main thread and a helper thread's
 *   CPU besides. With the floor, scavenges free those Buffers and full collections are rare
 *   (docs/decisions.md, "A floor under the old generation").
 */
export const BROKER_NODE_FLAGS: readonly string[] = [
  '--no-memory-reducer',
  '--v8-pool-size=0',
  '--initial-old-space-size=128',
];
