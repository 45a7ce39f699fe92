import type { HostConnection, HostMessage, TerminalInfo } from '@tether/host-protocol';
import type { TerminalManagerConfig } from '@tether/terminal-engine';
import type { SshdHarness } from '@tether/testkit';

export const USER = '11111111-2222-4333-8444-555555555555';

/** Small limits for hosts under test. */
export const TEST_ENGINE: TerminalManagerConfig = {
  maxTerminalsPerUser: 20,
  maxConnections: 50,
  connectTimeoutMs: 10_000,
  bufferBytes: 1 << 20,
  detachedTimeoutMs: 0,
};

export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** An `open` of a shell on the test sshd with its password, as the API would send it. */
export function openRequest(sshd: SshdHarness, id: string = crypto.randomUUID()) {
  return {
    t: 'open' as const,
    id,
    userId: USER,
    target: { host: sshd.host, port: sshd.port, username: sshd.username },
    auth: { method: 'password' as const, password: sshd.password },
    cols: 100,
    rows: 30,
    title: null,
    knownHost: null,
  };
}

/**
 * Opens a shell on the test sshd as the API would, accepting an unknown host key; returns the
 * terminal and the `remember` messages the host sent.
 */
export async function openShell(conn: HostConnection, sshd: SshdHarness, id: string = crypto.randomUUID()) {
  const remembered: Array<HostMessage & { t: 'remember' }> = [];
  const onMessage = (m: HostMessage) => {
    if (m.t === 'ask' && m.hostKey) conn.send({ t: 'answer', rid: m.rid, qid: m.qid, accept: true });
    if (m.t === 'remember') remembered.push(m);
  };
  conn.on('message', onMessage);
  try {
    const info = await conn.request<TerminalInfo>(openRequest(sshd, id));
    return { info, remembered };
  } finally {
    conn.off('message', onMessage);
  }
}
