import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { CloseCode, ErrorCode } from '@tether/protocol';
import {
  freePort,
  type NginxHarness,
  nginxSkipReason,
  type SshdHarness,
  sshdSkipReason,
  startNginx,
  startSshd,
} from '@tether/testkit';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrokerProcess, hostPid, openShell, startBroker } from './broker-process.js';
import { freshPostgresDatabase } from './helpers.js';
import { HttpBrowser } from './http-browser.js';
import { TestTerminalClient } from './ws-client.js';

const skip = nginxSkipReason() ?? sshdSkipReason();
if (skip && process.env.CI) throw new Error(`the many-nodes tests cannot run in CI: ${skip}`);

const PREFIX = '/ssh-ws';
const NODES = ['a', 'b', 'c'] as const;
type NodeName = (typeof NODES)[number];

/**
 * Three broker nodes on 127.0.0.2–.4, each an API process with its own terminal host process,
 * on one real PostgreSQL, behind the shipped nginx config (round-robin, no stickiness), with the
 * peer link between them; a real sshd. As an operator would run them, one process per node.
 */
describe.skipIf(skip)('three nodes behind nginx (issue #16)', () => {
  let sshd: SshdHarness;
  let nginx: NginxHarness;
  let url: string;
  const nodes = {} as Record<NodeName, { env: Record<string, string>; broker: BrokerProcess; base: string }>;
  const shared = {
    JWT_SECRET: randomBytes(32).toString('hex'),
    PEER_SECRET: randomBytes(32).toString('base64'),
    ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    TERMINAL_HOST: 'spawn',
    BASE_PATH: PREFIX,
    TRUST_PROXY: '1',
    LOGIN_RATE_LIMIT: '100000',
    LOGIN_MAX_FAILURES: '10',
    MAX_TERMINALS_PER_USER: '100',
    // Only a notification (or the catch-up after the listener reconnects) closes a socket in time.
    SESSION_CHECK_INTERVAL: '1h',
    NODE_HEARTBEAT_INTERVAL: '250ms',
    NODE_UNREACHABLE_AFTER: '2s',
    NODE_LOST_AFTER: '1m',
    // The peer connections are pinged at this pace too: a host that stops answering is noticed
    // within HEARTBEAT_TIMEOUT.
    HEARTBEAT_INTERVAL: '1s',
    HEARTBEAT_TIMEOUT: '5s',
  };

  beforeAll(async () => {
    sshd = await startSshd();
    url = await freshPostgresDatabase();
    await Promise.all(
      NODES.map(async (name, i) => {
        const host = `127.0.0.${i + 2}`;
        const peerPort = await freePort();
        const env = {
          ...shared,
          DATABASE_URL: url,
          HOST: host,
          PORT: String(await freePort()),
          NODE_ID: `node-${name}`,
          DATA_DIR: `/tmp/tether-node-${name}-${randomBytes(4).toString('hex')}`,
          PEER_URL: `https://${host}:${peerPort}`,
          PEER_HOST: host,
          PEER_PORT: String(peerPort),
        };
        const broker = await startBroker(env);
        nodes[name] = { env, broker, base: broker.base };
      }),
    );
    nginx = await startNginx({
      upstreams: NODES.map((n) => `${nodes[n].env.HOST}:${nodes[n].env.PORT}`),
      basePath: PREFIX,
    });
  }, 180_000);

  afterAll(async () => {
    await nginx?.stop();
    for (const name of NODES) {
      const node = nodes[name];
      if (!node) continue;
      node.broker.child.kill('SIGKILL');
      try {
        process.kill(await hostPid(node.env.DATA_DIR!), 'SIGKILL');
      } catch {
        // no host left
      }
      rmSync(node.env.DATA_DIR!, { recursive: true, force: true });
    }
    await sshd?.stop();
  }, 60_000);

  /** A browser signed in through nginx (whichever node it reached) as a new user. */
  async function newUser(): Promise<HttpBrowser> {
    const admin = new HttpBrowser(nginx.url);
    expect((await admin.login()).status).toBe(200);
    const username = `u${randomBytes(4).toString('hex')}`;
    expect(
      (await admin.request('POST', 'api/admin/users', { username, password: 'user-password-1' })).status,
    ).toBe(201);
    const browser = new HttpBrowser(nginx.url);
    expect((await browser.login(username, 'user-password-1')).status).toBe(200);
    return browser;
  }

  it('open on node A, attach through B and then C while it streams: byte-exact against the remote checksum; typing through C runs once', async () => {
    const browser = await newUser();
    const onA = await TestTerminalClient.authed(nodes.a.base, browser);
    const id = await openShell(onA, sshd);
    onA.type('for i in $(seq 1 3000); do echo line-$i; sleep 0.001; done; echo STREAM-$((6*7))\r');
    await onA.waitForText('line-100');
    onA.close();

    const viaB = await TestTerminalClient.authed(nodes.b.base, browser);
    viaB.send({ type: 'attach', terminalId: id, resumeFrom: 0 });
    expect(await viaB.waitForMessage('ready', 15_000)).toMatchObject({ offset: 0 });
    await viaB.waitForText('line-1500', 30_000);
    viaB.close();
    const upTo = Buffer.concat(viaB.output);

    const viaC = await TestTerminalClient.authed(nodes.c.base, browser);
    viaC.send({ type: 'attach', terminalId: id, resumeFrom: upTo.length });
    expect(await viaC.waitForMessage('ready', 15_000)).toMatchObject({ offset: upTo.length });
    await viaC.waitForText('STREAM-42', 60_000);
    const whole = Buffer.concat([upTo, ...viaC.output]).toString('utf8');
    const lines = [...whole.matchAll(/line-(\d+)\r\n/g)].map((m) => m[1]);
    expect(lines.length).toBe(3000);
    expect(lines.every((l, i) => l === String(i + 1))).toBe(true);
    const local = createHash('sha256')
      .update(lines.map((l) => `line-${l}\n`).join(''))
      .digest('hex');
    viaC.type(`for i in $(seq 1 3000); do echo line-$i; done | sha256sum | sed 's/^/SUM-/'\r`);
    await viaC.waitForText(/SUM-[0-9a-f]{64}/, 10_000);
    expect(viaC.text().match(/SUM-([0-9a-f]{64})/)![1]).toBe(local);

    const marker = `/tmp/tether-once-${randomBytes(4).toString('hex')}`;
    viaC.type(`echo once >> ${marker}; echo COUNT-$(wc -l < ${marker})-END; rm -f ${marker}\r`);
    await viaC.waitForText('COUNT-1-END', 10_000);
  });

  it('node A’s terminal host stops answering without a FIN (SIGSTOP): the socket attached through B hears TERMINAL_UNREACHABLE and 1013 within HEARTBEAT_TIMEOUT, and reattaches once it answers again', async () => {
    const browser = await newUser();
    const onA = await TestTerminalClient.authed(nodes.a.base, browser);
    const id = await openShell(onA, sshd);
    onA.close();
    const viaB = await TestTerminalClient.authed(nodes.b.base, browser);
    viaB.send({ type: 'attach', terminalId: id });
    await viaB.waitForMessage('ready', 15_000);
    const pid = await hostPid(nodes.a.env.DATA_DIR!);
    process.kill(pid, 'SIGSTOP');
    try {
      // Pinged every second, silent for 5 s: dropped, and the browser told to try again.
      expect((await viaB.waitForClose(20_000)).code).toBe(CloseCode.TRY_AGAIN_LATER);
      expect(viaB.of('error').map((e) => e.code)).toContain(ErrorCode.TERMINAL_UNREACHABLE);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const again = await TestTerminalClient.authed(nodes.b.base, browser);
    again.send({ type: 'attach', terminalId: id });
    await again.waitForMessage('ready', 15_000);
    again.type('echo BACK-$((6*7))\r');
    await again.waitForText('BACK-42', 10_000);
  });

  it('ten failed sign-ins spread over the three nodes lock the account, known and unknown names alike', async () => {
    const known = await newUser();
    const me = (await (await known.request('GET', 'api/auth/me')).json()) as { user: { username: string } };
    for (const username of [me.user.username, `nobody-${randomBytes(3).toString('hex')}`]) {
      for (let i = 0; i < 10; i++) {
        const node = nodes[NODES[i % 3]!];
        const res = await new HttpBrowser(`${node.base}/`).login(username, 'wrong-password-1');
        expect(res.status).toBe(401);
      }
      for (const name of NODES) {
        const res = await new HttpBrowser(`${nodes[name].base}/`).login(username, 'user-password-1');
        expect(res.status).toBe(423);
      }
    }
  });

  it('revocation on node A closes the session’s sockets on B and C in under a second (p99 of 100), also right after B’s listener was killed', async () => {
    const admin = new HttpBrowser(`${nodes.a.base}/`);
    expect((await admin.login()).status).toBe(200);
    const username = `r${randomBytes(4).toString('hex')}`;
    await admin.request('POST', 'api/admin/users', { username, password: 'user-password-1' });
    const killListener = async (node: NodeName) => {
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      await sql`select pg_terminate_backend(pid) from pg_stat_activity
                where application_name = ${`tether-listen node-${node}`}`;
      await sql.end();
    };
    const took: number[] = [];
    for (let trial = 0; trial < 100; trial++) {
      const user = new HttpBrowser(`${nodes.a.base}/`);
      expect((await user.login(username, 'user-password-1')).status).toBe(200);
      const onB = await TestTerminalClient.authed(nodes.b.base, user);
      const onC = await TestTerminalClient.authed(nodes.c.base, user);
      if (trial % 10 === 9) await killListener('b');
      const t0 = performance.now();
      expect((await user.request('POST', 'api/auth/logout')).status).toBe(204);
      const [b, c] = await Promise.all([onB.waitForClose(5_000), onC.waitForClose(5_000)]);
      took.push(performance.now() - t0);
      expect(b.code).toBe(CloseCode.SESSION_REVOKED);
      expect(c.code).toBe(CloseCode.SESSION_REVOKED);
    }
    took.sort((x, y) => x - y);
    expect(took[98]!).toBeLessThan(1_000);
  });

  it('rolling restart of all three APIs with 30 terminals streaming: every line arrives once, in order', async () => {
    const browser = await newUser();
    const LINES = 600;
    const terminals = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const first = await TestTerminalClient.authed(nginx.url.replace(/\/$/, ''), browser);
        const id = await openShell(first, sshd);
        // One process per terminal printing a line every 50 ms (30 s in all): no fork per line.
        first.type(
          `perl -e '$|=1; for $n (1..${LINES}) { print "t${i}-$n\\n"; select(undef,undef,undef,0.05) } print "DONE-${i}-", 1+1, "\\n"'\r`,
        );
        await first.waitForText(`t${i}-1\r\n`, 20_000);
        return new FollowingTerminal(nginx.url.replace(/\/$/, ''), browser, id, first);
      }),
    );
    for (const name of NODES) {
      const node = nodes[name];
      node.broker.child.kill('SIGTERM');
      await node.broker.exit;
      node.broker = await startBroker(node.env);
    }
    await Promise.all(terminals.map((t, i) => t.waitForText(`DONE-${i}-2`, 120_000).catch(() => undefined)));
    for (const [i, t] of terminals.entries()) {
      const text = t.text();
      expect(text, `terminal ${i} (failed reconnects: ${t.failures.join('; ')})`).toContain(`DONE-${i}-2`);
      const seen = [...text.matchAll(new RegExp(`t${i}-(\\d+)\\r\\n`, 'g'))].map((m) => Number(m[1]));
      expect(seen, `terminal ${i}`).toEqual(Array.from({ length: LINES }, (_, k) => k + 1));
      t.stop();
    }
    expect(terminals.reduce((n, t) => n + t.reconnects, 0)).toBeGreaterThan(0);
  }, 300_000);
});

