import { ADMIN, createUser, login } from '../broker.ts';
import type { BenchContext, FigureResult } from '../context.ts';
import { percentile, round, sleep } from '../stats.ts';
import { BenchTerminal } from '../terminal-client.ts';

/**
 * API restart under an open terminal (issue #15): the API process is killed (`kill -9`, a crash)
 * or stopped (SIGTERM, a deploy) and started again on the same port and data, while the terminal
 * host keeps the SSH session. Timed from the signal to the first byte echoed through the new
 * API: a client that retries every 50 ms connects, authenticates with the token it had, attaches
 * with `resumeFrom` and types one byte. That includes the new process's start-up (Node, the
 * embedded database, the reconnect to the host). Target: p95 <= 2 s.
 */
export async function restartFigure(ctx: BenchContext): Promise<FigureResult> {
  const rounds = ctx.quick ? 4 : 10;
  const broker = await ctx.startBroker();
  const times: Record<'SIGKILL' | 'SIGTERM', number[]> = { SIGKILL: [], SIGTERM: [] };
  try {
    const admin = await login(broker.url, ADMIN.username, ADMIN.password);
    await createUser(broker.url, admin, 'bench-restart', 'bench-restart-password');
    const user = await login(broker.url, 'bench-restart', 'bench-restart-password');
    let term = await BenchTerminal.connect(broker.url, user);
    const id = await term.openShell(ctx.sshd);
    const ready = term.waitForOutput('RESTART-READY', 20_000);
    term.type('echo RESTART-""READY; exec cat > /dev/null\r');
    await ready;
    for (let r = 0; r < rounds; r++) {
      const signal = r % 2 === 0 ? 'SIGKILL' : 'SIGTERM';
      ctx.log(`  restart round ${r + 1}/${rounds} (${signal})`);
      await sleep(300);
      const resumeFrom = term.offset;
      const t0 = performance.now();
      const restarted = broker.restartApi(signal);
      let next: BenchTerminal | null = null;
      while (!next) {
        try {
          const t = await BenchTerminal.connect(broker.url, user);
          t.attach(id, resumeFrom);
          await t.waitFor('ready', 10_000);
          next = t;
        } catch {
          await sleep(50);
        }
      }
      const marker = `q${r}z`;
      const echoed = next.waitForOutput(marker, 10_000);
      next.type(marker);
      const t1 = await echoed;
      times[signal].push(t1 - t0);
      await restarted;
      await term.close();
      term = next;
    }
    term.send({ type: 'terminate' });
    await term.close();
  } finally {
    await broker.stop();
  }
  const all = [...times.SIGKILL, ...times.SIGTERM];
  const p95 = percentile(all, 95);
  return {
    id: 'restart',
    metrics: [
      {
        figure: 'API restart',
        metric: `signal → first echo through the new API, p95 of ${all.length} (kill -9 and SIGTERM alternating)`,
        unit: 'ms',
        broker: round(p95, 1),
        reference: null,
        ratio: null,
        target: 'p95 <= 2000 ms',
        pass: p95 <= 2000,
      },
    ],
    detail: {
      rounds,
      ms: {
        kill9: times.SIGKILL.map((v) => round(v, 1)),
        sigterm: times.SIGTERM.map((v) => round(v, 1)),
        p50: round(percentile(all, 50), 1),
        p95: round(p95, 1),
      },
    },
  };
}
