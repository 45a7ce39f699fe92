import ssh2 from 'ssh2';
import type { BenchContext, FigureResult } from '../context.ts';
import { percentile, round, sleep, withTimeout } from '../stats.ts';
import { BenchTerminal } from '../terminal-client.ts';

const INTERVAL_MS = 50; // 20 keystrokes per second

interface EchoSide {
  type(data: Buffer): void;
  onData: ((chunk: Buffer) => void) | null;
}

/**
 * Keystroke echo: one byte in, its echo out. The remote runs `cat > /dev/null` in a cooked
 * PTY, so the echo comes from the kernel's line discipline: no remote program is in the path.
 * Reference: the same through a direct ssh2 client (the broker's own SSH library, minus the
 * broker and the WebSocket hop).
 */
export async function echoFigure(ctx: BenchContext): Promise<FigureResult> {
  const samples = ctx.quick ? 200 : 1000;
  const rounds = ctx.quick ? 2 : 4;
  const perRound = Math.ceil(samples / rounds);

  const { Client } = ssh2;
  const client = new Client();
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve());
      client.once('error', reject);
      client.connect({
        host: ctx.sshd.host,
        port: ctx.sshd.port,
        username: ctx.sshd.username,
        privateKey: ctx.sshd.keys.plain.privateKey,
      });
    }),
    20_000,
    'ssh2 connect',
  );
  const channel = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
    client.shell({ term: 'xterm-256color', cols: 120, rows: 40 }, (err, ch) =>
      err ? reject(err) : resolve(ch),
    ),
  );
  const raw: EchoSide & { received: number } = {
    received: 0,
    onData: null,
    type: (data) => channel.write(data),
  };
  channel.on('data', (chunk: Buffer) => {
    raw.received += chunk.length;
    raw.onData?.(chunk);
  });

  const term = await BenchTerminal.connect(ctx.broker.url, ctx.user);
  const rawLat: number[] = [];
  const brokerLat: number[] = [];
  try {
    await term.open(
      { host: ctx.sshd.host, port: ctx.sshd.port, username: ctx.sshd.username },
      { method: 'publickey', privateKey: ctx.sshd.keys.plain.privateKey },
    );
    const wrapped: EchoSide = {
      get onData() {
        return term.onData;
      },
      set onData(fn) {
        term.onData = fn;
      },
      type: (data) => term.type(data),
    };
    for (const side of [raw, wrapped]) await startCat(side);

    for (let r = 0; r < rounds; r++) {
      ctx.log(`  echo round ${r + 1}/${rounds} (${perRound} samples each side)`);
      const order: Array<[EchoSide, number[]]> =
        r % 2 === 0
          ? [
              [raw, rawLat],
              [wrapped, brokerLat],
            ]
          : [
              [wrapped, brokerLat],
              [raw, rawLat],
            ];
      for (const [side, out] of order) out.push(...(await sample(side, perRound)));
    }
    term.send({ type: 'terminate' });
  } finally {
    await term.close();
    client.end();
  }

  const bp50 = percentile(brokerLat, 50);
  const bp99 = percentile(brokerLat, 99);
  const rp50 = percentile(rawLat, 50);
  const rp99 = percentile(rawLat, 99);
  return {
    id: 'echo',
    metrics: [
      {
        figure: 'keystroke echo',
        metric: `p50 (${brokerLat.length} samples at 20/s)`,
        unit: 'ms',
        broker: round(bp50, 3),
        reference: round(rp50, 3),
        ratio: round(bp50 / rp50, 2),
        target: '-',
        pass: null,
      },
      {
        figure: 'keystroke echo',
        metric: 'p99',
        unit: 'ms',
        broker: round(bp99, 3),
        reference: round(rp99, 3),
        ratio: round(bp99 / rp99, 2),
        target: 'p99 <= ssh2 p99 + 2 ms',
        pass: bp99 <= rp99 + 2,
      },
    ],
    detail: {
      samplesPerSide: brokerLat.length,
      rounds,
      broker: { p50: bp50, p90: percentile(brokerLat, 90), p99: bp99, max: percentile(brokerLat, 100) },
      reference: { p50: rp50, p90: percentile(rawLat, 90), p99: rp99, max: percentile(rawLat, 100) },
    },
  };
}

async function startCat(side: EchoSide): Promise<void> {
  let seen = '';
  // The echoed command line comes back first; the marker proves cat is running.
  // Typed even if the prompt is not drawn yet: the shell reads it once it is ready.
  const started = new Promise<void>((resolve) => {
    side.onData = (chunk) => {
      seen += chunk.toString('latin1');
      if (seen.includes('CAT_READY')) resolve();
    };
  });
  side.type(Buffer.from('echo CAT_""READY; exec cat > /dev/null\r'));
  await withTimeout(started, 20_000, 'cat start');
  await sleep(300);
  side.onData = null;
}

/** `count` keystrokes at 20/s; each latency is send → first byte of output. */
async function sample(side: EchoSide, count: number): Promise<number[]> {
  const out: number[] = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const due = start + i * INTERVAL_MS;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const echoed = new Promise<number>((resolve) => {
      side.onData = () => {
        side.onData = null;
        resolve(performance.now());
      };
    });
    const t0 = performance.now();
    side.type(Buffer.from([0x61 + (i % 26)]));
    const t1 = await withTimeout(echoed, 5_000, 'keystroke echo');
    out.push(t1 - t0);
  }
  return out;
}
