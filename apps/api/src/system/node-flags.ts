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
 */
export const BROKER_NODE_FLAGS: readonly string[] = ['--no-memory-reducer', '--v8-pool-size=0'];
