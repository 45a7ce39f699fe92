import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TERMINAL_HOST_SOCKET_MAX, TerminalEnvShape } from '@tether/terminal-engine';
import { z } from 'zod';

const HostEnvSchema = z.object({
  ...TerminalEnvShape,
  // The peer port (issue #16), on when PEER_SECRET is set: other nodes' APIs attach here.
  PEER_SECRET: z
    .string()
    .optional()
    .transform((v) => (v?.trim() ? v.trim() : undefined))
    .refine((v) => v === undefined || v.length >= 32, 'must be at least 32 characters'),
  PEER_HOST: z.string().default('0.0.0.0'),
  PEER_PORT: z.coerce.number().int().min(0).max(65535).default(8081),
  NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'must be 1..63 letters, digits, dots, dashes or underscores')
    .optional(),
});
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
  if (Buffer.byteLength(socketPath) > TERMINAL_HOST_SOCKET_MAX)
    throw new HostConfigError(
      `TERMINAL_HOST_SOCKET: ${socketPath} is longer than a Unix socket path may be (${TERMINAL_HOST_SOCKET_MAX} bytes); set a shorter one`,
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

/**
 * This node's id: NODE_ID, else the one kept in DATA_DIR/node-id (created by whichever of the API
 * and the host needs it first). Tickets on the peer port name the node they are for.
 */
export function nodeIdOf(dataDir: string, configured?: string): string {
  if (configured) return configured;
  const file = path.join(path.resolve(dataDir), 'node-id');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const id = `node-${randomBytes(6).toString('hex')}`;
  try {
    writeFileSync(file, `${id}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8').trim();
    throw err;
  }
  return id;
}

/**
 * What identifies the host's code: the package version and a digest of the compiled JavaScript it
 * runs (its own and its workspace packages'), so a rebuild is a new build even at the same
 * version. The host reports it in `welcome.version`; an API that starts hosts (spawn) compares it
 * with the build installed beside it and starts a new generation when they differ (an upgrade).
 */
export function hostBuild(): string {
  const dirs = [
    path.dirname(fileURLToPath(import.meta.url)),
    ...['@tether/terminal-engine', '@tether/host-protocol', '@tether/protocol'].map((pkg) =>
      path.dirname(fileURLToPath(import.meta.resolve(pkg))),
    ),
  ];
  const hash = createHash('sha256');
  for (const dir of dirs) {
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.js'))
      .sort();
    for (const f of files) hash.update(f).update(readFileSync(path.join(dir, f)));
  }
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return `${pkg.version}+${hash.digest('hex').slice(0, 12)}`;
}
