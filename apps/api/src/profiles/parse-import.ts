import { Piscina } from 'piscina';
import { checkYamlShape, type ImportedFolder, ImportFileError } from './velociterm-yaml.js';
import type { ParseOutcome } from './yaml-worker.js';

/** Longest a parse may run before the file is refused. */
const PARSE_TIMEOUT_MS = 20_000;
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
    if (code === 'ERR_WORKER_OUT_OF_MEMORY' || name === 'AbortError' || name === 'TimeoutError') {
      throw new ImportFileError([
        {
          path: 'yaml',
          message: 'the file is too large or too complex to read; split it into smaller files',
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
