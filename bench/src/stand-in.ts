import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withTimeout } from './stats.ts';

export const STAND_IN_USER = 'bench';
export const STAND_IN_PASSWORD = 'bench-stand-in-password';

export interface StandIn {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Starts the ssh2 stand-in server (stand-in-server.ts) as a child process on loopback. */
export async function startStandIn(greetingBytes: number): Promise<StandIn> {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'stand-in-server.ts');
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: join(dirname(fileURLToPath(import.meta.url)), '..'),
    env: { ...process.env, GREETING_BYTES: String(greetingBytes) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const port = await withTimeout(
    new Promise<number>((resolve, reject) => {
      child.once('message', (msg: { port?: number }) =>
        msg.port ? resolve(msg.port) : reject(new Error('no port')),
      );
      child.once('exit', (code) => reject(new Error(`stand-in server exited (${code})`)));
    }),
    30_000,
    'stand-in server start',
  );
  return {
    host: '127.0.0.1',
    port,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      try {
        await withTimeout(exited, 10_000, 'stand-in stop');
      } catch {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
