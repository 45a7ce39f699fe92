import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { sharedSecret } from '@tether/host/config';
import {
  createPeerLink,
  generationOf,
  generationSocketPath,
  HostConnection,
  type TerminalInfo,
} from '@tether/host-protocol';
import { CloseCode } from '@tether/protocol';
import { freePort, type SshdHarness, sshdSkipReason, startSshd } from '@tether/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROKER_NODE_FLAGS } from '../src/system/node-flags.js';
import {
  type BrokerProcess,
  hostPid,
  openMessage,
  openShell,
  startBroker,
  stopBrokers,
} from './broker-process.js';
import { freshPostgresDatabase } from './helpers.js';
import { HttpBrowser } from './http-browser.js';
import { TestTerminalClient } from './ws-client.js';

const skip = sshdSkipReason();
if (skip && process.env.CI) throw new Error(`sshd tests cannot run in CI: ${skip}`);

/** The same browser (token and cookie) talking to a restarted API: no new sign-in. */
function sameBrowser(broker: BrokerProcess, browser: HttpBrowser): HttpBrowser {
  const same = new HttpBrowser(`${broker.base}/`);
  same.cookies = browser.cookies;
  same.token = browser.token;
  return same;
}

/** What the host answering at `socketPath` holds. */
async function heldAt(
  socketPath: string,
  dataDir: string,
): Promise<{ pid: number; hostId: string; ids: string[] }> {
  const conn = await HostConnection.connect(socketPath, sharedSecret(dataDir));
  try {
    const list = await conn.request<TerminalInfo[]>({ t: 'list' });
    return {
      pid: conn.welcome.pid,
      hostId: conn.welcome.hostId,
      ids: list.filter((t) => t.status === 'running').map((t) => t.id),
    };
  } finally {
    conn.close();
  }
}

