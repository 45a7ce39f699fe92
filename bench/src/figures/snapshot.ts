import type { BenchContext, FigureResult } from '../context.ts';
import { median, percentile, round, sleep } from '../stats.ts';
import { BenchTerminal, timeFreshAttach } from '../terminal-client.ts';

const LINES = 1_040; // 1,000 lines of scrollback behind a full 120×40 screen

/**
 * Snapshot of a full screen: a 120×40 terminal whose program printed 1,040 coloured lines (SGR
 * per field, bold, wide characters, lines long enough to wrap), so the snapshot carries a full
 * screen and 1,000 lines of scrollback. A fresh client attaches (no resumeFrom) and the time to
 * `snapshot` + `ready` is measured: the mirror's serialization in the terminal host plus the trip
 * through the API. The first attach also parses the output (the mirror parses lazily); later
 * ones serialize an already parsed screen. Reference: the same output replayed from the ring
 * (attach with resumeFrom at its start, time to its last byte), what a client without snapshots
 * would have to receive and parse instead.
 */
export async function snapshotFigure(ctx: BenchContext): Promise<FigureResult> {
  const rounds = ctx.quick ? 4 : 12;
  const live = await BenchTerminal.connect(ctx.broker.url, ctx.user);
  const id = await live.openShell(ctx.sshd);
  const start = live.offset;
  const done = live.waitForOutput('__SNAP""DONE__', 30_000);
  live.type(
    `awk 'BEGIN{for(i=1;i<=${LINES};i++) printf "\\033[3%dm%05d \\033[1;4%dm%s\\033[0m ok \\342\\234\\223 \\344\\270\\255\\346\\226\\207 %s\\n", i%8, i, i%8, "field", substr("${'x'.repeat(140)}",1,40+i%120)}'; echo __SNAP""DONE__\r`,
  );
  await done;
  await sleep(200);
  const end = live.offset;
  const times: number[] = [];
  const sizes: number[] = [];
  const replay: number[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const fresh = await timeFreshAttach(ctx.broker.url, ctx.user, id);
      times.push(fresh.ms);
      sizes.push(fresh.snapshotBytes);

      const t1 = performance.now();
      const b = await BenchTerminal.connect(ctx.broker.url, ctx.user);
      const caughtUp = new Promise<void>((resolve) => {
        b.onData = () => {
          if (b.offset >= end) resolve();
        };
      });
      b.attach(id, start);
      await caughtUp;
      replay.push(performance.now() - t1);
      await b.close();
    }
    live.send({ type: 'terminate' });
  } finally {
    await live.close();
  }
  const warm = times.slice(1);
  const w = median(warm);
  const ref = median(replay.slice(1));
  return {
    id: 'snapshot',
    metrics: [
      {
        figure: 'snapshot',
        metric: `fresh attach, 120×40 + 1,000 lines scrollback: snapshot + ready (median of ${warm.length})`,
        unit: 'ms',
        broker: round(w, 1),
        reference: round(ref, 1),
        ratio: ref > 0 ? round(w / ref, 2) : null,
        target: '≤ 50 ms',
        pass: w <= 50,
      },
      {
        figure: 'snapshot',
        metric: 'same, first attach (output parsed on demand)',
        unit: 'ms',
        broker: round(times[0]!, 1),
        reference: null,
        ratio: null,
        target: 'report',
        pass: null,
      },
    ],
    detail: {
      rounds,
      lines: LINES,
      outputBytes: end - start,
      snapshotMs: times.map((v) => round(v, 2)),
      snapshotP95Ms: round(percentile(warm, 95), 2),
      snapshotBytes: sizes,
      replayMs: replay.map((v) => round(v, 2)),
    },
  };
}
