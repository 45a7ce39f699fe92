import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TerminalEnvShape, UNIX_SOCKET_PATH_MAX } from '@tether/terminal-engine';
import { z } from 'zod';

const HostEnvSchema = z.object(TerminalEnvShape);
export type HostEnv = z.output<typeof HostEnvSchema>;

export class HostConfigError extends Error {}

export function loadHostEnv(env: NodeJS.ProcessEnv = process.env): HostEnv {
  const parsed = HostEnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new HostConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  return parsed.data;
}

export const SECRET_FILE = 'terminal-host.secret';
export const SOCKET_FILE = 'terminal-host.sock';

export function socketPathOf(e: HostEnv): string {
  const socketPath = path.resolve(e.TERMINAL_HOST_SOCKET ?? path.join(e.DATA_DIR, SOCKET_FILE));
  if (Buffer.byteLength(socketPath) > UNIX_SOCKET_PATH_MAX)
    throw new HostConfigError(
      `TERMINAL_HOST_SOCKET: ${socketPath} is longer than a Unix socket path may be (${UNIX_SOCKET_PATH_MAX} bytes); set a shorter one`,
    );
  return socketPath;
}

/**
 * The secret the API and the host share, in DATA_DIR (mode 0600): created by whichever of the two
 * starts first, read by the other. Only processes that can read DATA_DIR can use the socket.
 */
export function sharedSecret(dataDir: string): string {
  const file = path.join(path.resolve(dataDir), SECRET_FILE);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const secret = randomBytes(32).toString('base64url');
  try {
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    // The other process created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8').trim();
    throw err;
  }
  chmodSync(file, 0o600);
  return secret;
}
