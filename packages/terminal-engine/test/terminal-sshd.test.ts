import { CloseCode, ErrorCode } from '@tether/protocol';
import { type SshdHarness, sshdSkipReason, startSshd } from '@tether/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTargetPolicy } from '../src/target-policy.js';
import type { Terminal } from '../src/terminal.js';
import { TerminalManager, type TerminalManagerConfig } from '../src/terminal-manager.js';
import {
  createInteraction,
  LOOPBACK_ONLY,
  MemoryKnownHosts,
  RecordingViewer,
  targetOf,
  waitFor,
} from './helpers.js';
import { createHeadless, type HeadlessTerminal, restore, screenOf, writeAsync } from './screen.js';

const skip = sshdSkipReason();

describe.skipIf(skip !== null)(`terminals on a real OpenSSH sshd${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let sshd: SshdHarness;
  const managers: TerminalManager[] = [];

  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterEach(async () => {
    for (const m of managers.splice(0)) await m.shutdown();
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  function manager(config: Partial<TerminalManagerConfig> = {}) {
    const m = new TerminalManager(
      {
        maxTerminalsPerUser: 5,
        maxConnections: 10,
        connectTimeoutMs: 10_000,
        bufferBytes: 1 << 20,
        detachedTimeoutMs: 0,
        ...config,
      },
      { policy: createTargetPolicy(LOOPBACK_ONLY) },
    );
    managers.push(m);
    return m;
  }

  async function open(
    m: TerminalManager,
    userId = 'user-1',
    size = { cols: 80, rows: 24 },
  ): Promise<Terminal> {
    const knownHosts = new MemoryKnownHosts();
    knownHosts.remember(sshd.host, sshd.port, {
      keyType: 'ssh-ed25519',
      fingerprint: sshd.hostKeyFingerprint,
    });
    return m.create({
      userId,
      target: targetOf(sshd),
      auth: { method: 'password', password: sshd.password },
      ...size,
      knownHosts,
      interaction: createInteraction().interaction,
    });
  }

  /** Attaches a viewer that acks everything and waits for the shell prompt. */
  async function attachLive(t: Terminal, opts: { resumeFrom?: number } = {}) {
    const v = new RecordingViewer();
    v.autoAck = (offset) => t.ack(v, offset);
    await t.attach(v, opts);
    return v;
  }

  const type = (t: Terminal, s: string) => t.input(Buffer.from(s));

  it('resumes byte-exactly across repeated detach/reattach while output flows', async () => {
    // The whole output fits the ring, so a detach that a busy machine stretches to tens of
    // milliseconds still resumes from the ring (overwritten offsets are the snapshot test's job).
    const t = await open(manager({ bufferBytes: 16 << 20 }));
    const reference = await attachLive(t);
    await waitFor(() => reference.text().includes('$ '), 10_000, 'prompt');
    const start = t.offset;
    const resumer = await attachLive(t, { resumeFrom: start });
    expect(resumer.of('ready')[0]).toMatchObject({ offset: start, replay: true });
    // Ten bursts 0.1 s apart: the output flows for at least a second however fast the machine,
    // so the loop below detaches and reattaches many times while it does (a single `seq` ran out
    // after three rounds on a loaded machine).
    type(
      t,
      'for i in 0 1 2 3 4 5 6 7 8 9; do seq $((i*40000+1)) $((i*40000+40000)); sleep 0.1; done; echo "END""MARK"\r',
    );

    let viewer = resumer;
    const pieces: Buffer[] = [];
    let reattaches = 0;
    while (!Buffer.concat([...pieces, ...viewer.chunks]).includes('ENDMARK\r\n')) {
      await new Promise((r) => setTimeout(r, 15));
      // Detach, let output run on without us, come back where we left off.
      t.detach(viewer);
      const resumeFrom = viewer.nextOffset as number;
      pieces.push(...viewer.chunks);
      await new Promise((r) => setTimeout(r, 5));
      viewer = await attachLive(t, { resumeFrom });
      expect(viewer.of('ready')[0]).toMatchObject({ offset: resumeFrom, replay: true });
      reattaches++;
    }
    pieces.push(...viewer.chunks);
    await waitFor(() => reference.text().includes('ENDMARK\r\n'), 10_000, 'reference end');
    const got = Buffer.concat(pieces);
    const expected = Buffer.concat(reference.chunks).subarray(
      start - (reference.of('ready')[0]?.offset ?? 0),
    );
    const upTo = got.length;
    expect(got.equals(expected.subarray(0, upTo))).toBe(true);
    // And the content is the exact sequence, nothing lost or doubled.
    const text = got.toString();
    // After the echoed command line (and bash's bracketed-paste-off sequence) comes "1".
    const first = text.indexOf('\r1\r\n') + 1;
    const body = text.slice(first, text.indexOf('\r\nENDMARK'));
    const lines = body.split('\r\n');
    const wrong = lines.findIndex((l, i) => l !== String(i + 1));
    expect(wrong, `line ${wrong}: ${JSON.stringify(lines.slice(wrong - 2, wrong + 2))}`).toBe(-1);
    expect(lines.length).toBe(400000);
    expect(reattaches).toBeGreaterThan(3);
  });

  it('sends a snapshot when the resume offset has been overwritten', async () => {
    const t = await open(manager({ bufferBytes: 64 * 1024 }));
    const v1 = await attachLive(t);
    await waitFor(() => v1.text().includes('$ '));
    const old = v1.nextOffset as number;
    t.detach(v1);
    type(t, 'seq 1 50000 >/dev/stdout; echo DO""NE\r');
    await waitFor(() => t.offset - old > 200_000, 10_000, 'output');
    await new Promise((r) => setTimeout(r, 300));
    const v2 = await attachLive(t, { resumeFrom: old });
    const [snap] = v2.of('snapshot');
    expect(snap).toBeDefined();
    expect(v2.of('ready')[0]).toMatchObject({ offset: snap?.offset, replay: false });
    await waitFor(() => v2.text().includes('DONE') || (snap?.data.includes('DONE') ?? false));
  });

  it('restores a full-screen program (vim) for a fresh viewer, and it keeps working', async () => {
    const t = await open(manager(), 'user-1', { cols: 100, rows: 30 });
    const watcher = await attachLive(t);
    const screen = createHeadless(100, 30);
    let fed = 0;
    const sync = async () => {
      while (fed < watcher.chunks.length) await writeAsync(screen, watcher.chunks[fed++] as Buffer);
    };
    await waitFor(() => watcher.text().includes('$ '));
    type(
      t,
      "printf 'alpha line\\nbeta line\\ngamma line\\n' > /tmp/tether-vim.txt && vim /tmp/tether-vim.txt\r",
    );
    await waitFor(
      () => watcher.text().includes('gamma line') && watcher.text().includes('tether-vim.txt"'),
      10_000,
      'vim',
    );
    await waitQuiet(t);
    await sync();
    expect(screen.buffer.active.type).toBe('alternate');

    const fresh = new RecordingViewer();
    await t.attach(fresh);
    const snap = fresh.of('snapshot')[0];
    if (!snap) throw new Error('no snapshot');
    expect(fresh.of('ready')[0]).toMatchObject({ offset: snap.offset, replay: false });
    const restored = await restore(snap, fresh.chunks);
    expect(screenOf(restored)).toEqual(screenOf(screen));
    expect(screenOf(restored).lines.slice(0, 3)).toEqual(['alpha line', 'beta line', 'gamma line']);

    // The program still works through the restored view: quit it.
    type(t, ':q\r');
    await waitFor(() => fresh.text().includes('$ '), 10_000, 'prompt after :q');
    await waitQuiet(t);
    for (const chunk of fresh.chunks) await writeAsync(restored, chunk);
    await sync();
    expect(restored.buffer.active.type).toBe('normal');
    expect(screenOf(restored)).toEqual(screenOf(screen));
  });

  it('pauses a flood for a viewer that does not ack, keeps memory bounded, and Ctrl-C stays prompt', async () => {
    const t = await open(manager());
    const v = new RecordingViewer();
    await t.attach(v);
    await waitFor(() => v.text().includes('$ '));
    t.ack(v, v.nextOffset as number);
    const rssBefore = process.memoryUsage().rss;
    type(t, 'yes\r');
    await waitFor(() => t.isPaused, 10_000, 'pause');
    await new Promise((r) => setTimeout(r, 1500));
    const unacked = (v.nextOffset as number) - (v.of('ready')[0]?.offset ?? 0);
    // Never more than the high watermark plus one SSH packet in flight to the viewer.
    expect(unacked).toBeLessThan(512 * 1024 + 64 * 1024);
    expect(t.isPaused).toBe(true);
    const mem = t.memoryUsage();
    expect(mem.channelBuffered).toBeLessThan(3 * 1024 * 1024);
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    console.info(
      `flood paused: unacked=${unacked} channelBuffered=${mem.channelBuffered} rssGrowth=${(rssGrowth / 1048576).toFixed(1)}MiB`,
    );
    expect(rssGrowth).toBeLessThan(64 * 1024 * 1024);

    // Ctrl-C while the viewer catches up: the prompt must come back quickly.
    const sentAt = Date.now();
    type(t, '\x03');
    v.autoAck = (offset) => t.ack(v, offset);
    t.ack(v, v.nextOffset as number);
    type(t, 'echo "CTRL""C-OK"\r');
    await waitFor(() => v.text().includes('CTRLC-OK'), 10_000, 'prompt after Ctrl-C');
    const latency = Date.now() - sentAt;
    console.info(`Ctrl-C to prompt after a stalled viewer: ${latency} ms`);
    expect(latency).toBeLessThan(2000);

    // With a viewer that keeps up (acks as it renders), Ctrl-C during `yes` is quick.
    type(t, 'yes\r');
    await new Promise((r) => setTimeout(r, 1000));
    const marker = v.chunks.length;
    const ctrlCAt = Date.now();
    type(t, '\x03');
    type(t, 'echo "LIVE""-OK"\r');
    await waitFor(
      () => Buffer.concat(v.chunks.slice(marker)).includes('LIVE-OK'),
      10_000,
      'prompt after live Ctrl-C',
    );
    const liveLatency = Date.now() - ctrlCAt;
    console.info(`Ctrl-C to prompt with an acking viewer: ${liveLatency} ms`);
    expect(liveLatency).toBeLessThan(1000);
  });

  it('never pauses a detached flooding terminal, and bounds its memory', async () => {
    const t = await open(manager());
    const v = await attachLive(t);
    await waitFor(() => v.text().includes('$ '));
    t.detach(v);
    const rssBefore = process.memoryUsage().rss;
    const offsetBefore = t.offset;
    type(t, 'yes | head -c 100000000; echo "FLO""OD-DONE"\r');
    const samples: number[] = [];
    const started = Date.now();
    while (Date.now() - started < 4000) {
      await new Promise((r) => setTimeout(r, 200));
      samples.push(process.memoryUsage().rss - rssBefore);
    }
    const produced = t.offset - offsetBefore;
    const mem = t.memoryUsage();
    console.info(
      `detached flood: ${(produced / 1048576).toFixed(1)} MiB in 4 s, max rss growth ${(Math.max(...samples) / 1048576).toFixed(1)} MiB, ring ${mem.ringBytes}, mirror ${mem.mirror}`,
    );
    expect(produced).toBeGreaterThan(4 * 1024 * 1024);
    expect(mem.ringBytes).toBeLessThanOrEqual(1 << 20);
    expect(Math.max(...samples)).toBeLessThan(96 * 1024 * 1024);
    type(t, '\x03');
    const v2 = await attachLive(t);
    expect(v2.of('snapshot')).toHaveLength(1);
  });

  it('reports an exit code, and a killed sshd within seconds, and still replays the ring afterwards', async () => {
    const m = manager();
    const t1 = await open(m);
    const v1 = await attachLive(t1);
    await waitFor(() => v1.text().includes('$ '));
    type(t1, 'exit 3\r');
    await waitFor(() => v1.closed !== null, 10_000, 'exit');
    expect(v1.of('exit')[0]).toMatchObject({ code: 3, signal: null });
    expect(v1.closed?.code).toBe(CloseCode.TERMINAL_ENDED);
    expect(t1.status).toBe('exited');

    const t2 = await open(m);
    const v2 = await attachLive(t2);
    await waitFor(() => v2.text().includes('$ '));
    type(t2, 'echo "BEFORE""-KILL"\r');
    await waitFor(() => v2.text().includes('BEFORE-KILL'));
    const killedAt = Date.now();
    await sshd.killAll();
    await waitFor(() => v2.closed !== null, 10_000, 'lost');
    console.info(`sshd killed → exit after ${Date.now() - killedAt} ms`);
    expect(Date.now() - killedAt).toBeLessThan(5000);
    expect(t2.status).toBe('lost');
    expect(v2.of('exit')[0]?.reason).toMatch(/lost/i);
    // A reconnecting client still gets the final output, then the exit.
    const late = new RecordingViewer();
    await t2.attach(late, { resumeFrom: 0 });
    expect(late.of('ready')[0]).toMatchObject({ offset: 0, replay: true });
    expect(late.text()).toContain('BEFORE-KILL');
    expect(late.of('exit')).toHaveLength(1);
    expect(late.closed?.code).toBe(CloseCode.TERMINAL_ENDED);
    await sshd.restart();
  });

  it('declares a silent SSH server dead after keepalive interval × count, not an interval later', async () => {
    // 2 s × 2: dead 4 s after the last answer. ssh2's own reading of these values gave 6 s.
    const m = manager({ keepaliveIntervalMs: 2_000, keepaliveCountMax: 2 });
    const t = await open(m);
    // The shell request's answer was the last thing the server said; silence from here on,
    // with the TCP connection up (a partition without a FIN).
    const thaw = await sshd.freezeSessions();
    const frozenAt = Date.now();
    try {
      const v = new RecordingViewer();
      await t.attach(v);
      await waitFor(() => v.closed !== null, 15_000, 'keepalive timeout');
      const elapsed = Date.now() - frozenAt;
      console.info(`silent sshd → lost after ${elapsed} ms (2 s × 2)`);
      expect(v.of('exit')[0]?.reason).toMatch(/keepalive/i);
      expect(t.status).toBe('lost');
      expect(elapsed).toBeGreaterThan(3_000);
      expect(elapsed).toBeLessThan(5_300);
    } finally {
      thaw();
    }
  });

  it('resizes the remote PTY within bounds and refuses sizes outside them', async () => {
    const t = await open(manager());
    const v = await attachLive(t);
    await waitFor(() => v.text().includes('$ '));
    t.resize(132, 43);
    type(t, 'stty size\r');
    await waitFor(() => v.text().includes('43 132'), 5000, 'stty size');
    for (const [c, r] of [
      [0, 10],
      [1001, 10],
      [80, 0],
      [80, 501],
      [80.5, 24],
    ] as const) {
      expect(() => t.resize(c, r)).toThrow(expect.objectContaining({ code: ErrorCode.VALIDATION_FAILED }));
    }
    expect([t.cols, t.rows]).toEqual([132, 43]);
  });

  it('enforces per-user and per-node limits, ownership and shutdown', async () => {
    const m = manager({ maxTerminalsPerUser: 2, maxConnections: 3 });
    const a = await open(m, 'alice');
    const b = await open(m, 'alice');
    await expect(open(m, 'alice')).rejects.toMatchObject({ code: ErrorCode.TERMINAL_LIMIT });
    await open(m, 'bob');
    await expect(open(m, 'carol')).rejects.toMatchObject({ code: ErrorCode.NODE_LIMIT });
    expect(m.get(a.id, 'bob')).toBeUndefined();
    expect(m.get(a.id, 'alice')).toBe(a);
    expect(
      m
        .listByUser('alice')
        .map((t) => t.id)
        .sort(),
    ).toEqual([a.id, b.id].sort());

    const watcher = await attachLive(a);
    expect(m.terminateAllForUser('alice', 'Account disabled.')).toBe(2);
    expect(watcher.of('exit')[0]?.reason).toBe('Account disabled.');

    const d = await open(m, 'dave');
    const dv = await attachLive(d);
    await m.shutdown();
    expect(dv.closed?.code).toBe(CloseCode.SERVER_RESTARTING);
    expect(d.status).toBe('lost');
    await expect(open(m, 'dave')).rejects.toMatchObject({ code: ErrorCode.SERVICE_UNAVAILABLE });
  });

  it('closes terminals nobody watched for TERMINAL_DETACHED_TIMEOUT, and only those', async () => {
    // Both connect in parallel, so neither waits for the other's handshake on a busy machine.
    const m = manager({ detachedTimeoutMs: 3_000 });
    const [a, b] = await Promise.all([open(m, 'alice'), open(m, 'alice')]);
    const watcher = await attachLive(a);
    const t0 = Date.now();
    await waitFor(() => b.ended, 10_000, 'detached timeout');
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(b.end?.reason).toMatch(/detached/);
    expect(a.ended).toBe(false);
    expect(watcher.closed).toBeNull();
  });
});

/** Waits until the terminal has produced no output for a while (a full-screen app settled). */
async function waitQuiet(t: Terminal, quietMs = 300): Promise<void> {
  let last = t.offset;
  let since = Date.now();
  const deadline = Date.now() + 10_000;
  while (Date.now() - since < quietMs) {
    if (Date.now() > deadline) throw new Error('terminal never went quiet');
    await new Promise((r) => setTimeout(r, 25));
    if (t.offset !== last) {
      last = t.offset;
      since = Date.now();
    }
  }
}

export type { HeadlessTerminal };
