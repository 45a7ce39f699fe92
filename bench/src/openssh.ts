import { type ChildProcess, spawn } from 'node:child_process';
import type { BenchContext } from './context.ts';
import { withTimeout } from './stats.ts';

/**
 * The reference client: OpenSSH `ssh -tt` with an interactive login shell, driven through its
 * stdin/stdout pipes exactly as the bench drives a broker terminal.
 */
export class OpenSshShell {
  private readonly proc: ChildProcess;
  received = 0;
  /** The `ssh` client process (CPU accounting). */
  get pid(): number {
    return this.proc.pid!;
  }
  onData: ((chunk: Buffer) => void) | null = null;
  private readonly exited: Promise<void>;

  constructor(ctx: BenchContext) {
    this.proc = spawn(
      'ssh',
      [
        '-tt',
        '-i',
        ctx.keyPath,
        '-o',
        'BatchMode=yes',
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'LogLevel=ERROR',
        '-p',
        String(ctx.sshd.port),
        `${ctx.sshd.username}@${ctx.sshd.host}`,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.exited = new Promise((r) => this.proc.once('exit', () => r()));
    this.proc.stdout!.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      this.onData?.(chunk);
    });
    this.proc.stderr!.resume();
  }

  type(data: string | Buffer): void {
    this.proc.stdin!.write(data);
  }

  waitForOutput(needle: string, timeoutMs = 60_000): Promise<number> {
    return watchOutput(this, needle, timeoutMs);
  }

  async close(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.stdin!.end('exit\r');
    try {
      await withTimeout(this.exited, 5_000, 'ssh exit');
    } catch {
      this.proc.kill('SIGKILL');
      await this.exited;
    }
  }
}

/** Resolves (with performance.now()) once recent output contains `needle`. */
export function watchOutput(
  source: { onData: ((chunk: Buffer) => void) | null },
  needle: string,
  timeoutMs: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    let tail = '';
    const previous = source.onData;
    const timer = setTimeout(() => {
      source.onData = previous;
      reject(new Error(`timed out waiting for output ${JSON.stringify(needle)}`));
    }, timeoutMs);
    source.onData = (chunk) => {
      previous?.(chunk);
      tail = (tail + chunk.toString('latin1', Math.max(0, chunk.length - 512))).slice(-1024);
      if (tail.includes(needle)) {
        clearTimeout(timer);
        source.onData = previous;
        resolve(performance.now());
      }
    };
  });
}
