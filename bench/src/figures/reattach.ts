import type { BenchContext, FigureResult } from '../context.ts';
import { median, round, sleep } from '../stats.ts';
import { BenchTerminal, timeFreshAttach } from '../terminal-client.ts';

/** ~1 MB of output (740,000 bytes → 986,668 base64 chars in lines of 100, CR LF): fits the 1 MiB ring. */
const HEAD_BYTES = 740_000;

/**
 * Reattach: a terminal produced ~1 MB while nobody watched. Timed from creating the new
 * WebSocket (so handshake and auth count) to the first and to the last replayed byte
 * (`attach { resumeFrom }`), and to the snapshot + `ready` for a fresh client (no resumeFrom).
 */
export async function reattachFigure(ctx: BenchContext): Promise<FigureResult> {
  const rounds = ctx.quick ? 3 : 7;
  const first: number[] = [];
  const last: number[] = [];
  const snapshot: number[] = [];
  const replayed: number[] = [];
  const snapshotBytes: number[] = [];

  let live = await BenchTerminal.connect(ctx.broker.url, ctx.user);
  const prompt = live.waitForOutput('$ ', 20_000);
  const id = await live.open(
    { host: ctx.sshd.host, port: ctx.sshd.port, username: ctx.sshd.username },
    { method: 'publickey', privateKey: ctx.sshd.keys.plain.privateKey },
  );
  await prompt;
  try {
    for (let r = 0; r < rounds; r++) {
      ctx.log(`  reattach round ${r + 1}/${rounds}`);
      // Output that starts after we detach: the echoed command line is the last thing seen.
      const echoed = live.waitForOutput(`__RE""ATTACH_${r}__`, 20_000);
      live.type(`sleep 0.3; head -c ${HEAD_BYTES} /dev/zero | base64 -w 100; echo __RE""ATTACH_${r}__\r`);
      await echoed;
      await sleep(50);
      const resumeFrom = live.offset;
      await live.close();
      await sleep(1_500); // sleep 0.3 + ~1 MB through the PTY, with margin

      // Replay from the ring.
      const t0 = performance.now();
      const b = await BenchTerminal.connect(ctx.broker.url, ctx.user);
      let tFirst = 0;
      b.onData = () => {
        if (!tFirst) tFirst = performance.now();
      };
      const done = b.waitForOutput(`__REATTACH_${r}__`, 20_000);
      b.attach(id, resumeFrom);
      const ready = await b.waitFor('ready');
      if (!ready.replay || ready.offset !== resumeFrom) throw new Error('expected a ring replay');
      const tLast = await done;
      first.push(tFirst - t0);
      last.push(tLast - t0);
      replayed.push(b.received);

      // A fresh client: snapshot of the mirror.
      const fresh = await timeFreshAttach(ctx.broker.url, ctx.user, id);
      snapshot.push(fresh.ms);
      snapshotBytes.push(fresh.snapshotBytes);
      live = b;
    }
    live.send({ type: 'terminate' });
  } finally {
    await live.close();
  }

  const f = median(first);
  const l = median(last);
  const s = median(snapshot);
  return {
    id: 'reattach',
    metrics: [
      {
        figure: 'reattach',
        metric: `replay ~1 MB: first byte (median of ${rounds})`,
        unit: 'ms',
        broker: round(f, 1),
        reference: null,
        ratio: null,
        target: '< 50 ms',
        pass: f < 50,
      },
      {
        figure: 'reattach',
        metric: 'replay ~1 MB: last byte',
        unit: 'ms',
        broker: round(l, 1),
        reference: null,
        ratio: null,
        target: '< 200 ms',
        pass: l < 200,
      },
      {
        figure: 'reattach',
        metric: 'snapshot attach (snapshot + ready)',
        unit: 'ms',
        broker: round(s, 1),
        reference: null,
        ratio: null,
        target: '< 200 ms',
        pass: s < 200,
      },
    ],
    detail: {
      rounds,
      firstByteMs: first.map((v) => round(v, 2)),
      lastByteMs: last.map((v) => round(v, 2)),
      snapshotMs: snapshot.map((v) => round(v, 2)),
      replayedBytes: replayed,
      snapshotBytes,
    },
  };
}
