import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import {
  createPeerLink,
  HostConnection,
  type HostMessage,
  HostUnavailableError,
  type PeerLink,
  type TerminalInfo,
} from '@tether/host-protocol';
import { createTargetPolicy } from '@tether/terminal-engine';
import { freePort, type SshdHarness, sshdSkipReason, startSshd } from '@tether/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sharedSecret } from '../src/config.js';
import { createTerminalHost, type TerminalHost } from '../src/host.js';
import { openRequest, openShell, TEST_ENGINE, USER, waitFor } from './support.js';

const skip = sshdSkipReason();
const OTHER_USER = '99999999-2222-4333-8444-555555555555';

/**
 * The peer port of the terminal host (issue #16): another node's API attaches here over TLS-PSK
 * with a ticket for one terminal of one user, and can do nothing else.
 */
describe.skipIf(skip)('the terminal host’s peer port', () => {
  let sshd: SshdHarness;
  let dir: string;
  let socketPath: string;
  let secret: string;
  let peerPort: number;
  const peerSecret = randomBytes(32).toString('base64');
  /** This node (the host under test) and another node that signs tickets for it. */
  const here = createPeerLink({ secret: peerSecret, nodeId: 'node-a' });
  const other = createPeerLink({ secret: peerSecret, nodeId: 'node-b' });
  let hosts: TerminalHost[] = [];
  let conns: HostConnection[] = [];

  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
  });
  afterEach(async () => {
    for (const c of conns) c.close();
    for (const h of hosts.reverse()) await h.close().catch(() => {});
    hosts = [];
    conns = [];
    rmSync(dir, { recursive: true, force: true });
  });

  async function startHost(link: PeerLink = here) {
    dir ??= '';
    const host = createTerminalHost({
      socketPath,
      secret,
      engine: TEST_ENGINE,
      policy: createTargetPolicy({ allowed: ['127.0.0.0/8'], denied: [] }),
      peer: { host: '127.0.0.1', port: peerPort, link },
    });
    await host.listen();
    hosts.push(host);
    return host;
  }

  async function setUp() {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tether-peer-'));
    socketPath = path.join(dir, 'terminal-host.sock');
    secret = sharedSecret(dir);
    peerPort = await freePort();
    const host = await startHost();
    const local = await HostConnection.connect(socketPath, secret);
    conns.push(local);
    const { info } = await openShell(local, sshd);
    return { host, local, info };
  }

  const ticket = (
    tid: string,
    fields: Partial<{ act: 'attach' | 'terminate'; uid: string; to: string }> = {},
  ) => other.sign({ act: 'attach', tid, uid: USER, sid: randomUUID(), to: 'node-a', ...fields });

  async function peer(t: string) {
    const conn = await HostConnection.connectPeer({
      host: '127.0.0.1',
      port: peerPort,
      tls: other.clientTls(),
      ticket: t,
    });
    conns.push(conn);
    return conn;
  }

  /** Resolves when the connection closes (the host dropped it). */
  const closed = (conn: HostConnection) =>
    new Promise<void>((resolve) => conn.once('close', () => resolve()));

  let nextVid = 1;
  async function attach(conn: HostConnection, id: string, userId = USER) {
    const vid = nextVid++;
    const viewer = { text: '', events: [] as HostMessage[] };
    conn.on('message', (m) => {
      viewer.events.push(m);
      if (m.t === 'out' && m.vid === vid) viewer.text += Buffer.from(m.data).toString('utf8');
    });
    const info = await conn.request<TerminalInfo>({ t: 'attach', vid, id, userId });
    return { vid, viewer, info };
  }

  it('attaches with a ticket: output, input and resize of that terminal; nothing else', async () => {
    const { local, info } = await setUp();
    const conn = await peer(ticket(info.id));
    const { viewer, info: attached } = await attach(conn, info.id);
    expect(attached.id).toBe(info.id);
    conn.send({ t: 'input', id: info.id, data: Buffer.from('echo PEER-$((6*7))\r') });
    await waitFor(() => viewer.text.includes('PEER-42'), 'output through the peer port');
    conn.send({ t: 'resize', id: info.id, cols: 91, rows: 33 });
    await waitFor(() => hosts[0]!.manager.find(info.id)?.cols === 91, 'the resize');

    // Another terminal of the same user: the peer connection hears nothing of it...
    const second = (await openShell(local, sshd)).info;
    hosts[0]!.manager.find(second.id)!.terminate('ended by the test');
    await waitFor(() => hosts[0]!.manager.find(second.id)?.ended === true, 'the second terminal to end');
    await new Promise((r) => setTimeout(r, 100));
    expect(viewer.events.filter((m) => 'id' in m && m.id === second.id)).toEqual([]);
    // ...and cannot reach it: the connection is dropped.
    const gone = closed(conn);
    conn.send({ t: 'input', id: second.id, data: Buffer.from('x') });
    await gone;
    expect(hosts[0]!.manager.find(info.id)?.ended).toBe(false);
  });

  it.each([
    ['list', (c: HostConnection) => c.request({ t: 'list' })],
    ['open', (c: HostConnection) => c.request(openRequest(sshd))],
    ['stats', (c: HostConnection) => c.request({ t: 'stats' })],
    ['drain', (c: HostConnection) => c.request({ t: 'drain' })],
  ])('refuses %s on the peer port (the connection is dropped)', async (_name, act) => {
    const { info } = await setUp();
    const conn = await peer(ticket(info.id));
    await expect(act(conn)).rejects.toBeInstanceOf(HostUnavailableError);
    expect(hosts[0]!.drainingUntil).toBeNull();
    expect(hosts[0]!.manager.list()).toHaveLength(1);
  });

  it('refuses a wrong key, a missing, forged, reused or misdirected ticket, and another user’s terminal', async () => {
    const { info } = await setUp();
    // The wrong PEER_SECRET: no TLS handshake at all.
    const wrong = createPeerLink({ secret: randomBytes(32).toString('base64'), nodeId: 'node-x' });
    const handshake = await new Promise<string>((resolve) => {
      const socket = tlsConnect({ ...wrong.clientTls(), host: '127.0.0.1', port: peerPort });
      socket.once('secureConnect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message));
    });
    expect(handshake).not.toBe('connected');

    const refused = (t: string) => expect(peer(t)).rejects.toBeInstanceOf(HostUnavailableError);
    await refused('not-a-ticket');
    await refused(ticket(info.id, { to: 'node-b' }));
    const good = ticket(info.id);
    const [payload] = good.split('.');
    await refused(`${payload}.${'A'.repeat(43)}`);
    await refused(ticket(info.id, { uid: OTHER_USER }));
    await refused(ticket(randomUUID()));
    // A ticket signed with another secret (same node names).
    await refused(
      createPeerLink({ secret: randomBytes(32).toString('base64'), nodeId: 'node-b' }).sign({
        act: 'attach',
        tid: info.id,
        uid: USER,
        sid: randomUUID(),
        to: 'node-a',
      }),
    );
    (await peer(good)).close();
    await refused(good); // once only
    // A valid ticket does not allow attaching as another user either.
    const conn = await peer(ticket(info.id));
    await expect(attach(conn, info.id, OTHER_USER)).rejects.toBeInstanceOf(HostUnavailableError);
  });

  it('a terminate ticket ends its terminal (an administrator acting through another node) and allows nothing else', async () => {
    const { info } = await setUp();
    const conn = await peer(ticket(info.id, { act: 'terminate', uid: OTHER_USER }));
    conn.send({ t: 'terminate', id: info.id, reason: 'Ended by an administrator.' });
    await waitFor(() => hosts[0]!.manager.find(info.id)?.ended === true, 'the terminal to end');
    expect(hosts[0]!.manager.find(info.id)?.end?.reason).toBe('Ended by an administrator.');

    // Ending a terminal that is gone already is nothing, and says so (the asking node treats
    // it as ended): the connection is welcomed and answers.
    const gone = await peer(ticket(randomUUID(), { act: 'terminate' }));
    await expect(gone.request({ t: 'ping' })).resolves.toBeNull();
    gone.close();

    const second = await openShell(await HostConnection.connect(socketPath, secret), sshd);
    const onlyEnd = await peer(ticket(second.info.id, { act: 'terminate' }));
    await expect(attach(onlyEnd, second.info.id)).rejects.toBeInstanceOf(HostUnavailableError);
  });

  it('a new generation takes the peer port and relays a ticket for a terminal the old one holds', async () => {
    const { host: old, info } = await setUp();
    const newer = await startHost();
    expect(old.drainingUntil).not.toBeNull();
    expect(newer.peerAddress()?.port).toBe(peerPort);
    expect(old.peerAddress()).toBeNull();

    const conn = await peer(ticket(info.id));
    expect(conn.welcome.hostId).toBe(old.hostId);
    const { viewer } = await attach(conn, info.id);
    conn.send({ t: 'input', id: info.id, data: Buffer.from('echo OLD-$((6*7))\r') });
    await waitFor(() => viewer.text.includes('OLD-42'), 'output relayed from the old generation');
    // The relay keeps to the ticket too.
    const gone = closed(conn);
    conn.send({ t: 'ping', rid: 99 });
    await new Promise((r) => setTimeout(r, 50));
    conn.send({ t: 'resize', id: randomUUID(), cols: 80, rows: 24 });
    await gone;
    expect(old.manager.find(info.id)?.ended).toBe(false);
    // A terminal on neither: refused.
    await expect(peer(ticket(randomUUID()))).rejects.toBeInstanceOf(HostUnavailableError);
  });
});
