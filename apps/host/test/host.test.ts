import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  encodeFrame,
  HostConnection,
  type HostMessage,
  HostUnavailableError,
  type TerminalInfo,
} from '@tether/host-protocol';
import type { ServerMessage } from '@tether/protocol';
import { createTargetPolicy } from '@tether/terminal-engine';
import { type SshdHarness, sshdSkipReason, startSshd } from '@tether/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedSecret } from '../src/config.js';
import { createTerminalHost, type TerminalHost } from '../src/host.js';
import { openShell, TEST_ENGINE, USER, waitFor } from './support.js';

/** One browser socket's view of a terminal, as the API would relay it. */
class Viewer {
  readonly messages: ServerMessage[] = [];
  readonly chunks: Buffer[] = [];
  offset: number | null = null;
  closed: { code: number; reason: string } | null = null;
  constructor(
    readonly conn: HostConnection,
    readonly vid: number,
  ) {
    conn.on('message', (m) => this.take(m));
  }
  private take(m: HostMessage) {
    if (!('vid' in m) || m.vid !== this.vid) return;
    if (m.t === 'msg') {
      this.messages.push(m.m);
      if (m.m.type === 'ready') this.offset = m.m.offset;
    } else if (m.t === 'out') {
      this.chunks.push(Buffer.from(m.data));
      this.offset = (this.offset ?? 0) + m.data.length;
      this.conn.send({ t: 'ack', vid: this.vid, offset: this.offset, buffered: 0 });
    } else if (m.t === 'close') this.closed = { code: m.code, reason: m.reason };
  }
  text() {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

const skip = sshdSkipReason();

describe.skipIf(skip)('terminal host', () => {
  let sshd: SshdHarness;
  let dir: string;
  let socketPath: string;
  let secret: string;
  let host: TerminalHost;
  let nextVid = 1;

  beforeAll(async () => {
    sshd = await startSshd();
    dir = mkdtempSync(path.join(os.tmpdir(), 'tether-host-'));
    socketPath = path.join(dir, 'terminal-host.sock');
    secret = sharedSecret(dir);
    host = createTerminalHost({
      socketPath,
      secret,
      engine: TEST_ENGINE,
      policy: createTargetPolicy({ allowed: ['127.0.0.0/8'], denied: [] }),
    });
    await host.listen();
  });

  afterAll(async () => {
    await host?.close();
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const open = (conn: HostConnection, id?: string) => openShell(conn, sshd, id);

  async function attach(conn: HostConnection, id: string, resumeFrom?: number) {
    const viewer = new Viewer(conn, nextVid++);
    await conn.request({
      t: 'attach',
      vid: viewer.vid,
      id,
      userId: USER,
      ...(resumeFrom !== undefined ? { resumeFrom } : {}),
    });
    return viewer;
  }

  it('creates its socket 0600 and the shared secret file 0600', () => {
    expect(statSync(socketPath).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dir, 'terminal-host.secret')).mode & 0o777).toBe(0o600);
    expect(sharedSecret(dir)).toBe(secret); // read back, not replaced
  });

  it('opens a terminal, relays output and input, and remembers the accepted host key', async () => {
    const conn = await HostConnection.connect(socketPath, secret);
    try {
      const { info, remembered } = await open(conn);
      expect(info.status).toBe('running');
      expect(remembered).toEqual([
        expect.objectContaining({ host: '127.0.0.1', port: sshd.port, fingerprint: sshd.hostKeyFingerprint }),
      ]);
      const viewer = await attach(conn, info.id);
      conn.send({ t: 'input', id: info.id, data: Buffer.from('echo "host-"ok\r') });
      await waitFor(() => viewer.text().includes('host-ok'), 'echoed output');
      expect(viewer.messages.some((m) => m.type === 'ready')).toBe(true);
      conn.send({ t: 'terminate', id: info.id, reason: 'test done' });
      await waitFor(() => viewer.closed !== null, 'viewer closed');
      expect(viewer.messages.find((m) => m.type === 'exit')).toMatchObject({ reason: 'test done' });
    } finally {
      conn.close();
    }
  });

  it('keeps terminals running when the API goes away, and resumes them without loss', async () => {
    const first = await HostConnection.connect(socketPath, secret);
    const { info } = await open(first);
    const viewer = await attach(first, info.id);
    first.send({
      t: 'input',
      id: info.id,
      data: Buffer.from('for i in $(seq 1 40); do echo "line-$i"; sleep 0.05; done; echo "loop-"done\r'),
    });
    await waitFor(() => viewer.text().includes('line-3'), 'first lines');
    const seen = viewer.offset!;
    const before = viewer.text();
    first.close(); // the API process died

    const second = await HostConnection.connect(socketPath, secret);
    try {
      expect(second.welcome.hostId).toBe(host.hostId);
      const listed = await second.request<TerminalInfo[]>({ t: 'list' });
      const mine = listed.find((t) => t.id === info.id);
      expect(mine).toMatchObject({ status: 'running' });
      const resumed = await attach(second, info.id, seen);
      await waitFor(() => resumed.text().includes('loop-done'), 'the rest of the loop');
      expect(resumed.messages.find((m) => m.type === 'ready')).toMatchObject({ offset: seen, replay: true });
      const whole = before + resumed.text();
      for (let i = 1; i <= 40; i++) expect(whole.match(new RegExp(`^line-${i}\\r?$`, 'gm'))).toHaveLength(1);
      second.send({ t: 'terminate', id: info.id, reason: 'test done' });
    } finally {
      second.close();
    }
  });

  it('applies resent input once: the stream offset skips what was already taken', async () => {
    const conn = await HostConnection.connect(socketPath, secret);
    try {
      const { info } = await open(conn);
      const viewer = await attach(conn, info.id);
      const applied: number[] = [];
      conn.on('message', (m) => {
        if (m.t === 'applied' && m.id === info.id) applied.push(m.offset);
      });
      const one = Buffer.from('echo "one-"x\r');
      const two = Buffer.from('echo "two-"x\r');
      conn.send({ t: 'input', id: info.id, data: one, stream: 'tab-1', at: 0 });
      // A reconnecting client resends everything not confirmed: the first command again, then more.
      conn.send({ t: 'input', id: info.id, data: Buffer.concat([one, two]), stream: 'tab-1', at: 0 });
      await waitFor(() => viewer.text().includes('two-x'), 'second command');
      await waitFor(() => applied.at(-1) === one.length + two.length, 'applied offset');
      await new Promise((r) => setTimeout(r, 300));
      expect(viewer.text().match(/^one-x\r?$/gm)).toHaveLength(1);
      expect(viewer.text().match(/^two-x\r?$/gm)).toHaveLength(1);
      conn.send({ t: 'terminate', id: info.id, reason: 'test done' });
    } finally {
      conn.close();
    }
  });

  it('refuses a wrong secret, garbage, a huge frame and anything before hello, and keeps serving', async () => {
    await expect(HostConnection.connect(socketPath, 'not-the-secret')).rejects.toBeInstanceOf(
      HostUnavailableError,
    );

    const rawClose = (bytes: Buffer) =>
      new Promise<void>((resolve, reject) => {
        const s = connect(socketPath);
        const timer = setTimeout(() => reject(new Error('the host kept a bad connection open')), 3_000);
        s.on('connect', () => s.write(bytes));
        s.on('data', () => {});
        s.on('error', () => {});
        s.on('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    const hugeHeader = Buffer.alloc(4);
    hugeHeader.writeUInt32BE(0xffff_fff0, 0);
    await rawClose(hugeHeader);
    await rawClose(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await rawClose(encodeFrame({ t: 'list', rid: 1 }));
    await rawClose(encodeFrame({ t: 'hello', protocol: 1 })); // no secret: invalid message

    // Authenticated, then nonsense: dropped too.
    const conn = await HostConnection.connect(socketPath, secret);
    const closed = new Promise<void>((r) => conn.once('close', () => r()));
    conn.send({ t: 'resize', id: 'nope', cols: 1, rows: 1 } as never);
    await closed;

    const healthy = await HostConnection.connect(socketPath, secret);
    try {
      await expect(healthy.request({ t: 'ping' })).resolves.toBeNull();
      await expect(healthy.request({ t: 'stats' })).resolves.toMatchObject({
        pid: process.pid,
        connections: 1,
        rssBytes: expect.any(Number),
      });
    } finally {
      healthy.close();
    }
  });
});
