import { z } from 'zod';
import type { TerminalManagerConfig } from './terminal-manager.js';

/**
 * Environment variables read by both processes of a node: the API (which validates and documents
 * all of them) and the terminal host (which holds the terminals these limits apply to). One
 * definition, so both read a variable the same way.
 */

/** Durations accept plain milliseconds or a number with a unit: `500ms`, `30s`, `15m`, `12h`, `7d`. */
export const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value, ctx) => {
      const match = /^(\d+)(ms|s|m|h|d)?$/.exec(value.trim());
      if (!match) {
        ctx.addIssue({
          code: 'custom',
          message: `"${value}" is not a duration (examples: 500ms, 30s, 15m, 12h)`,
        });
        return z.NEVER;
      }
      const unit = match[2] ?? 'ms';
      const factor = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit] ?? 1;
      return Number(match[1]) * factor;
    });

export const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const int = (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

export const list = z
  .string()
  .default('')
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );

/** Longest Unix socket path Linux accepts (sun_path is 108 bytes with its NUL). */
export const UNIX_SOCKET_PATH_MAX = 107;
/**
 * Longest TERMINAL_HOST_SOCKET: each host generation listens on `<socket>.<8 hex digits>`
 * (packages/host-protocol, generations.ts), 9 bytes longer.
 */
export const TERMINAL_HOST_SOCKET_MAX = UNIX_SOCKET_PATH_MAX - 9;

/** The variables that configure terminals, read by the API and the terminal host alike. */
export const TerminalEnvShape = {
  DATA_DIR: z.string().default('./data'),
  MAX_CONNECTIONS: int(500, 1),
  MAX_TERMINALS_PER_USER: int(20, 1),
  CONNECTION_TIMEOUT: duration('15s'),
  TERMINAL_BUFFER_BYTES: int(1024 * 1024, 4096, 256 * 1024 * 1024),
  TERMINAL_DETACHED_TIMEOUT: duration('30m'),
  /** How long an ended terminal's output stays replayable on its host (its last screen stays longer, in the database). */
  TERMINAL_ENDED_RETENTION: duration('5m'),
  TERMINAL_SCROLLBACK: int(1000, 0, 100_000),
  TERMINAL_SCROLLBACK_MAX: int(10_000, 0, 100_000),
  SSH_ALLOWED_TARGETS: list,
  SSH_DENIED_TARGETS: list,
  SSH_KEEPALIVE_INTERVAL: duration('15s'),
  SSH_KEEPALIVE_COUNT_MAX: int(3, 1, 100),
  /** The terminal host's Unix socket; default `DATA_DIR/terminal-host.sock`. */
  TERMINAL_HOST_SOCKET: z.string().optional(),
  /**
   * How long a terminal host that a newer generation replaced keeps serving its terminals before
   * it ends them (announced to their viewers when the drain starts); it exits sooner when its
   * last terminal ends.
   */
  TERMINAL_HOST_DRAIN: duration('24h'),
  /**
   * Heap limit of a terminal host the API starts (TERMINAL_HOST=spawn), in MiB: Node's
   * `--max-old-space-size`. Unset: Node's default. A host run as a service takes the flag (or
   * NODE_OPTIONS) from its unit.
   */
  TERMINAL_HOST_MEMORY: z.coerce.number().int().min(64).max(1_048_576).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};
export const TerminalEnvSchema = z.object(TerminalEnvShape);
export type TerminalEnv = z.output<typeof TerminalEnvSchema>;

export function terminalManagerConfig(e: TerminalEnv): TerminalManagerConfig {
  return {
    maxTerminalsPerUser: e.MAX_TERMINALS_PER_USER,
    maxConnections: e.MAX_CONNECTIONS,
    connectTimeoutMs: e.CONNECTION_TIMEOUT,
    bufferBytes: e.TERMINAL_BUFFER_BYTES,
    detachedTimeoutMs: e.TERMINAL_DETACHED_TIMEOUT,
    endedRetentionMs: e.TERMINAL_ENDED_RETENTION,
    scrollback: e.TERMINAL_SCROLLBACK,
    scrollbackMax: e.TERMINAL_SCROLLBACK_MAX,
    keepaliveIntervalMs: e.SSH_KEEPALIVE_INTERVAL,
    keepaliveCountMax: e.SSH_KEEPALIVE_COUNT_MAX,
  };
}
