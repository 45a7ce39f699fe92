import type { BenchContext, FigureResult } from '../context.ts';
import { OpenSshShell } from '../openssh.ts';
import { cpuMs, median, round } from '../stats.ts';
import { BenchTerminal } from '../terminal-client.ts';

const MARKER = '__BENCH_DONE__';

/**
 * Bulk output: `head -c SIZE /dev/zero | base64 -w 100` in a PTY, timed from typing the command
 * to seeing the end marker. Reference: the same command in an `ssh -tt` shell. Both sides have
 * their session established before the clock starts, so only the stream is measured. CPU: the
 * broker's user + system time per MB delivered, its API and terminal host processes together
 * (decryption and screen mirror in the host, the local channel, WebSocket frames in the API; the
 * bench's own client is not counted) next to the `ssh` client's per MB (decryption,
 * writing its terminal).
 */
export async function bulkFigure(ctx: BenchContext): Promise<FigureResult> {
  const size = ctx.quick ? '20M' : '200M';
  const rounds = ctx.quick ? 2 : 5;
  const command = `head -c ${size} /dev/zero | base64 -w 100; echo __BENCH_""DONE__\r`;
  const timeoutMs = ctx.quick ? 60_000 : 180_000;
  const raw: number[] = [];
  const broker: number[] = [];
  const bytes: number[] = [];
  const rawCpuPerMB: number[] = [];
  const brokerCpuPerMB: number[] = [];

  const runRaw = async () => {
    const ssh = new OpenSshShell(ctx);
    try {
      await ssh.waitForOutput('$ ', 20_000);
      const before = ssh.received;
      const cpu0 = cpuMs(ssh.pid);
      const t0 = performance.now();
      const done = ssh.waitForOutput(MARKER, timeoutMs);
      ssh.type(command);
      const t1 = await done;
      const n = ssh.received - before;
      raw.push(n / 1e6 / ((t1 - t0) / 1000));
      rawCpuPerMB.push((cpuMs(ssh.pid) - cpu0) / (n / 1e6));
      bytes.push(n);
    } finally {
      await ssh.close();
    }
  };

  const runBroker = async () => {
    const term = await BenchTerminal.connect(ctx.broker.url, ctx.user);
    try {
      await term.openShell(ctx.sshd);
      const before = term.received;
      const cpu0 = ctx.broker.cpuMs();
      const t0 = performance.now();
      const done = term.waitForOutput(MARKER, timeoutMs);
      term.type(command);
      const t1 = await done;
      const n = term.received - before;
      broker.push(n / 1e6 / ((t1 - t0) / 1000));
      brokerCpuPerMB.push((ctx.broker.cpuMs() - cpu0) / (n / 1e6));
      bytes.push(n);
      term.send({ type: 'terminate' });
    } finally {
      await term.close();
    }
  };

  for (let r = 0; r < rounds; r++) {
    ctx.log(`  bulk round ${r + 1}/${rounds}`);
    if (r % 2 === 0) {
      await runRaw();
      await runBroker();
    } else {
      await runBroker();
      await runRaw();
    }
  }
  const b = median(broker);
  const ref = median(raw);
  const ratio = b / ref;
  const cpuB = median(brokerCpuPerMB);
  const cpuRef = median(rawCpuPerMB);
  const cpuRatio = cpuB / cpuRef;
  return {
    id: 'bulk',
    metrics: [
      {
        figure: 'bulk output',
        metric: `throughput (${size} base64 in a pty)`,
        unit: 'MB/s',
        broker: round(b, 1),
        reference: round(ref, 1),
        ratio: round(ratio, 3),
        target: 'broker >= 90% of ssh -tt',
        pass: ratio >= 0.9,
      },
      {
        figure: 'bulk output',
        metric: 'CPU per MB: broker process vs the ssh client',
        unit: 'ms/MB',
        broker: round(cpuB, 2),
        reference: round(cpuRef, 2),
        ratio: round(cpuRatio, 2),
        target: '<= 1.5x ssh',
        pass: cpuRatio <= 1.5,
      },
    ],
    detail: {
      size,
      rounds,
      brokerMBps: broker.map((v) => round(v, 2)),
      rawMBps: raw.map((v) => round(v, 2)),
      brokerCpuMsPerMB: brokerCpuPerMB.map((v) => round(v, 2)),
      sshCpuMsPerMB: rawCpuPerMB.map((v) => round(v, 2)),
      bytes,
    },
  };
}
