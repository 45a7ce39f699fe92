import { randomBytes } from 'node:crypto';
import { freePort, startPostgres } from '@tether/testkit';
import { ADMIN, api, type Broker, createUser, login, startBroker } from '../broker.ts';
import type { BenchContext, FigureResult, Metric } from '../context.ts';
import { percentile, round, sleep } from '../stats.ts';
import { BenchTerminal } from '../terminal-client.ts';
import { interleaved, type Stats, sideOf, startCat, stats } from './echo.ts';

/** ~1 MB of output, as in the reattach figure: fits the 1 MiB ring. */
const HEAD_BYTES = 740_000;
const PASSWORD = 'bench-peer-password';

/**
 * Two nodes on one PostgreSQL with the peer link (issue #16): node A holds the terminals, the
 * client reaches them through node B, which forwards over the peer link.
 * - Attach through another node: a terminal printed ~1 MB while detached; a new socket attaches
 *   with `resumeFrom` through B and, alternately, straight to A (the reference); timed from
 *   creating the socket to the last replayed byte. Target: through B p95 <= 100 ms.
 * - Echo through the peer link: keystrokes interleaved on two terminals of A, one attached
 *   through B, one straight; what the forward adds at p50. Target: <= 0.3 ms.
 * - Revocation across nodes: a socket on B, sign-out through A, until B closes the socket.
 *   Reported (p50, p99); the test suite checks p99 < 1 s.
 * The figure runs its own PostgreSQL (PGlite serves one process).
 */
