import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { type ClientMessage, CloseCode, ErrorCode } from '@tether/protocol';
import { freePort, type SshdHarness, sshdSkipReason, startSshd } from '@tether/testkit';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTerminalsRepo } from '../src/persistence/terminals-repo.js';
import { LOST_ON_RESTART } from '../src/plugins/terminals.js';
import { ADMIN, Browser, buildTestApp, freshPostgresDatabase, type TestApp } from './helpers.js';
import { TestTerminalClient } from './ws-client.js';

const skip = sshdSkipReason();
if (skip && process.env.CI) throw new Error(`sshd tests cannot run in CI: ${skip}`);

describe.skipIf(skip)('terminal socket against OpenSSH sshd', () => {
  let sshd: SshdHarness;
  let t: TestApp | undefined;
  let base: string;

  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function start(env: Record<string, string> = {}) {
    t = await buildTestApp(env.DATABASE_URL ? 'postgres' : 'pglite', { LOGIN_RATE_LIMIT: '1000', ...env });
    base = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const admin = new Browser(t.app);
    await admin.login();
    return { app: t.app, admin };
  }

  /** `open` to the test sshd with its password, 80×24. */
  function openSshd(): Extract<ClientMessage, { type: 'open' }> {
    return {
      type: 'open',
      target: { host: sshd.host, port: sshd.port, username: sshd.username },
      auth: { method: 'password', password: sshd.password },
      cols: 80,
      rows: 24,
    };
  }

  async function openTerminal(client: TestTerminalClient, opts: { expectHostKey?: boolean } = {}) {
    client.send({
      type: 'open',
      target: { host: sshd.host, port: sshd.port, username: sshd.username },
      auth: { method: 'password', password: sshd.password },
      cols: 100,
      rows: 30,
    });
    if (opts.expectHostKey !== false) {
      const prompt = await client.waitForMessage('hostkey_prompt');
      expect(prompt).toMatchObject({
        host: sshd.host,
        port: sshd.port,
        keyType: 'ssh-ed25519',
        fingerprint: sshd.hostKeyFingerprint,
      });
      client.send({ type: 'hostkey_decision', accept: true });
    }
    const ready = await client.waitForMessage('ready', 15_000);
    await client.waitForText('$ ');
    return ready.terminalId;
  }

  it('a keyboard-interactive prompt says which host and account ask, and the answer signs in', async () => {
    const { admin } = await start();
    const c = await TestTerminalClient.authed(base, admin);
    c.send({
      type: 'open',
      target: { host: sshd.host, port: sshd.port, username: sshd.username },
      auth: { method: 'keyboard-interactive' },
      cols: 80,
      rows: 24,
    });
    const hostKey = await c.waitForMessage('hostkey_prompt', 15_000).catch(() => null);
    if (hostKey) c.send({ type: 'hostkey_decision', accept: true });
    const prompt = await c.waitForMessage('prompt', 15_000);
    expect(prompt).toMatchObject({ host: sshd.host, port: sshd.port, username: sshd.username });
    expect(prompt.prompts[0]?.echo).toBe(false);
    c.send({ type: 'prompt_response', responses: [sshd.password] });
    await c.waitForMessage('ready', 15_000);
    c.close();
  });

  it('closes a socket that does not authenticate within five seconds', async () => {
    const { admin } = await start();
    const c = await TestTerminalClient.connect(base, admin);
    const closed = await c.waitForClose(8_000);
    expect(closed.code).toBe(CloseCode.UNAUTHENTICATED);
  });

  it('rejects a bad token, a missing fingerprint cookie, and a foreign Origin', async () => {
    const { app, admin } = await start();
    let c = await TestTerminalClient.connect(base, admin);
    c.send({ type: 'auth', token: 'nope' });
    expect((await c.waitForMessage('error')).code).toBe(ErrorCode.TOKEN_INVALID);
    expect((await c.waitForClose()).code).toBe(CloseCode.UNAUTHENTICATED);

    // A token that a refresh replaced.
    const old = admin.token!;
    const refreshed = await admin.request('POST', '/api/auth/refresh');
    c = await TestTerminalClient.connect(base, admin);
    c.send({ type: 'auth', token: old });
    expect((await c.waitForMessage('error')).code).toBe(ErrorCode.TOKEN_SUPERSEDED);
    expect((await c.waitForClose()).code).toBe(CloseCode.UNAUTHENTICATED);
    admin.token = refreshed.json().token;

    const noCookie = new Browser(app);
    noCookie.token = admin.token;
    c = await TestTerminalClient.connect(base, noCookie);
    c.send({ type: 'auth', token: admin.token! });
    expect((await c.waitForMessage('error')).code).toBe(ErrorCode.FINGERPRINT_MISMATCH);

    for (let i = 0; i < 5; i++) {
      await expect(
        TestTerminalClient.connect(base, admin, { origin: 'https://evil.example' }),
      ).rejects.toThrow(/403/);
    }
    // Audited once, not five times: repeating a refused upgrade cannot flood the audit log.
    const refused = await vi.waitFor(async () => {
      const rows = await app.audit.query({ limit: 50, type: 'terminal.socket_refused' });
      expect(rows).toHaveLength(1);
      return rows;
    });
    expect(refused[0]).toMatchObject({
      outcome: 'failure',
      ip: '127.0.0.1',
      detail: { reason: 'origin', origin: 'https://evil.example', suppressed: 0 },
    });
    // The broker's own origin is fine.
    const own = await TestTerminalClient.connect(base, admin, { origin: base });
    own.close();
  });

  it('processes messages sent right after the handshake, in order', async () => {
    const { admin } = await start();
    const c = new TestTerminalClient(base, admin);
    // Sent in the same tick the upgrade completes, before the broker could have awaited anything.
    await c.opened.then(() => {
      c.send({ type: 'auth', token: admin.token! });
      c.send({ type: 'ping', t: 42 });
    });
    await c.waitForMessage('authenticated');
    expect((await c.waitForMessage('pong')).t).toBe(42);
  });

  /** Random printable bytes (no newlines) and their sha256, as `sha256sum` prints it. */
  function pasteOf(bytes: number) {
    const data = Buffer.from(
      randomBytes(Math.ceil((bytes * 3) / 4))
        .toString('base64')
        .slice(0, bytes),
    );
    return { data, sha: createHash('sha256').update(data).digest('hex') };
  }

  /** Puts the remote tty in raw mode and reads exactly `bytes` of input into sha256sum. */
  async function readInputRemotely(c: TestTerminalClient, bytes: number) {
    c.type(`stty raw -echo; echo raw-""mode; head -c ${bytes} | sha256sum; stty sane\n`);
    // Printed once stty has run: from here on the tty passes bytes through untouched.
    await c.waitForText('raw-mode');
  }

  it('delivers a multi-MB paste whole and in order to the remote program, paced by input_ack', async () => {
    const { admin } = await start();
    const c = await TestTerminalClient.authed(base, admin);
    expect(c.inputWindow).toBe(256 * 1024);
    await openTerminal(c);
    const { data, sha } = pasteOf(5 * 1024 * 1024);
    await readInputRemotely(c, data.length);
    await c.paste(data, { paced: true });
    await c.waitForText(new RegExp(`${sha}\\s+-`), 120_000);
    // The broker confirmed every byte, and never answered with an error.
    await c.waitFor(() => c.inputAcked === c.inputSent, 10_000, 'final input_ack');
    expect(c.of('error')).toEqual([]);
    // Typing right after the paste still goes through at once.
    c.type('echo af""ter\n');
    await c.waitForText('after');
  }, 180_000);

  it('slows a client that ignores the window instead of dropping its input', async () => {
    const { admin } = await start();
    const c = await TestTerminalClient.authed(base, admin);
    await openTerminal(c);
    const { data, sha } = pasteOf(3 * 1024 * 1024);
    await readInputRemotely(c, data.length);
    await c.paste(data, { paced: false });
    await c.waitForText(new RegExp(`${sha}\\s+-`), 120_000);
    expect(c.of('error')).toEqual([]);
    await c.flushed();
    c.type('echo st""ill-here\n');
    await c.waitForText('still-here');
  }, 180_000);

  it('delivers keystrokes sent right behind open after the terminal is ready, in order', async () => {
    const { admin } = await start();
    const c = new TestTerminalClient(base, admin);
    await c.opened;
    // One burst: auth, open and the first keystrokes, before any answer.
    c.send({ type: 'auth', token: admin.token! });
    c.send(openSshd());
    c.type('echo fir""st; ');
    c.type('echo sec""ond\n');
    const prompt = await c.waitForMessage('hostkey_prompt', 15_000).catch(() => null);
    if (prompt) c.send({ type: 'hostkey_decision', accept: true });
    await c.waitForMessage('ready', 15_000);
    await c.waitForText(/first\r\nsecond/);
    expect(c.of('error')).toEqual([]);
  });

  it('opens a terminal after host-key confirmation, runs a command, and remembers the key', async () => {
    const { admin } = await start();
    const c = await TestTerminalClient.authed(base, admin);
    const id = await openTerminal(c);
    c.type('echo he""llo\n');
    await c.waitForText('hello');
    const known = (await admin.request('GET', '/api/known-hosts')).json().knownHosts;
    expect(known).toEqual([
      expect.objectContaining({ host: '127.0.0.1', port: sshd.port, fingerprint: sshd.hostKeyFingerprint }),
    ]);
    const list = (await admin.request('GET', '/api/terminals')).json().terminals;
    expect(list[0]).toMatchObject({
      id,
      status: 'running',
      attached: 1,
      host: '127.0.0.1',
      username: sshd.username,
    });

    // A second terminal to the same host does not ask again.
    const c2 = await TestTerminalClient.authed(base, admin);
    await openTerminal(c2, { expectHostKey: false });
    expect(c2.of('hostkey_prompt')).toHaveLength(0);
  });

  it('a refused host key ends the attempt with HOSTKEY_REJECTED and stores nothing', async () => {
    const { admin } = await start();
    const c = await TestTerminalClient.authed(base, admin);
    c.send(openSshd());
    await c.waitForMessage('hostkey_prompt');
    c.send({ type: 'hostkey_decision', accept: false });
    expect((await c.waitForMessage('error')).code).toBe(ErrorCode.HOSTKEY_REJECTED);
    expect((await admin.request('GET', '/api/known-hosts')).json().knownHosts).toEqual([]);
  });

  it('wrong SSH password gives AUTH_FAILED and the socket can try again', async () => {
    const { admin } = await start();
    const c = await TestTerminalClient.authed(base, admin);
    c.send({
      type: 'open',
      target: { host: sshd.host, port: sshd.port, username: sshd.username },
      auth: { method: 'password', password: 'wrong' },
      cols: 80,
      rows: 24,
    });
    await c.waitForMessage('hostkey_prompt');
    c.send({ type: 'hostkey_decision', accept: true });
    expect((await c.waitForMessage('error', 20_000)).code).toBe(ErrorCode.AUTH_FAILED);
    c.messages.length = 0;
    await openTerminal(c, { expectHostKey: false });
  });

  it('budgets failed opens per user, so the broker cannot scan ports at network speed', async () => {
    const { app, admin } = await start({ SSH_OPEN_FAILURES_PER_MINUTE: '3' });
    const closedPort = await freePort();
    const c = await TestTerminalClient.authed(base, admin);
    const probe = async (client: TestTerminalClient) => {
      client.messages.length = 0;
      client.send({
        type: 'open',
        target: { host: '127.0.0.1', port: closedPort, username: 'x' },
        auth: { method: 'password', password: 'x' },
        cols: 80,
        rows: 24,
      });
      return client.waitForMessage('error', 15_000);
    };
    for (let i = 0; i < 3; i++) expect((await probe(c)).code).toBe(ErrorCode.CONNECTION_REFUSED);
    const limited = await probe(c);
    expect(limited.code).toBe(ErrorCode.RATE_LIMITED);
    expect(Number(limited.details?.retryAfter)).toBeGreaterThan(0);
    // Refused before any connection: nothing was recorded for it.
    const rows = (await admin.request('GET', '/api/terminals')).json().terminals;
    expect(rows).toHaveLength(3);
    // Another user has a budget of their own.
    await admin.request('POST', '/api/admin/users', { username: 'hank', password: 'hank-password' });
    const hank = new Browser(app);
    await hank.login('hank', 'hank-password');
    expect((await probe(await TestTerminalClient.authed(base, hank))).code).toBe(
      ErrorCode.CONNECTION_REFUSED,
    );
  });

  it('denies loopback and private targets unless SSH_ALLOWED_TARGETS lists them', async () => {
    const { admin } = await start({ SSH_ALLOWED_TARGETS: '' });
    const c = await TestTerminalClient.authed(base, admin);
    c.send(openSshd());
    const denied = await c.waitForMessage('error', 15_000);
    expect(denied.code).toBe(ErrorCode.TARGET_DENIED);
    expect(denied.message).toMatch(/SSH_ALLOWED_TARGETS/);
  });

  it('detaching keeps the terminal running; reattaching replays exactly the missed bytes', async () => {
    const { admin } = await start();
    const c = await TestTerminalClient.authed(base, admin);
    const id = await openTerminal(c);
    c.type('echo fi""rst\n');
    await c.waitForText('first');
    const seen = c.nextOffset!;
    const before = c.text();
    c.close();
    await c.waitForClose();
    // Output produced while nobody watches.
    const listed = async () => (await admin.request('GET', '/api/terminals')).json().terminals[0];
    await expect.poll(async () => (await listed()).attached).toBe(0);
    expect((await listed()).status).toBe('running');

    const d = await TestTerminalClient.authed(base, admin);
    d.send({ type: 'attach', terminalId: id, resumeFrom: seen });
    const ready = await d.waitForMessage('ready');
    expect(ready).toMatchObject({ terminalId: id, offset: seen, replay: true });
    d.type('echo sec""ond\n');
    await d.waitForText('second');
    expect(d.text()).not.toContain('first');
    expect(before + d.text()).toContain('echo fi""rst');

    // A fresh client (no resumeFrom) gets a snapshot of the screen instead.
    const e = await TestTerminalClient.authed(base, admin);
    e.send({ type: 'attach', terminalId: id });
    const snap = await e.waitForMessage('snapshot');
    expect(snap.data).toContain('second');
    expect((await e.waitForMessage('ready')).replay).toBe(false);
  });

  it('a snapshot brings back the scrollback the client keeps, up to TERMINAL_SCROLLBACK_MAX', async () => {
    const { admin } = await start({ TERMINAL_SCROLLBACK_MAX: '3000' });
    const c = await TestTerminalClient.authed(base, admin);
    expect(c.of('authenticated')[0]?.maxScrollback).toBe(3000);
    c.send({ ...openSshd(), scrollback: 5000 });
    const hostKey = await c.waitForMessage('hostkey_prompt', 15_000);
    expect(hostKey.fingerprint).toBe(sshd.hostKeyFingerprint);
    c.send({ type: 'hostkey_decision', accept: true });
    const { terminalId } = await c.waitForMessage('ready', 15_000);
    await c.waitForText('$ ');
    c.type('seq 1 6000; echo se""q-done\n');
    await c.waitForText('seq-done', 15_000);
    c.close();

    /** The numbers `seq` printed that a fresh client's snapshot holds, as lines of their own. */
    const snapshotNumbers = async (scrollback?: number) => {
      const d = await TestTerminalClient.authed(base, admin);
      d.send({ type: 'attach', terminalId, ...(scrollback !== undefined ? { scrollback } : {}) });
      const snap = await d.waitForMessage('snapshot', 15_000);
      d.close();
      const text = snap.data.replaceAll('\x1b', '').replace(/\[[0-9;?]*[A-Za-z]/g, '');
      return text
        .split(/\r?\n/)
        .filter((line) => /^\d+$/.test(line))
        .map(Number);
    };
    // 6,003 lines were written (the command, 6,000 numbers, "seq-done", the prompt); the mirror
    // keeps the last 3,024: 3,000 of scrollback (the cap, not the 5,000 asked) above 24 rows.
    const kept = await snapshotNumbers();
    expect(kept[0]).toBe(6003 - 3024);
    expect(kept.at(-1)).toBe(6000);
    expect(kept.length).toBe(6000 - kept[0]! + 1);
    // A client that keeps 500 lines gets 500.
    expect((await snapshotNumbers(500))[0]).toBe(6003 - 524);
    // A scrollback the protocol does not allow is refused and changes nothing; the socket can
    // go on and attach.
    const bad = await TestTerminalClient.authed(base, admin);
    for (const scrollback of [-1, 1.5, 100_001, '5000'])
      bad.sendRaw(JSON.stringify({ type: 'attach', terminalId, scrollback }));
    await bad.waitFor(() => bad.of('error').length >= 4);
    expect(bad.of('error').map((e) => e.code)).toEqual(Array(4).fill(ErrorCode.PROTOCOL_ERROR));
    expect(bad.of('snapshot')).toEqual([]);
    bad.close();
    expect(kept).toEqual(await snapshotNumbers());
  });

  it('two sockets of the owner see the same output and either can type', async () => {
    const { admin } = await start();
    const a = await TestTerminalClient.authed(base, admin);
    const id = await openTerminal(a);
    const b = await TestTerminalClient.authed(base, admin);
    b.send({ type: 'attach', terminalId: id, resumeFrom: a.nextOffset! });
    await b.waitForMessage('ready');
    b.type('echo fr""om-b\n');
    await a.waitForText('from-b');
    await b.waitForText('from-b');
    a.type('echo fr""om-a\n');
    await b.waitForText('from-a');
  });

  it("signing in elsewhere closes the old session's sockets within a second; the new session reattaches", async () => {
    const { app, admin } = await start();
    const c = await TestTerminalClient.authed(base, admin);
    const id = await openTerminal(c);
    const seen = c.nextOffset!;
    const other = new Browser(app);
    const t0 = Date.now();
    await other.login();
    const closed = await c.waitForClose(2_000);
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(closed.code).toBe(CloseCode.SIGNED_IN_ELSEWHERE);
    expect(c.of('replaced')).toHaveLength(1);

    const d = await TestTerminalClient.authed(base, other);
    d.send({ type: 'attach', terminalId: id, resumeFrom: seen });
    expect((await d.waitForMessage('ready')).replay).toBe(true);
    d.type('echo st""ill-here\n');
    await d.waitForText('still-here');
  });

  it('caps the sockets of one user, and other users are unaffected', async () => {
    const { app, admin } = await start({ WS_MAX_SOCKETS_PER_USER: '3' });
    const mine = [];
    for (let i = 0; i < 3; i++) mine.push(await TestTerminalClient.authed(base, admin));
    const fourth = await TestTerminalClient.connect(base, admin);
    fourth.send({ type: 'auth', token: admin.token! });
    expect((await fourth.waitForMessage('error')).code).toBe(ErrorCode.SOCKET_LIMIT);
    expect((await fourth.waitForClose()).code).toBe(CloseCode.LIMIT_REACHED);
    await admin.request('POST', '/api/admin/users', { username: 'gina', password: 'gina-password' });
    const gina = new Browser(app);
    await gina.login('gina', 'gina-password');
    const hers = await TestTerminalClient.authed(base, gina);
    // Closing one frees its place.
    mine[0]!.close();
    await mine[0]!.waitForClose();
    await vi.waitFor(async () => {
      const again = await TestTerminalClient.authed(base, admin);
      again.close();
    });
    for (const c of [...mine, hers]) c.close();
  });

  it('caps sockets that have not authenticated yet per address, refusing before the upgrade', async () => {
    const { admin } = await start({ WS_MAX_PENDING_PER_IP: '3' });
    const pending = [];
    for (let i = 0; i < 3; i++) pending.push(await TestTerminalClient.connect(base, admin));
    await expect(TestTerminalClient.connect(base, admin)).rejects.toThrow(/429/);
    // Authenticating one frees a pending place.
    pending[0]!.send({ type: 'auth', token: admin.token! });
    await pending[0]!.waitForMessage('authenticated');
    const next = await TestTerminalClient.connect(base, admin);
    for (const c of [...pending, next]) c.close();
  });

  it('caps all sockets from one address, authenticated or not', async () => {
    const { admin } = await start({ WS_MAX_SOCKETS_PER_IP: '3' });
    const open = [];
    for (let i = 0; i < 3; i++) open.push(await TestTerminalClient.authed(base, admin));
    await expect(TestTerminalClient.connect(base, admin)).rejects.toThrow(/429/);
    open[0]!.close();
    await open[0]!.waitForClose();
    await vi.waitFor(async () => open.push(await TestTerminalClient.connect(base, admin)));
    for (const c of open) c.close();
  });

  it('reads a socket that floods messages more slowly, answering every one', async () => {
    const { admin } = await start({ WS_MESSAGE_RATE: '100' });
    const c = await TestTerminalClient.authed(base, admin);
    const started = performance.now();
    for (let i = 0; i < 400; i++) c.send({ type: 'ping', t: i });
    await c.waitFor(() => c.of('pong').length === 400, 20_000, '400 pongs');
    const elapsed = performance.now() - started;
    // 200 fit the burst; the other 200 at 100 per second.
    expect(elapsed).toBeGreaterThan(1_500);
    expect(c.of('pong').map((p) => p.t)).toEqual([...Array(400).keys()]);
    expect(c.of('error').map((e) => e.code)).toEqual([ErrorCode.RATE_LIMITED]);
    c.close();
  });

  it('drops a client that sends but never reads, and its terminal keeps running detached', async () => {
    const { admin } = await start({ WS_STALL_TIMEOUT: '3s' });
    const c = await TestTerminalClient.authed(base, admin);
    const id = await openTerminal(c);
    c.stopReading();
    c.type('seq 1 5000000\n');
    // It keeps pinging: the heartbeat alone would never drop it.
    const pinger = setInterval(() => c.send({ type: 'ping' }), 300);
    try {
      await vi.waitFor(
        async () => {
          const list = (await admin.request('GET', '/api/terminals')).json().terminals;
          expect(list.find((t: { id: string }) => t.id === id)).toMatchObject({
            status: 'running',
            attached: 0,
          });
        },
        { timeout: 15_000, interval: 250 },
      );
    } finally {
      clearInterval(pinger);
    }
    const d = await TestTerminalClient.authed(base, admin);
    d.send({ type: 'attach', terminalId: id });
    await d.waitForMessage('ready');
    d.type('\x03echo al""ive\n');
    await d.waitForText('alive', 15_000);
  });

  it('logout and admin revocation close sockets with SESSION_REVOKED', async () => {
    const { app, admin } = await start();
    await admin.request('POST', '/api/admin/users', { username: 'dave', password: 'dave-password' });
    const dave = new Browser(app);
    await dave.login('dave', 'dave-password');
    const c = await TestTerminalClient.authed(base, dave);
    const sessions = (await admin.request('GET', '/api/admin/sessions')).json().sessions;
    const daves = sessions.find((s: { username: string }) => s.username === 'dave');
    await admin.request('DELETE', `/api/admin/sessions/${daves.id}`);
    expect((await c.waitForClose(2_000)).code).toBe(CloseCode.SESSION_REVOKED);

    const a = await TestTerminalClient.authed(base, admin);
    await admin.request('POST', '/api/auth/logout');
    expect((await a.waitForClose(2_000)).code).toBe(CloseCode.SESSION_REVOKED);
  });

  it('a session that expires closes its sockets with SESSION_EXPIRED', async () => {
    const { admin } = await start({ SESSION_IDLE_TIMEOUT: '2s', SESSION_ABSOLUTE_TIMEOUT: '2s' });
    const c = await TestTerminalClient.authed(base, admin);
    expect((await c.waitForClose(5_000)).code).toBe(CloseCode.SESSION_EXPIRED);
  });

  it('another user cannot attach, list or end my terminal', async () => {
    const { app, admin } = await start();
    const c = await TestTerminalClient.authed(base, admin);
    const id = await openTerminal(c);
    await admin.request('POST', '/api/admin/users', { username: 'erin', password: 'erin-password' });
    const erin = new Browser(app);
    await erin.login('erin', 'erin-password');
    const e = await TestTerminalClient.authed(base, erin);
    e.send({ type: 'attach', terminalId: id, resumeFrom: 0 });
    expect((await e.waitForMessage('error')).code).toBe(ErrorCode.TERMINAL_NOT_FOUND);
    expect((await e.waitForClose()).code).toBe(CloseCode.UNKNOWN_TERMINAL);
    expect(e.output).toHaveLength(0);
    expect((await erin.request('GET', '/api/terminals')).json().terminals).toEqual([]);
    expect((await erin.request('GET', `/api/terminals/${id}`)).statusCode).toBe(404);
    expect((await erin.request('DELETE', `/api/terminals/${id}`)).statusCode).toBe(404);
  });

  it('clears ended terminals from my list (running ones stay; administrators still see them)', async () => {
    const { admin } = await start();
    const c = await TestTerminalClient.authed(base, admin);
    const ended = await openTerminal(c);
    c.type('exit 0\n');
    await c.waitForMessage('exit');
    const d = await TestTerminalClient.authed(base, admin);
    const running = await openTerminal(d, { expectHostKey: false });
    await expect
      .poll(async () => (await admin.request('GET', `/api/terminals/${ended}`)).json().terminal.status)
      .toBe('exited');

    expect((await admin.request('DELETE', '/api/terminals')).statusCode).toBe(400);
    const cleared = await admin.request('DELETE', '/api/terminals?status=ended');
    expect(cleared.statusCode).toBe(200);
    expect(cleared.json()).toEqual({ cleared: 1 });
    const mine = (await admin.request('GET', '/api/terminals')).json().terminals as Array<{ id: string }>;
    expect(mine.map((t) => t.id)).toEqual([running]);
    const all = (await admin.request('GET', '/api/admin/terminals?status=all')).json().terminals as Array<{
      id: string;
    }>;
    expect(all.map((t) => t.id)).toContain(ended);
    expect((await admin.request('DELETE', '/api/terminals?status=ended')).json()).toEqual({ cleared: 0 });
    d.close();
  });

  it('remote exit sends exit with the code and records it; DELETE ends a terminal', async () => {
    const { admin } = await start();
    const c = await TestTerminalClient.authed(base, admin);
    const id = await openTerminal(c);
    c.type('exit 7\n');
    const exit = await c.waitForMessage('exit');
    expect(exit).toMatchObject({ terminalId: id, code: 7 });
    expect((await c.waitForClose()).code).toBe(CloseCode.TERMINAL_ENDED);
    await expect
      .poll(async () => (await admin.request('GET', `/api/terminals/${id}`)).json().terminal)
      .toMatchObject({ status: 'exited', exitCode: 7 });

    const d = await TestTerminalClient.authed(base, admin);
    const id2 = await openTerminal(d, { expectHostKey: false });
    expect((await admin.request('DELETE', `/api/terminals/${id2}`)).statusCode).toBe(204);
    expect((await d.waitForMessage('exit')).reason).toMatch(/Ended by the user/);
    // An ended terminal still shows its final screen, then says it ended.
    const again = await TestTerminalClient.authed(base, admin);
    again.send({ type: 'attach', terminalId: id2 });
    expect((await again.waitForMessage('exit')).reason).toMatch(/Ended by the user/);
    expect((await again.waitForClose()).code).toBe(CloseCode.TERMINAL_ENDED);
  });

  it("DELETE answers once the terminal's row says it ended, not before (PostgreSQL, the row held locked)", async () => {
    const url = await freshPostgresDatabase();
    const { app, admin } = await start({ DATABASE_URL: url });
    const c = await TestTerminalClient.authed(base, admin);
    const id = await openTerminal(c);

    // Another connection holds the terminal's row, so the broker's "ended" update waits for it.
    const other = postgres(url, { max: 1, onnotice: () => {} });
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => {
      locked = r;
    });
    const holding = other.begin(async (tx) => {
      await tx`SELECT 1 FROM terminals WHERE id = ${id} FOR UPDATE`;
      locked();
      await released;
    });
    try {
      await isLocked;
      let answered = false;
      const deleting = admin.request('DELETE', `/api/terminals/${id}`).finally(() => {
        answered = true;
      });
      // The terminal itself ends at once (its socket is told)…
      expect((await c.waitForMessage('exit')).reason).toMatch(/Ended by the user/);
      // …but the answer waits while the row cannot yet say so (lock timeout 3 s by default).
      await new Promise((r) => setTimeout(r, 800));
      expect(answered).toBe(false);
      release();
      await holding;
      expect((await deleting).statusCode).toBe(204);
      expect((await createTerminalsRepo(app.database.db).findById(id))?.status).toBe('exited');
    } finally {
      release();
      await holding.catch(() => {});
      await other.end();
    }
  });

  it("an ended terminal's last screen outlives its host's retention; clearing it from the list drops it", async () => {
    const { admin } = await start({ TERMINAL_ENDED_RETENTION: '1s' });
    const c = await TestTerminalClient.authed(base, admin);
    const id = await openTerminal(c);
    c.type('clear; echo last-""words; exit 3\n');
    expect(await c.waitForMessage('exit')).toMatchObject({ code: 3 });

    /** A fresh attach: what it gets, once the host has freed the terminal (no `ready` any more). */
    const attachEnded = async () => {
      const d = await TestTerminalClient.authed(base, admin);
      d.send({ type: 'attach', terminalId: id });
      const closed = await d.waitForClose();
      return {
        closed,
        messages: d.messages.map((m) => m.type),
        snapshot: d.of('snapshot')[0],
        error: d.of('error')[0],
      };
    };
    // Attaching restarts the retention: look again only after more than a retention went by.
    let seen = await attachEnded();
    await expect
      .poll(
        async () => {
          seen = await attachEnded();
          return seen.messages.includes('ready');
        },
        { timeout: 15_000, interval: 1500 },
      )
      .toBe(false);
    expect(seen.messages).toEqual(['authenticated', 'snapshot', 'error']);
    expect(seen.snapshot?.data).toContain('last-words');
    expect(seen.snapshot?.data).not.toContain('clear;'); // the screen, not the scrollback
    expect(seen.snapshot).toMatchObject({ terminalId: id, cols: 100, rows: 30 });
    expect(seen.error?.code).toBe(ErrorCode.TERMINAL_ENDED);
    expect(seen.closed.code).toBe(CloseCode.TERMINAL_ENDED);

    expect((await admin.request('DELETE', '/api/terminals?status=ended')).json()).toEqual({ cleared: 1 });
    const cleared = await attachEnded();
    expect(cleared.messages).toEqual(['authenticated', 'error']);
    expect(cleared.closed.code).toBe(CloseCode.TERMINAL_ENDED);
  });

  it('survives bad input: malformed JSON, unknown types, bad sizes, oversized frames, invalid UTF-8', async () => {
    const { admin } = await start({ MESSAGE_SIZE_LIMIT: '4096' });
    const c = await TestTerminalClient.authed(base, admin);
    await openTerminal(c);
    c.sendRaw('{not json');
    c.sendRaw(JSON.stringify({ type: 'launch_missiles' }));
    c.sendRaw(JSON.stringify({ type: 'resize', cols: 0, rows: 0 }));
    c.sendRaw(JSON.stringify({ type: 'resize', cols: 100000, rows: 100000 }));
    c.sendRaw(JSON.stringify({ type: 'ack', offset: -5 }));
    c.sendRaw(JSON.stringify([1, 2, 3]));
    await c.waitFor(() => c.of('error').length >= 6);
    expect(c.of('error').every((e) => e.code === ErrorCode.PROTOCOL_ERROR)).toBe(true);
    c.type('echo st""ill-alive\n');
    await c.waitForText('still-alive');

    c.sendRaw(Buffer.alloc(8192, 0x61), true);
    expect((await c.waitForClose()).code).toBe(CloseCode.TOO_LARGE);

    const d = await TestTerminalClient.authed(base, admin);
    d.sendRaw(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), false);
    expect((await d.waitForClose()).code).toBe(CloseCode.INVALID_PAYLOAD);

    const e = await TestTerminalClient.connect(base, admin);
    e.sendRaw(Buffer.from('binary before auth'), true);
    expect((await e.waitForClose()).code).toBe(CloseCode.UNAUTHENTICATED);

    const health = await fetch(`${base}/api/health`);
    expect(health.status).toBe(200);
  });

  it('disabling the owner ends their terminals', async () => {
    const { app, admin } = await start();
    await admin.request('POST', '/api/admin/users', { username: 'frank', password: 'frank-password' });
    const frank = new Browser(app);
    await frank.login('frank', 'frank-password');
    const c = await TestTerminalClient.authed(base, frank);
    const id = await openTerminal(c);
    const frankId = (await frank.request('GET', '/api/auth/me')).json().user.id;
    await admin.request('PATCH', `/api/admin/users/${frankId}`, { disabled: true });
    expect((await c.waitForClose(2_000)).code).toBe(CloseCode.ACCOUNT_DISABLED);
    await expect.poll(() => app.terminals.get(id, frankId)?.ended ?? true).toBe(true);
  });

  it('a changed host key is refused before any credential is sent; forgetting it allows a new decision', async () => {
    const { app, admin } = await start();
    const c = await TestTerminalClient.authed(base, admin);
    await openTerminal(c);
    const old = sshd.hostKeyFingerprint;
    const fresh = await sshd.regenerateHostKey();
    {
      const d = await TestTerminalClient.authed(base, admin);
      d.send({
        type: 'open',
        target: { host: sshd.host, port: sshd.port, username: sshd.username },
        auth: { method: 'password', password: sshd.password },
        cols: 80,
        rows: 24,
      });
      const err = await d.waitForMessage('error');
      expect(err.code).toBe(ErrorCode.HOSTKEY_CHANGED);
      expect(err.details).toMatchObject({ expectedFingerprint: old, presentedFingerprint: fresh });
      expect(d.of('hostkey_prompt')).toHaveLength(0);
      expect(err.message).not.toContain(sshd.password);

      const known = (await admin.request('GET', '/api/known-hosts')).json().knownHosts;
      expect((await admin.request('DELETE', `/api/known-hosts/${known[0].id}`)).statusCode).toBe(204);
      expect((await admin.request('DELETE', `/api/known-hosts/${known[0].id}`)).statusCode).toBe(404);
      d.messages.length = 0;
      d.send({
        type: 'open',
        target: { host: sshd.host, port: sshd.port, username: sshd.username },
        auth: { method: 'password', password: sshd.password },
        cols: 80,
        rows: 24,
      });
      expect((await d.waitForMessage('hostkey_prompt')).fingerprint).toBe(fresh);
      d.send({ type: 'hostkey_decision', accept: true });
      await d.waitForMessage('ready');
      const types = (await app.audit.query({ limit: 100 })).map((e) => e.type);
      expect(types).toEqual(
        expect.arrayContaining([
          'terminal.opened',
          'hostkey.accepted',
          'hostkey.forgotten',
          'terminal.open_failed',
        ]),
      );
    }
  });

  it('refuses denied targets with one generic error, and enforces the per-user terminal cap', async () => {
    const { admin } = await start({ SSH_DENIED_TARGETS: '127.0.0.2/32', MAX_TERMINALS_PER_USER: '1' });
    const c = await TestTerminalClient.authed(base, admin);
    c.send({
      type: 'open',
      target: { host: '127.0.0.2', port: sshd.port, username: 'x' },
      auth: { method: 'password', password: 'x' },
      cols: 80,
      rows: 24,
    });
    const denied = await c.waitForMessage('error');
    expect(denied.code).toBe(ErrorCode.TARGET_DENIED);
    c.messages.length = 0;
    c.send({
      type: 'open',
      target: { host: '169.254.169.254', port: 22, username: 'x' },
      cols: 80,
      rows: 24,
    });
    expect((await c.waitForMessage('error')).message).toBe(denied.message);
    c.messages.length = 0;
    await openTerminal(c, { expectHostKey: true });
    const d = await TestTerminalClient.authed(base, admin);
    d.send({
      type: 'open',
      target: { host: sshd.host, port: sshd.port, username: sshd.username },
      auth: { method: 'password', password: sshd.password },
      cols: 80,
      rows: 24,
    });
    expect((await d.waitForMessage('error')).code).toBe(ErrorCode.TERMINAL_LIMIT);
  });

  it('drops a socket that stops answering heartbeats; its terminal detaches and keeps running', async () => {
    const { admin } = await start({ HEARTBEAT_INTERVAL: '200ms', HEARTBEAT_TIMEOUT: '700ms' });
    const c = new TestTerminalClient(base, admin, {}, { autoPong: false });
    await c.opened;
    c.send({ type: 'auth', token: admin.token! });
    await c.waitForMessage('authenticated');
    const id = await openTerminal(c);
    expect((await c.waitForClose(3_000)).code).toBe(CloseCode.HEARTBEAT_TIMEOUT);
    const row = (await admin.request('GET', `/api/terminals/${id}`)).json().terminal;
    expect(row).toMatchObject({ status: 'running', attached: 0 });
    // A client that answers pings is not dropped.
    const ok = await TestTerminalClient.authed(base, admin);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(ok.closed).toBeNull();
  });

  it('a broker shutdown tells sockets "server restarting" and records the terminal as lost', async () => {
    const url = await freshPostgresDatabase();
    await start({ DATABASE_URL: url, NODE_ID: 'node-x' });
    const admin = new Browser(t!.app);
    await admin.login();
    const c = await TestTerminalClient.authed(base, admin);
    const id = await openTerminal(c);
    await t!.close();
    t = undefined;
    expect((await c.waitForClose()).code).toBe(CloseCode.SERVER_RESTARTING);
    t = await buildTestApp('postgres', { DATABASE_URL: url, NODE_ID: 'node-y' });
    const row = await createTerminalsRepo(t.app.database.db).findById(id);
    expect(row).toMatchObject({ status: 'lost', endReason: expect.stringMatching(/shut down/) });
  });

  it('at start-up, terminals this node left running become lost with the reason', async () => {
    const url = await freshPostgresDatabase();
    t = await buildTestApp('postgres', { DATABASE_URL: url, NODE_ID: 'node-a' });
    const userId = (await t.app.auth.users.findByUsername(ADMIN.username))!.id;
    const repo = createTerminalsRepo(t.app.database.db);
    const base = {
      userId,
      host: 'h',
      port: 22,
      sshUsername: 'u',
      cols: 80,
      rows: 24,
      status: 'running' as const,
    };
    await repo.insert({ ...base, id: randomUUID(), nodeId: 'node-a' });
    await repo.insert({ ...base, id: randomUUID(), nodeId: 'node-b' });
    await t.close();
    t = await buildTestApp('postgres', { DATABASE_URL: url, NODE_ID: 'node-a' });
    const rows = await createTerminalsRepo(t.app.database.db).listForUser(userId);
    const byNode = Object.fromEntries(rows.map((r) => [r.nodeId, r]));
    expect(byNode['node-a']).toMatchObject({ status: 'lost', endReason: LOST_ON_RESTART });
    expect(byNode['node-b']).toMatchObject({ status: 'running' });
  });
});