/**
 * A browser tab's terminal as the web app keeps it: when its socket closes for a reason worth
 * retrying (restart 1012, try again 1013, an abnormal close), it reconnects through nginx after a
 * short backoff and attaches again from the offset it has, so the output it collects is exactly
 * the terminal's.
 */
class FollowingTerminal {
  private readonly chunks: Buffer[] = [];
  private current: TestTerminalClient;
  private stopped = false;
  reconnects = 0;
  /** Why reconnect attempts failed (diagnostics for a slow run). */
  readonly failures: string[] = [];
  readonly stream = randomUUID();

  constructor(
    private readonly base: string,
    private readonly browser: HttpBrowser,
    private readonly id: string,
    first: TestTerminalClient,
  ) {
    this.current = first;
    this.follow(first);
  }

  /** Until `needle` is in the output, across reconnects. */
  async waitForText(needle: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.text().includes(needle)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${needle}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  text(): string {
    return Buffer.concat([...this.chunks, ...this.current.output]).toString('utf8');
  }

  stop(): void {
    this.stopped = true;
    this.current.close();
  }

  private follow(c: TestTerminalClient): void {
    void c.waitForClose(600_000).then(
      async (closed) => {
        if (this.stopped) return;
        if (![CloseCode.SERVER_RESTARTING, CloseCode.TRY_AGAIN_LATER, 1006].includes(closed.code as never))
          return;
        this.chunks.push(...c.output);
        const offset = this.chunks.reduce((n, b) => n + b.length, 0);
        for (let attempt = 0; !this.stopped; attempt++) {
          await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** attempt)));
          try {
            const next = await TestTerminalClient.authed(this.base, this.browser);
            next.send({ type: 'attach', terminalId: this.id, resumeFrom: offset });
            const ready = await next.waitForMessage('ready', 10_000);
            if (ready.offset !== offset) throw new Error(`resumed at ${ready.offset}, not ${offset}`);
            this.reconnects++;
            this.current = next;
            this.follow(next);
            return;
          } catch (err) {
            // that node was restarting too: try again
            this.failures.push((err as Error).message.slice(0, 200));
          }
        }
      },
      () => {},
    );
  }
}