export async function peerFigure(ctx: BenchContext): Promise<FigureResult> {
  const rounds = ctx.quick ? 4 : 12;
  const samples = ctx.quick ? 200 : 1000;
  const warmup = ctx.quick ? 50 : 200;
  const trials = ctx.quick ? 30 : 100;
  const postgres = await startPostgres();
  const brokers: Broker[] = [];
  try {
    const shared = {
      DATABASE_URL: postgres.createDatabase('bench_peer'),
      JWT_SECRET: randomBytes(32).toString('hex'),
      ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      PEER_SECRET: randomBytes(32).toString('base64'),
      NODE_HEARTBEAT_INTERVAL: '500ms',
    };
    const node = async (id: string) => {
      const port = await freePort();
      const b = await startBroker({
        tmpDir: ctx.tmpDir,
        env: { ...shared, NODE_ID: id, PEER_URL: `https://127.0.0.1:${port}`, PEER_PORT: String(port) },
      });
      brokers.push(b);
      return b;
    };
    const a = await node('bench-a');
    const b = await node('bench-b');
    const admin = await login(a.url, ADMIN.username, ADMIN.password);
    await createUser(a.url, admin, 'bench-peer', PASSWORD);
    const user = await login(a.url, 'bench-peer', PASSWORD);
    await sleep(1_500); // B has seen A's heartbeat

    // ── attach through another node ──
    const direct: number[] = [];
    const viaPeer: number[] = [];
    let live = await BenchTerminal.connect(a.url, user);
    const id = await live.openShell(ctx.sshd);
    for (let r = 0; r < rounds; r++) {
      for (const through of [b, a]) {
        ctx.log(`  peer attach round ${r + 1}/${rounds} (${through === b ? 'through B' : 'straight to A'})`);
        const marker = `__PE""ER_${r}_${through === b ? 'B' : 'A'}__`;
        const echoed = live.waitForOutput(marker, 20_000);
        live.type(`sleep 0.3; head -c ${HEAD_BYTES} /dev/zero | base64 -w 100; echo ${marker}\r`);
        await echoed;
        await sleep(50);
        const resumeFrom = live.offset;
        await live.close();
        await sleep(1_500);
        const t0 = performance.now();
        const next = await BenchTerminal.connect(through.url, user);
        const done = next.waitForOutput(marker.replace('""', ''), 20_000);
        next.attach(id, resumeFrom);
        const ready = await next.waitFor('ready');
        if (!ready.replay || ready.offset !== resumeFrom) throw new Error('expected a ring replay');
        (through === b ? viaPeer : direct).push((await done) - t0);
        live = next;
      }
    }

    // ── echo through the peer link ──
    ctx.log(`  peer echo (${warmup} warm-up + ${samples} samples each side, interleaved)`);
    const straight = await BenchTerminal.connect(a.url, user);
    await straight.openShell(ctx.sshd);
    const opener = await BenchTerminal.connect(a.url, user);
    const forwardedId = await opener.openShell(ctx.sshd);
    await opener.close();
    const forwarded = await BenchTerminal.connect(b.url, user);
    forwarded.attach(forwardedId);
    await forwarded.waitFor('ready');
    const sides = [sideOf('straight to A', straight), sideOf('through B', forwarded)];
    for (const side of sides) await startCat(side);
    await interleaved(sides, warmup, false);
    await interleaved(sides, samples, true);
    const [echoA, echoB] = sides.map((s) => stats(s.samples)) as [Stats, Stats];
    for (const t of [straight, forwarded, live]) t.send({ type: 'terminate' });
    await Promise.all([straight.close(), forwarded.close(), live.close()]);

    // ── revocation across nodes ──
    ctx.log(`  revocation across nodes (${trials} trials)`);
    const revoked: number[] = [];
    for (let i = 0; i < trials; i++) {
      const session = await login(a.url, 'bench-peer', PASSWORD);
      const onB = await BenchTerminal.connect(b.url, session);
      const t0 = performance.now();
      const closed = onB.whenClosed();
      await api(a.url, session, 'POST', '/api/auth/logout');
      revoked.push((await closed) - t0);
    }

    const p95 = (v: number[]) => percentile(v, 95);
    const metrics: Metric[] = [
      {
        figure: 'peer link',
        metric: 'attach through another node: last byte of ~1 MB backlog, p95 vs straight to the owner',
        unit: 'ms',
        broker: round(p95(viaPeer), 1),
        reference: round(p95(direct), 1),
        ratio: round(p95(viaPeer) / p95(direct), 2),
        target: 'through B p95 <= 100 ms',
        pass: p95(viaPeer) <= 100,
      },
      {
        figure: 'peer link',
        metric: `echo p50 through the peer link vs straight (${samples} samples each)`,
        unit: 'ms',
        broker: round(echoB.p50, 3),
        reference: round(echoA.p50, 3),
        ratio: round(echoB.p50 / echoA.p50, 2),
        target: '<= straight + 0.3 ms',
        pass: echoB.p50 <= echoA.p50 + 0.3,
      },
      {
        figure: 'peer link',
        metric: 'echo p99 through the peer link vs straight',
        unit: 'ms',
        broker: round(echoB.p99, 3),
        reference: round(echoA.p99, 3),
        ratio: round(echoB.p99 / echoA.p99, 2),
        target: '-',
        pass: null,
      },
      {
        figure: 'peer link',
        metric: `revocation across nodes: sign-out on A until B closes the socket, p50 (${trials} trials)`,
        unit: 'ms',
        broker: round(percentile(revoked, 50), 1),
        reference: null,
        ratio: null,
        target: '-',
        pass: null,
      },
      {
        figure: 'peer link',
        metric: 'revocation across nodes, p99',
        unit: 'ms',
        broker: round(percentile(revoked, 99), 1),
        reference: null,
        ratio: null,
        target: '< 1000 ms',
        pass: percentile(revoked, 99) < 1_000,
      },
    ];
    return {
      id: 'peer',
      metrics,
      detail: { rounds, attachDirectMs: direct, attachViaPeerMs: viaPeer, echoA, echoB, revokedMs: revoked },
    };
  } finally {
    for (const broker of brokers) await broker.stop().catch(() => {});
    postgres.stop();
  }
}
