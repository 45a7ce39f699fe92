import type { BenchContext, FigureResult, Metric } from '../context.ts';
import { median, round, sleep } from '../stats.ts';
import { BenchTerminal, timeFreshAttach } from '../terminal-client.ts';

const MiB = 1024 * 1024;
/** Scrollback lengths measured: the broker's old fixed mirror, the web app's default, the cap. */
const SIZES = [1_000, 5_000, 10_000];

/**
 * What a longer scrollback costs the broker (issue #17): for each length, K terminals of 120×40
 * are opened with `scrollback` set to it, their program prints that many coloured lines of
 * 60–100 characters and a screenful more, and a fresh client attaches to each (so its mirror is
 * parsed and live, as after a reload). Reported per terminal: the broker's RSS (API + terminal
 * host, after a full GC) grown by the K terminals, everything included (ring buffer, SSH
 * channel, mirror), and the fresh attach's snapshot time and size. The 1,000-line row is the
 * reference: the difference is what the extra lines cost. A mirror left idle for five minutes
 * hibernates into its serialized form (the snapshot's size), not measured here.
 */
export async function scrollbackFigure(ctx: BenchContext): Promise<FigureResult> {
  const k = ctx.quick ? 3 : 8;
  const rows: Array<{ lines: number; rssPerTerminal: number; snapshotMs: number; snapshotBytes: number }> =
    [];
  for (const lines of SIZES) {
    const before = await ctx.broker.settledRss();
    const clients: BenchTerminal[] = [];
    const ids: string[] = [];
    const times: number[] = [];
    const sizes: number[] = [];
    try {
      for (let i = 0; i < k; i++) {
        const c = await BenchTerminal.connect(ctx.broker.url, ctx.user);
        clients.push(c);
        ids.push(await c.openShell(ctx.sshd, lines));
        const done = c.waitForOutput('__SB""DONE__', 60_000);
        c.type(
          `awk 'BEGIN{for(i=1;i<=${lines + 40};i++) printf "\\033[3%dm%06d\\033[0m %s\\n", i%8, i, substr("${'abcdefghij'.repeat(10)}",1,60+i%40)}'; echo __SB""DONE__\r`,
        );
        await done;
      }
      await sleep(200);
      for (const id of ids) {
        const fresh = await timeFreshAttach(ctx.broker.url, ctx.user, id, lines);
        times.push(fresh.ms);
        sizes.push(fresh.snapshotBytes);
      }
      const after = await ctx.broker.settledRss();
      rows.push({
        lines,
        rssPerTerminal: (after - before) / k,
        snapshotMs: median(times),
        snapshotBytes: median(sizes),
      });
      ctx.log(
        `  scrollback ${lines}: ${round((after - before) / k / MiB, 2)} MiB per terminal, snapshot ${round(median(times), 1)} ms, ${median(sizes)} B`,
      );
    } finally {
      for (const c of clients) {
        c.send({ type: 'terminate' });
        await c.close();
      }
      await sleep(500);
    }
  }
  const base = rows[0]!;
  const metrics: Metric[] = rows.flatMap((r) => [
    {
      figure: 'scrollback',
      metric: `${r.lines.toLocaleString('en')} lines kept: broker RSS per terminal (mirror live, ring, channel)`,
      unit: 'MiB',
      broker: round(r.rssPerTerminal / MiB, 2),
      reference: round(base.rssPerTerminal / MiB, 2),
      ratio: base.rssPerTerminal > 0 ? round(r.rssPerTerminal / base.rssPerTerminal, 2) : null,
      target: 'report',
      pass: null,
    },
    {
      figure: 'scrollback',
      metric: `${r.lines.toLocaleString('en')} lines kept: fresh attach, snapshot + ready (median of ${k})`,
      unit: 'ms',
      broker: round(r.snapshotMs, 1),
      reference: round(base.snapshotMs, 1),
      ratio: base.snapshotMs > 0 ? round(r.snapshotMs / base.snapshotMs, 2) : null,
      target: 'report',
      pass: null,
    },
  ]);
  return {
    id: 'scrollback',
    metrics,
    detail: {
      terminals: k,
      rows: rows.map((r) => ({
        lines: r.lines,
        rssPerTerminalMiB: round(r.rssPerTerminal / MiB, 3),
        perThousandLinesMiB: round(
          (r.rssPerTerminal - base.rssPerTerminal) / MiB / ((r.lines - base.lines) / 1000 || 1),
          3,
        ),
        snapshotMs: round(r.snapshotMs, 2),
        snapshotBytes: r.snapshotBytes,
      })),
    },
  };
}
