import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  currentGenerationPath,
  HostConnection,
  type HostMessage,
  HostRequestError,
  type TerminalInfo,
} from '@tether/host-protocol';
import type { ServerMessage } from '@tether/protocol';
import { createTargetPolicy } from '@tether/terminal-engine';
import { type SshdHarness, sshdSkipReason, startSshd } from '@tether/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedSecret } from '../src/config.js';
import { createTerminalHost, DRAIN_ENDED_REASON, type TerminalHost } from '../src/host.js';
import { openShell, TEST_ENGINE, USER, waitFor } from './support.js';

const skip = sshdSkipReason();

describe.skipIf(skip)('terminal host generations', () => {
  let sshd: SshdHarness;
  let dir: string;
  let socketPath: string;
  let secret: string;
  const hosts: TerminalHost[] = [];
  let nextVid = 1;

  beforeAll(async () => {
    sshd = await startSshd();
    dir = mkdtempSync(path.join(os.tmpdir(), 'tether-gen-'));
    socketPath = path.join(dir, 'terminal-host.sock');
    secret = sharedSecret(dir);
  });

  afterAll(async () => {
    for (const h of hosts) await h.close().catch(() => {});
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function startHost(drainLimitMs: number) {
    const state = { drained: false };
    const host = createTerminalHost({
      socketPath,
      secret,
      drainLimitMs,
      onDrained: () => {
        state.drained = true;
      },
      engine: TEST_ENGINE,
      policy: createTargetPolicy({ allowed: ['127.0.0.0/8'], denied: [] }),
    });
    await host.listen();
    hosts.push(host);
    return { host, state };
  }

  const open = async (conn: HostConnection) => (await openShell(conn, sshd)).info;

  /** Attaches a viewer; collects its control messages and output. */
  async function attach(conn: HostConnection, id: string) {
    const vid = nextVid++;
    const viewer = { messages: [] as ServerMessage[], text: '', closed: false };
    conn.on('message', (m) => {
      if (!('vid' in m) || m.vid !== vid) return;
      if (m.t === 'msg') viewer.messages.push(m.m);
      else if (m.t === 'out') viewer.text += Buffer.from(m.data).toString('utf8');
      else if (m.t === 'close') viewer.closed = true;
    });
    await conn.request({ t: 'attach', vid, id, userId: USER });
    return viewer;
  }

  it('a new generation takes new terminals; the old one serves its own, announces its limit, and is done when they end', async () => {
    const a = await startHost(60_000);
    const toA = await HostConnection.connect(socketPath, secret);
    const draining: Array<HostMessage & { t: 'draining' }> = [];
    toA.on('message', (m) => {
      if (m.t === 'draining') draining.push(m);
    });
    const first = await open(toA);
    const viewer = await attach(toA, first.id);

    const b = await startHost(60_000);
    // The node's socket path now leads to the new generation; the old one keeps its own.
    expect(currentGenerationPath(socketPath)).toBe(b.host.ownSocket);
    expect(existsSync(a.host.ownSocket)).toBe(true);
    await waitFor(() => draining.length === 1, 'the old host to announce its drain');
    expect(draining[0]).toMatchObject({ hostId: a.host.hostId });
    await waitFor(() => viewer.messages.some((m) => m.type === 'notice'), 'the notice to the viewer');
    const notice = viewer.messages.find((m) => m.type === 'notice');
    expect(notice).toMatchObject({ terminalId: first.id, code: 'HOST_DRAINING', endsAt: draining[0]!.until });

    // New terminals: refused by the draining host, opened on the new one.
    const refused = await open(toA).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(HostRequestError);
    expect((refused as HostRequestError).details).toEqual({ draining: 'true' });
    const toB = await HostConnection.connect(socketPath, secret);
    expect(toB.welcome.hostId).toBe(b.host.hostId);
    const second = await open(toB);
    expect((await toB.request<TerminalInfo[]>({ t: 'list' })).map((t) => t.id)).toEqual([second.id]);

    // The old terminal carries on, reachable through the old generation's own socket too.
    toA.send({ t: 'input', id: first.id, data: Buffer.from('echo "still-"here\r') });
    await waitFor(() => viewer.text.includes('still-here'), 'the old terminal to answer');
    const again = await HostConnection.connect(a.host.ownSocket, secret);
    expect(again.welcome).toMatchObject({ hostId: a.host.hostId, drainingUntil: draining[0]!.until });
    again.close();

    // Its last terminal ends: the old generation is done (its process exits).
    expect(a.state.drained).toBe(false);
    toA.send({ t: 'terminate', id: first.id, reason: 'done' });
    await waitFor(() => a.state.drained, 'the old host to be drained');
    await a.host.close();
    expect(existsSync(a.host.ownSocket)).toBe(false);
    expect(currentGenerationPath(socketPath)).toBe(b.host.ownSocket); // left alone
    toA.close();
    toB.send({ t: 'terminate', id: second.id, reason: 'done' });
    toB.close();
  });

  it('at the drain limit the old generation ends what is left, with the reason', async () => {
    const b = await startHost(800);
    const toB = await HostConnection.connect(socketPath, secret);
    const held = await open(toB);
    const viewer = await attach(toB, held.id);
    await startHost(60_000);
    await waitFor(() => b.state.drained, 'the drain limit to pass', 15_000);
    await waitFor(() => viewer.closed, 'the viewer to be closed');
    expect(viewer.messages.find((m) => m.type === 'exit')).toMatchObject({ reason: DRAIN_ENDED_REASON });
    toB.close();
  });
});
