import { Agent, request } from 'node:http';
import os from 'node:os';
import { hash, verify } from '@node-rs/argon2';
import { createUser, FINGERPRINT_COOKIE, ROOT } from '../broker.ts';
import type { BenchContext, FigureResult } from '../context.ts';
import { median, percentile, round } from '../stats.ts';

const CLIENTS = 20;
const PASSWORD = 'bench-login-password';
const WARMUP = 75; // logins per client before the clock starts (~15 s)

/**
 * Logins: 20 concurrent clients, each its own user (one live session per user: every login
 * revokes that user's previous session), logging in back to back. References, with the broker's
 * own argon2 library and parameters, in this process, between the rounds: one argon2id verify,
 * and the machine's argon2id ceiling — as many verifies at once as there are cores, nothing
 * else running. Every login costs one verify, so no broker can sign in more users per second
 * than that ceiling, and 20 clients in a closed loop wait at least 20 / ceiling at the median
 * (Little's law): the floor is printed so that a machine on which the target cannot be reached
 * says so. A warm-up of WARMUP logins per client comes first and is not counted.
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
  const ceilings: number[] = [];
  // The verifies run on libuv's pool (4 threads unless UV_THREADPOOL_SIZE says otherwise): on a
  // machine with more cores than that the ceiling would be understated, so say how many ran.
  const cores = Math.min(os.availableParallelism(), Number(process.env.UV_THREADPOOL_SIZE) || 4);
  const rates: number[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  const runClients = (count: number, record: boolean) =>
    Promise.all(
      users.map(async (u) => {
        for (let i = 0; i < count; i++) {
          const s = performance.now();
          await signIn(agent, ctx.broker.url, u);
          if (record) latencies.push(performance.now() - s);
        }
      }),
    );
  // Not counted: the first logins of a fresh broker run while V8 is still compiling the login
  // path (and, with PGlite, the database's WebAssembly), at ~80 % of the steady rate.
  ctx.log(`  logins warm-up (${CLIENTS} clients x ${WARMUP}, not counted)`);
  await runClients(WARMUP, false);
  for (let r = 0; r < rounds; r++) {
    ctx.log(`  logins round ${r + 1}/${rounds} (${CLIENTS} clients x ${perRound})`);
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      if (!(await verify(hashed, PASSWORD))) throw new Error('argon2 reference failed');
      reference.push(performance.now() - t0);
    }
    ceilings.push(await argon2Ceiling(hashed, cores));
    const t0 = performance.now();
    await runClients(perRound, true);
    rates.push((CLIENTS * perRound) / ((performance.now() - t0) / 1000));
  }
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  const ref = median(reference);
  const ceiling = median(ceilings);
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
        metric: `throughput vs argon2id alone, ${cores} at once`,
        unit: 'logins/s',
        broker: round(median(rates), 1),
        reference: round(ceiling, 1),
        ratio: round(median(rates) / ceiling, 3),
        target: '-',
        pass: null,
      },
      {
        figure: 'logins',
        metric: `least p50 the argon2id ceiling allows (${CLIENTS} / ceiling)`,
        unit: 'ms',
        broker: round(p50, 1),
        reference: round((CLIENTS / ceiling) * 1000, 1),
        ratio: round(p50 / ((CLIENTS / ceiling) * 1000), 2),
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
      argon2CeilingPerSecondByRound: ceilings.map((v) => round(v, 1)),
      cores,
      loginsPerSecondByRound: rates.map((v) => round(v, 1)),
    },
  };
}

/**
 * One login over a kept-alive node:http connection, checked like a browser would (200, a token,
 * the fingerprint cookie). Not `fetch`: its per-request cost in this process is several times
 * node:http's, and on a 2-core machine the bench's clients share the CPU with the broker (real
 * browsers would not).
 */
function signIn(agent: Agent, url: string, username: string): Promise<void> {
  const body = JSON.stringify({ username, password: PASSWORD });
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/api/auth/login`,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': 'tether-bench',
        },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const cookie = (res.headers['set-cookie'] ?? []).some((c) =>
            c.startsWith(`${FINGERPRINT_COOKIE}=`),
          );
          if (res.statusCode !== 200 || !cookie || !(JSON.parse(text) as { token?: string }).token)
            reject(new Error(`login ${username}: HTTP ${res.statusCode} ${text.slice(0, 200)}`));
          else resolve();
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`login ${username}: timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Verifies per second with `cores` verifies always in flight. */
async function argon2Ceiling(hashed: string, cores: number, perCore = 10): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: cores }, async () => {
      for (let i = 0; i < perCore; i++)
        if (!(await verify(hashed, PASSWORD))) throw new Error('argon2 reference failed');
    }),
  );
  return (cores * perCore) / ((performance.now() - t0) / 1000);
}

/** The broker's own argon2 parameters, read from its build. */
async function argon2Options(): Promise<Parameters<typeof hash>[1]> {
  const mod = (await import(`${ROOT}/apps/api/dist/auth/passwords.js`)) as {
    ARGON2_OPTIONS: NonNullable<Parameters<typeof hash>[1]>;
  };
  return { ...mod.ARGON2_OPTIONS };
}
