/**
 * Runs in the import parser's worker thread (./parse-import.ts): parsing a large YAML file takes
 * seconds of CPU (3 MB: ~1.9 s here), which must not stall every terminal on the event loop.
 */
import { type ImportedFolder, ImportFileError, parseVelociTerm } from './velociterm-yaml.js';

export type ParseOutcome =
  | { ok: true; folders: ImportedFolder[] }
  | { ok: false; problems: Array<{ path: string; message: string }> };

export default function parse(text: string): ParseOutcome {
  try {
    return { ok: true, folders: parseVelociTerm(text) };
  } catch (err) {
    if (err instanceof ImportFileError) return { ok: false, problems: err.problems };
    throw err;
  }
}