async function until(predicate: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const HOST_DIR = fileURLToPath(new URL('../../host/', import.meta.url));
const HOST_MAIN = `${HOST_DIR}dist/main.js`;
const HOST_JS = `${HOST_DIR}dist/host.js`;
const HOST_CONFIG_JS = `${HOST_DIR}dist/config.js`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(skip)('terminals outlive the API (a terminal host of their own)', () => {
  let sshd: SshdHarness;
  const started: BrokerProcess[] = [];
  const dataDir = `/tmp/tether-hosted-${randomBytes(6).toString('hex')}`;
  const jwtSecret = randomBytes(32).toString('hex');
  const env = {
    TERMINAL_HOST: 'spawn',
    DATA_DIR: dataDir,
    JWT_SECRET: jwtSecret,
    TERMINAL_HOST_MEMORY: '512',
  };

  beforeAll(async () => {
    sshd = await startSshd();
  });

  /** The previous test's API if it still runs (one per DATA_DIR), else a new one; signed in. */
  async function signedIn() {
    const running = started.at(-1);
    const broker = running?.child.exitCode === null ? running : await startBroker(env);
    if (!started.includes(broker)) started.push(broker);
    const browser = new HttpBrowser(`${broker.base}/`);
    expect((await browser.login()).status).toBe(200);
    return { broker, browser, c: await TestTerminalClient.authed(broker.base, browser) };
  }
  afterAll(async () => {
    stopBrokers(started);
    try {
      process.kill(await hostPid(dataDir), 'SIGKILL');
    } catch {
      // no host left
    }
    await sshd?.stop();
    // A killed API or host may still be writing its last bytes: retry a non-empty directory.
    rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }, 180_000);

  it('kill -9 of the API: the terminal carries on, the client resumes with nothing lost or doubled', async () => {
    const first = await startBroker(env);
    started.push(first);
    expect(existsSync(`${dataDir}/terminal-host.sock`)).toBe(true);
    const pid = await hostPid(dataDir);
    expect(pid).not.toBe(first.child.pid);
    // Started as the API itself runs, with the heap limit TERMINAL_HOST_MEMORY asks for.
    const flags = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(flags).toEqual(expect.arrayContaining([...BROKER_NODE_FLAGS, '--max-old-space-size=512']));

    const browser = new HttpBrowser(`${first.base}/`);
    expect((await browser.login()).status).toBe(200);
    const c = await TestTerminalClient.authed(first.base, browser);
    c.send(openMessage(sshd));
    await c.waitForMessage('hostkey_prompt', 15_000);
    c.send({ type: 'hostkey_decision', accept: true });
    const { terminalId } = await c.waitForMessage('ready', 15_000);
    await c.waitForText('$ ');
    // Numbered lines for a few seconds, spanning the API's death and restart; the remote side
    // keeps a copy to checksum.
    const copy = `/tmp/tether-out-${randomBytes(6).toString('hex')}`;
    c.type(`for i in $(seq 1 300); do echo "n-$i"; sleep 0.01; done | tee ${copy}; echo "all-"done\r`);
    await c.waitForText('n-20');

    first.child.kill('SIGKILL');
    await first.exit;
    expect(alive(pid)).toBe(true);
    const closed = await c.waitForClose(5_000);
    expect(closed.code).not.toBe(CloseCode.NORMAL);
    const seen = c.nextOffset!;
    const before = c.text();

    const second = await startBroker(env);
    started.push(second);
    expect(await hostPid(dataDir)).toBe(pid); // the same host: found, not started again

    // The same token and cookie: signing in again is not needed.
    const same = sameBrowser(second, browser);
    const r = await TestTerminalClient.authed(second.base, same);
    r.send({ type: 'attach', terminalId, resumeFrom: seen });
    const ready = await r.waitForMessage('ready', 10_000);
    expect(ready).toMatchObject({ offset: seen, replay: true });
    await r.waitForText('all-done', 20_000);
    const whole = before + r.text();
    for (let i = 1; i <= 300; i++)
      expect(whole.match(new RegExp(`^n-${i}\\r?$`, 'gm'))?.length, `n-${i}`).toBe(1);
    // Byte-exact: what arrived (the PTY's CR LF back to LF) against the remote copy's checksum.
    const streamed = whole
      .slice(whole.indexOf('n-1\r\n'), whole.indexOf('all-done'))
      .replaceAll('\r\n', '\n');
    r.type(`md5sum < ${copy}; rm -f ${copy}\r`);
    await r.waitForText(/[0-9a-f]{32}/);
    expect(r.text().match(/[0-9a-f]{32}/)?.[0]).toBe(createHash('md5').update(streamed).digest('hex'));

    // Typing after the restart reaches the same shell.
    r.type('echo "after-"restart\r');
    await r.waitForText('after-restart');
    const list = (await (await same.request('GET', 'api/terminals')).json()) as {
      terminals: Array<{ id: string; status: string }>;
    };
    expect(list.terminals.find((t) => t.id === terminalId)).toMatchObject({ status: 'running' });
    r.send({ type: 'terminate' });
    await r.waitForClose(10_000);
  }, 180_000);

  it('typing across a kill -9 of the API: the client resends from what was applied, each line arrives once', async () => {
    // One API per DATA_DIR (its embedded database): stop the previous test's.
    for (const b of started)
      if (b.child.exitCode === null && b.child.signalCode === null) b.child.kill('SIGTERM');
    await Promise.all(started.map((b) => b.exit));
    const first = await startBroker(env);
    started.push(first);
    const browser = new HttpBrowser(`${first.base}/`);
    expect((await browser.login()).status).toBe(200);
    const stream = `tab-${randomBytes(8).toString('hex')}`;
    const c = await TestTerminalClient.authed(first.base, browser);
    c.send(openMessage(sshd, { input: { stream } }));
    const opened = await c.waitForMessage('ready', 15_000);
    expect(opened.input).toEqual({ stream, applied: 0 });
    const { terminalId } = opened;
    await c.waitForText('$ ');
    // Everything this "tab" typed, in stream order: what it would resend.
    let typed = Buffer.alloc(0);
    const typeInto = (client: TestTerminalClient, text: string) => {
      const bytes = Buffer.from(text);
      typed = Buffer.concat([typed, bytes]);
      client.sendInput(bytes);
    };
    const file = `/tmp/tether-input-${randomBytes(6).toString('hex')}`;
    // Lines typed while bash still reads its command line would reach cat raw (\r, not \n):
    // wait until bash runs the line (it restores the cooked mode first).
    typeInto(c, `echo "CAT-"READY; cat > ${file}\r`);
    await c.waitForText('CAT-READY');
    for (let i = 1; i <= 50; i++) typeInto(c, `in-${i}\r`);
    await c.waitForText('in-50');
    // The API dies with keystrokes on their way: frozen first, so that those sit unread in its
    // socket and die with it (a kill alone races with the API still reading them).
    first.child.kill('SIGSTOP');
    for (let i = 51; i <= 60; i++) typeInto(c, `in-${i}\r`);
    await new Promise((r) => setTimeout(r, 200));
    first.child.kill('SIGKILL');
    await first.exit;

    const second = await startBroker(env);
    started.push(second);
    const same = sameBrowser(second, browser);
    const r = await TestTerminalClient.authed(second.base, same);
    r.send({ type: 'attach', terminalId, resumeFrom: c.nextOffset!, input: { stream } });
    const ready = await r.waitForMessage('ready', 10_000);
    const applied = ready.input!.applied;
    expect(ready.input!.stream).toBe(stream);
    expect(applied).toBeLessThan(typed.length); // some input was lost with the API…
    r.sendInput(typed.subarray(applied)); // …and is sent again, from where the terminal stands
    r.inputSent = typed.length;
    for (let i = 61; i <= 80; i++) typeInto(r, `in-${i}\r`);
    typeInto(r, '\x04');
    typeInto(
      r,
      `awk '{ if ($0 != "in-" NR) bad = 1 } END { print ((bad || NR != 80) ? "INPUT-BAD " NR : "INPUT-" "OK") }' ${file}; rm -f ${file}\r`,
    );
    await r.waitForText(/INPUT-(OK|BAD \d+)/, 15_000);
    expect(r.text().match(/INPUT-(OK|BAD \d+)/)?.[0]).toBe('INPUT-OK');
    // input_ack offsets on this socket are stream offsets (acks come per KiB: type a long line).
    typeInto(r, `# ${'x'.repeat(2000)}\r`);
    await r.waitFor(() => r.inputAcked === typed.length, 10_000, 'the last input_ack');
    r.send({ type: 'terminate' });
    await r.waitForClose(10_000);
  }, 180_000);

  it('SIGTERM of the API five times in a row under 20 streaming terminals: not a byte lost or repeated', async () => {
    for (const b of started)
      if (b.child.exitCode === null && b.child.signalCode === null) b.child.kill('SIGTERM');
    await Promise.all(started.map((b) => b.exit));
    let broker = await startBroker(env);
    started.push(broker);
    const browser = new HttpBrowser(`${broker.base}/`);
    expect((await browser.login()).status).toBe(200);
    const LINES = 400;
    const terms: Array<{ id: string; text: string; offset: number }> = [];
    let clients: TestTerminalClient[] = [];
    for (let k = 0; k < 20; k++) {
      const c = await TestTerminalClient.authed(broker.base, browser);
      c.send(openMessage(sshd));
      const { terminalId } = await c.waitForMessage('ready', 15_000);
      await c.waitForText('$ ');
      // One process per terminal printing a numbered line every 20 ms (no fork per line).
      c.type(
        `perl -e '$|=1; for $i (1..${LINES}) { print "t${k}-$i\\n"; select(undef,undef,undef,0.02) } print "t${k}-", "end\\n"'\r`,
      );
      terms.push({ id: terminalId, text: '', offset: 0 });
      clients.push(c);
    }
    const collect = () => {
      clients.forEach((c, k) => {
        terms[k]!.text += c.text();
        terms[k]!.offset = c.nextOffset!;
      });
    };
    for (let round = 0; round < 5; round++) {
      await new Promise((r) => setTimeout(r, 1_500));
      broker.child.kill('SIGTERM');
      const codes = await Promise.all(clients.map((c) => c.waitForClose(10_000)));
      expect(codes.every((x) => x.code === CloseCode.SERVER_RESTARTING)).toBe(true);
      await broker.exit;
      collect();
      broker = await startBroker(env);
      started.push(broker);
      const same = sameBrowser(broker, browser);
      clients = [];
      for (const t of terms) {
        const c = await TestTerminalClient.authed(broker.base, same);
        c.send({ type: 'attach', terminalId: t.id, resumeFrom: t.offset });
        await c.waitForMessage('ready', 10_000);
        expect(c.of('ready')[0]).toMatchObject({ offset: t.offset, replay: true });
        clients.push(c);
      }
    }
    // The end line may have come on any of the sockets before.
    await Promise.all(
      clients.map((c, k) =>
        c.waitFor(() => (terms[k]!.text + c.text()).includes(`t${k}-end`), 60_000, `t${k}-end`),
      ),
    );
    collect();
    terms.forEach((t, k) => {
      for (let i = 1; i <= LINES; i++)
        expect(t.text.match(new RegExp(`^t${k}-${i}\\r?$`, 'gm'))?.length, `t${k}-${i}`).toBe(1);
    });
    for (const c of clients) c.send({ type: 'terminate' });
    await Promise.all(clients.map((c) => c.waitForClose(10_000)));
  }, 180_000);

  it('a terminal host that dies ends its terminals with the reason, and a new one serves new terminals', async () => {
    const { broker, browser, c } = await signedIn();
    c.send(openMessage(sshd));
    const { terminalId } = await c.waitForMessage('ready', 15_000);
    await c.waitForText('$ ');

    const pid = await hostPid(dataDir);
    process.kill(pid, 'SIGKILL');
    await c.waitForClose(5_000);

    // The API starts a new host; the old terminal is recorded as ended with the reason.
    const deadline = Date.now() + 15_000;
    let row: { status: string; endReason: string | null } | undefined;
    while (Date.now() < deadline) {
      const res = (await (await browser.request('GET', 'api/terminals')).json()) as {
        terminals: Array<{ id: string; status: string; endReason: string | null }>;
      };
      row = res.terminals.find((t) => t.id === terminalId);
      if (row?.status === 'lost') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(row).toMatchObject({ status: 'lost', endReason: expect.stringMatching(/terminal host stopped/) });
    const again = await TestTerminalClient.authed(broker.base, browser);
    again.send({ type: 'attach', terminalId });
    const err = await again.waitForMessage('error', 10_000);
    expect(err.message).toMatch(/terminal host stopped/);
    expect((await again.waitForClose()).code).toBe(CloseCode.TERMINAL_ENDED);

    const fresh = await TestTerminalClient.authed(broker.base, browser);
    fresh.send(openMessage(sshd));
    await fresh.waitForMessage('ready', 15_000);
    expect(await hostPid(dataDir)).not.toBe(pid);
    fresh.send({ type: 'terminate' });
    await fresh.waitForClose(10_000);
  }, 180_000);

  it('two host generations at once: the old one serves its terminals, new ones land on the new one, the old exits when its last ends', async () => {
    const { broker, browser, c } = await signedIn();
    const oldTerminal = await openShell(c, sshd);
    await c.waitForText('$ ');
    const socket = `${dataDir}/terminal-host.sock`;
    const old = await heldAt(socket, dataDir);
    const oldPid = old.pid;

    // An upgrade starts a new generation: the same entry point on the same data directory.
    const next = spawn(process.execPath, [HOST_MAIN], {
      env: { PATH: process.env.PATH, DATA_DIR: dataDir, SSH_ALLOWED_TARGETS: '127.0.0.0/8' },
      stdio: 'ignore',
    });
    try {
      await until(async () => (await hostPid(dataDir)) === next.pid, 'the new generation to take the socket');

      // The old terminal's viewer is told, and the terminal carries on.
      const notice = await c.waitForMessage('notice', 10_000);
      expect(notice).toMatchObject({ terminalId: oldTerminal, code: 'HOST_DRAINING' });
      expect(notice.endsAt).toBeGreaterThan(Date.now() + 23 * 3_600_000); // TERMINAL_HOST_DRAIN 24h
      c.type('echo "old-"alive\r');
      await c.waitForText('old-alive');
      const metrics = await (await fetch(`${broker.base}/metrics`)).text();
      expect(metrics).toMatch(/^tether_terminal_hosts_draining 1$/m);

      // A new terminal lands on the new generation.
      const d = await TestTerminalClient.authed(broker.base, browser);
      const newTerminal = await openShell(d, sshd);
      expect(await heldAt(socket, dataDir)).toMatchObject({ pid: next.pid, ids: [newTerminal] });
      const oldSocket = generationSocketPath(socket, generationOf(old.hostId));
      expect(await heldAt(oldSocket, dataDir)).toMatchObject({ pid: oldPid, ids: [oldTerminal] });

      // A restarted API finds both generations: the old terminal is attached on the old one.
      broker.child.kill('SIGKILL');
      await broker.exit;
      await c.waitForClose(5_000);
      await d.waitForClose(5_000);
      const restarted = await startBroker(env);
      started.push(restarted);
      const same = sameBrowser(restarted, browser);
      const c2 = await TestTerminalClient.authed(restarted.base, same);
      c2.send({ type: 'attach', terminalId: oldTerminal });
      await c2.waitForMessage('ready', 10_000);
      expect(await c2.waitForMessage('notice', 10_000)).toMatchObject({ code: 'HOST_DRAINING' });
      c2.type('echo "old-"again\r');
      await c2.waitForText('old-again');
      const d2 = await TestTerminalClient.authed(restarted.base, same);
      d2.send({ type: 'attach', terminalId: newTerminal });
      await d2.waitForMessage('ready', 10_000);

      // The old generation exits once its last terminal ends; the new one is untouched.
      expect(alive(oldPid)).toBe(true);
      c2.send({ type: 'terminate' });
      await c2.waitForClose(10_000);
      await until(() => !alive(oldPid), 'the old generation to exit');
      d2.type('echo "new-"alive\r');
      await d2.waitForText('new-alive');
      d2.send({ type: 'terminate' });
      await d2.waitForClose(10_000);
    } finally {
      if (next.exitCode === null) next.kill('SIGKILL');
    }
  }, 180_000);

  it('an API upgraded beside a host of another build starts a new generation; the old one keeps its terminal', async () => {
    for (const b of started) if (b.child.exitCode === null) b.child.kill('SIGKILL');
    await Promise.all(started.map((b) => b.exit));
    // A host of an older build, holding a terminal (as the previous release left it).
    const older = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { createTerminalHost } from ${JSON.stringify(HOST_JS)};
         import { sharedSecret } from ${JSON.stringify(HOST_CONFIG_JS)};
         import { createTargetPolicy } from '@tether/terminal-engine';
         const host = createTerminalHost({
           socketPath: ${JSON.stringify(`${dataDir}/terminal-host.sock`)},
           secret: sharedSecret(${JSON.stringify(dataDir)}),
           version: '0.0.1+older',
           engine: { maxTerminalsPerUser: 5, maxConnections: 5, connectTimeoutMs: 10000, bufferBytes: 1 << 20, detachedTimeoutMs: 0 },
           policy: createTargetPolicy({ allowed: ['127.0.0.0/8'], denied: [] }),
           onDrained: () => host.close().then(() => process.exit(0)),
         });
         await host.listen();`,
      ],
      { cwd: HOST_DIR, stdio: 'ignore' },
    );
    try {
      const socket = `${dataDir}/terminal-host.sock`;
      await until(async () => (await hostPid(dataDir).catch(() => 0)) === older.pid, 'the older host');
      const conn = await HostConnection.connect(socket, sharedSecret(dataDir));
      conn.on('message', (m) => {
        if (m.t === 'ask' && m.hostKey) conn.send({ t: 'answer', rid: m.rid, qid: m.qid, accept: true });
      });
      const held = await conn.request<TerminalInfo>({
        t: 'open',
        id: crypto.randomUUID(),
        userId: '11111111-2222-4333-8444-555555555555',
        target: { host: sshd.host, port: sshd.port, username: sshd.username },
        auth: { method: 'password', password: sshd.password },
        cols: 80,
        rows: 24,
        title: null,
        knownHost: null,
      });

      const broker = await startBroker(env);
      started.push(broker);
      // The API started a host of its own build, which took the socket; the older one drains.
      const current = await heldAt(socket, dataDir);
      expect(current.pid).not.toBe(older.pid);
      const again = await HostConnection.connect(
        generationSocketPath(socket, generationOf(conn.welcome.hostId)),
        sharedSecret(dataDir),
      );
      expect(again.welcome.drainingUntil).toBeGreaterThan(Date.now());
      again.close();
      expect(alive(older.pid!)).toBe(true);
      conn.send({ t: 'terminate', id: held.id, reason: 'done' });
      await until(() => older.exitCode !== null, 'the older host to exit once drained');
      conn.close();
    } finally {
      if (older.exitCode === null) older.kill('SIGKILL');
    }
  }, 180_000);

  it('an API restarted with the peer link turned on beside a host started without it starts a new generation that listens on the peer port', async () => {
    for (const b of started) if (b.child.exitCode === null) b.child.kill('SIGKILL');
    await Promise.all(started.map((b) => b.exit));
    const socket = `${dataDir}/terminal-host.sock`;
    const before = await HostConnection.connect(socket, sharedSecret(dataDir));
    before.close();
    expect(before.welcome.peerPort ?? null).toBeNull();

    const peerPort = await freePort();
    const peerSecret = randomBytes(32).toString('base64');
    const broker = await startBroker({
      ...env,
      DATABASE_URL: await freshPostgresDatabase(),
      ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      PEER_SECRET: peerSecret,
      PEER_URL: `https://127.0.0.1:${peerPort}`,
      PEER_PORT: String(peerPort),
      NODE_ID: 'node-peer-on',
    });
    started.push(broker);
    const after = await HostConnection.connect(socket, sharedSecret(dataDir));
    after.close();
    expect(after.welcome.hostId).not.toBe(before.welcome.hostId);
    expect(after.welcome.peerPort).toBe(peerPort);
    // The old generation held nothing: it drained at once and exited.
    await until(() => !alive(before.welcome.pid), 'the old generation to exit');
    // The peer port answers the deployment's key (and a ticket-less hello is refused there).
    const link = createPeerLink({ secret: peerSecret, nodeId: 'node-x' });
    const handshake = await new Promise<string>((resolve) => {
      const s = tlsConnect({ ...link.clientTls(), host: '127.0.0.1', port: peerPort });
      s.once('secureConnect', () => {
        s.destroy();
        resolve('connected');
      });
      s.once('error', (err) => resolve(err.message));
    });
    expect(handshake).toBe('connected');
  }, 180_000);
});
