import { hash, verify } from '@node-rs/argon2';
import { createUser, login, ROOT } from '../broker.ts';
import type { BenchContext, FigureResult } from '../context.ts';
import { median, percentile, round } from '../stats.ts';

const CLIENTS = 20;
const PASSWORD = 'bench-login-password';

/**
 * Logins: 20 concurrent clients, each its own user (one live session per user: every login
 * revokes that user's previous session), logging in back to back. Reference: one argon2id
 * verify with the broker's own library and parameters, in this process, between the rounds.
 */
export async function loginsFigure(ctx: BenchContext): Promise<FigureResult> {
  const perClient = ctx.quick ? 20 : 200;
  const rounds = ctx.quick ? 2 : 4;
  const perRound = Math.ceil(perClient / rounds);
  const users = Array.from({ length: CLIENTS }, (_, i) => `bench-login-${String(i + 1).padStart(2, '0')}`);
  for (const u of users) await createUser(ctx.broker.url, ctx.admin, u, PASSWORD);

  const options = await argon2Options();
  const hashed = await hash(PASSWORD, options);
  await verify(hashed, PASSWORD);

  const latencies: number[] = [];
  const reference: number[] = [];
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    ctx.log(`  logins round ${r + 1}/${rounds} (${CLIENTS} clients x ${perRound})`);
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      if (!(await verify(hashed, PASSWORD))) throw new Error('argon2 reference failed');
      reference.push(performance.now() - t0);
    }
    const t0 = performance.now();
    await Promise.all(
      users.map(async (u) => {
        for (let i = 0; i < perRound; i++) {
          const s = performance.now();
          await login(ctx.broker.url, u, PASSWORD);
          latencies.push(performance.now() - s);
        }
      }),
    );
    rates.push((CLIENTS * perRound) / ((performance.now() - t0) / 1000));
  }
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  const ref = median(reference);
  return {
    id: 'logins',
    metrics: [
      {
        figure: 'logins',
        metric: `p50 (${CLIENTS} clients x ${perClient}) vs one argon2id verify`,
        unit: 'ms',
        broker: round(p50, 1),
        reference: round(ref, 1),
        ratio: round(p50 / ref, 2),
        target: '-',
        pass: null,
      },
      {
        figure: 'logins',
        metric: 'p99',
        unit: 'ms',
        broker: round(p99, 1),
        reference: round(percentile(reference, 99), 1),
        ratio: null,
        target: '< 250 ms',
        pass: p99 < 250,
      },
      {
        figure: 'logins',
        metric: 'throughput',
        unit: 'logins/s',
        broker: round(median(rates), 1),
        reference: round(1000 / ref, 1),
        ratio: null,
        target: '-',
        pass: null,
      },
    ],
    detail: {
      clients: CLIENTS,
      perClient,
      rounds,
      argon2: options,
      loginMs: { p50, p90: percentile(latencies, 90), p99, max: percentile(latencies, 100) },
      referenceVerifyMs: { p50: ref, p99: percentile(reference, 99) },
      loginsPerSecondByRound: rates.map((v) => round(v, 1)),
    },
  };
}

/** The broker's own argon2 parameters, read from its build. */
async function argon2Options(): Promise<Parameters<typeof hash>[1]> {
  const mod = (await import(`${ROOT}/apps/api/dist/auth/passwords.js`)) as {
    ARGON2_OPTIONS: NonNullable<Parameters<typeof hash>[1]>;
  };
  return { ...mod.ARGON2_OPTIONS };
}
