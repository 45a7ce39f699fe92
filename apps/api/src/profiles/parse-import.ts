import { Piscina } from 'piscina';
import { checkYamlShape, type ImportedFolder, ImportFileError } from './velociterm-yaml.js';
import type { ParseOutcome } from './yaml-worker.js';

/**
 * Longest an import may wait for and run on the parsing thread before it is given up. A backstop,
 * not the limit that matters (the heap below is; the yaml library bounds aliases): the thread runs
 * at nice +10, so on a busy machine a legitimate file takes many times its quiet-machine time
 * (a 2,000-profile file once passed 20 s while the test suite and Chromium shared 2 cores).
 */
const PARSE_TIMEOUT_MS = 90_000;
/** Heap of the parsing thread: a file that needs more is refused, the broker is not at risk. */
const PARSE_HEAP_MB = 256;

// In the built broker the worker is dist/profiles/yaml-worker.js; run from the TypeScript sources
// (tests, `pnpm dev`) it is the .ts file, loaded through tsx like the rest.
const fromSource = import.meta.url.endsWith('.ts');
let pool: Piscina | undefined;

function parsePool(): Piscina {
  pool ??= new Piscina({
    filename: new URL(`./yaml-worker.${fromSource ? 'ts' : 'js'}`, import.meta.url).href,
    ...(fromSource ? { execArgv: ['--import', 'tsx'] } : {}),
    // Imports are rare: one thread, started on demand, gone when idle; requests queue in order.
    minThreads: 0,
    maxThreads: 1,
    idleTimeout: 30_000,
    niceIncrement: 10,
    resourceLimits: { maxOldGenerationSizeMb: PARSE_HEAP_MB },
    recordTiming: false,
  });
  return pool;
}

/**
 * Parses a VelociTerm file off the event loop. Shapes no VelociTerm file has (deep nesting) are
 * refused here in one linear pass, before a thread is involved; a file that still needs more
 * than PARSE_HEAP_MB or PARSE_TIMEOUT_MS is refused with a clear error, and the thread replaced.
 */
export async function parseImportFile(text: string): Promise<ImportedFolder[]> {
  checkYamlShape(text);
  let outcome: ParseOutcome;
  try {
    outcome = (await parsePool().run(text, {
      signal: AbortSignal.timeout(PARSE_TIMEOUT_MS),
    })) as ParseOutcome;
  } catch (err) {
    const code = (err as { code?: string }).code;
    const name = (err as { name?: string }).name;
    if (code === 'ERR_WORKER_OUT_OF_MEMORY') {
      throw new ImportFileError([
        {
          path: 'yaml',
          message: 'the file is too large or too complex to read; split it into smaller files',
        },
      ]);
    }
    if (name === 'AbortError' || name === 'TimeoutError') {
      throw new ImportFileError([
        {
          path: 'yaml',
          message: `reading the file took longer than ${PARSE_TIMEOUT_MS / 1000} s (the server is busy, or the file is very large); try again, or split it into smaller files`,
        },
      ]);
    }
    throw err;
  }
  if (!outcome.ok) throw new ImportFileError(outcome.problems);
  return outcome.folders;
}

/** Stops the parsing thread (shutdown). */
export async function closeImportParser(): Promise<void> {
  const p = pool;
  pool = undefined;
  await p?.destroy();
}
