import { readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';

/**
 * Host generations (docs/decisions.md, "Host generations"): each host process listens on its own
 * socket, `<socket>.<generation>` (8 hex digits), and points the configured socket path at it
 * with a symlink, replaced atomically when a newer generation starts. Connecting to the
 * configured path reaches the newest host; the older ones, draining, stay reachable on their own
 * path, where a restarted API finds them.
 */
export const GENERATION_ID_LENGTH = 8;

/** Bytes a generation's socket path adds to the configured one ('.' + id). */
export const GENERATION_SUFFIX_BYTES = 1 + GENERATION_ID_LENGTH;

const GENERATION = /^[0-9a-f]{8}$/;

export function generationOf(hostId: string): string {
  const generation = hostId.replace(/-/g, '').slice(0, GENERATION_ID_LENGTH).toLowerCase();
  if (!GENERATION.test(generation)) throw new Error(`not a host id: ${hostId}`);
  return generation;
}

export function generationSocketPath(socketPath: string, generation: string): string {
  return `${socketPath}.${generation}`;
}

/** Every generation socket next to `socketPath` (live or left by a host that died). */
export function generationSocketPaths(socketPath: string): string[] {
  const dir = path.dirname(socketPath);
  const prefix = `${path.basename(socketPath)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(prefix) && GENERATION.test(n.slice(prefix.length)))
    .map((n) => path.join(dir, n));
}

/** The generation socket `socketPath` points at, or null (nothing there, or not a symlink). */
export function currentGenerationPath(socketPath: string): string | null {
  try {
    return path.resolve(path.dirname(socketPath), readlinkSync(socketPath));
  } catch {
    return null;
  }
}
