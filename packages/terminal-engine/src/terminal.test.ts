import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { RecordingViewer, waitFor } from '../test/helpers.js';
import { createHeadless, restore, screenOf, writeAsync } from '../test/screen.js';
import type { SshClient } from './ssh-connect.js';
import { Terminal } from './terminal.js';

/**
 * Unit tests of the ordering and flow-control logic with a scripted channel (the real ssh2 and
 * sshd are exercised in test/terminals). The channel is a real Duplex stream, so pause/resume
 * and write backpressure behave like ssh2's.
 */
class ScriptedChannel extends Duplex {
  readonly written: Buffer[] = [];
  readonly stderr = new EventEmitter();
  windows: Array<[number, number]> = [];
  acceptWrites = true;
  private pendingCallbacks: Array<() => void> = [];
  constructor() {
    super({ highWaterMark: 16, readableHighWaterMark: 1 << 20 });
  }
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.written.push(chunk);
    if (this.acceptWrites) cb();
    else this.pendingCallbacks.push(() => cb());
  }
  release(): void {
    this.acceptWrites = true;
    for (const cb of this.pendingCallbacks.splice(0)) cb();
  }
  setWindow(rows: number, cols: number): void {
    this.windows.push([cols, rows]);
  }
  output(data: string | Buffer): void {
    this.push(typeof data === 'string' ? Buffer.from(data) : data);
  }
}

function setup(bufferBytes = 1 << 16) {
  const channel = new ScriptedChannel();
  const client = Object.assign(new EventEmitter(), { end() {}, destroy() {} }) as unknown as SshClient;
  const terminal = new Terminal({
    id: '00000000-0000-4000-8000-000000000001',
    userId: 'u',
    target: { host: 'h', port: 22, username: 'me' },
    address: '127.0.0.1',
    client,
    channel: channel as never,
    cols: 40,
    rows: 10,
    bufferBytes,
    mirrorHibernateAfterMs: 0,
    flow: {
      highWatermark: 4096,
      lowWatermark: 1024,
      bufferedHighWatermark: 8192,
      bufferedLowWatermark: 2048,
    },
  });
  return { channel, terminal, client };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('Terminal', () => {
  it('gives every viewer each byte exactly once, whether it resumes or starts from a snapshot', async () => {
    const { channel, terminal } = setup(8192);
    const all: Buffer[] = [];
    let n = 0;
    let running = true;
    const producer = (async () => {
      while (running) {
        const chunk = Buffer.from(`\x1b[3${n % 8}mline ${n}\x1b[0m ${'.'.repeat(n % 50)}\r\n`);
        n++;
        all.push(chunk);
        channel.output(chunk);
        if (n % 3 === 0) await tick();
      }
    })();
    const viewers: Array<{ v: RecordingViewer; snapshot: boolean; attached: boolean }> = [];
    for (let i = 0; i < 30; i++) {
      await tick();
      const v = new RecordingViewer();
      v.autoAck = (o) => terminal.ack(v, o);
      const resume = i % 2 === 0 ? Math.max(0, terminal.offset - 500) : undefined;
      await terminal.attach(v, resume === undefined ? {} : { resumeFrom: resume });
      viewers.push({ v, snapshot: v.of('snapshot').length > 0, attached: i % 3 !== 0 });
      if (i % 3 === 0) terminal.detach(v);
    }
    running = false;
    await producer;
    await waitFor(() => terminal.offset === Buffer.concat(all).length);
    const stream = Buffer.concat(all);
    const reference = createHeadless(40, 10);
    await writeAsync(reference, stream);
    let restoredScreens = 0;
    for (const { v, snapshot, attached } of viewers) {
      const ready = v.of('ready')[0];
      if (!ready) throw new Error('no ready');
      const got = Buffer.concat(v.chunks);
      expect(got.equals(stream.subarray(ready.offset, ready.offset + got.length))).toBe(true);
      if (attached) expect(v.nextOffset).toBe(stream.length);
      if (snapshot && attached) {
        restoredScreens++;
        const snap = v.of('snapshot')[0];
        if (!snap) throw new Error('no snapshot');
        expect(ready.offset).toBe(snap.offset);
        expect(screenOf(await restore(snap, v.chunks))).toEqual(screenOf(reference));
      }
    }
    expect(restoredScreens).toBeGreaterThan(3);
    expect(viewers.some((x) => !x.snapshot)).toBe(true);
  });

  it('sends streaming output in fewer, larger frames, and output after a quiet moment at once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const { channel, terminal } = setup(1 << 20);
      const v = new RecordingViewer();
      v.autoAck = (o) => terminal.ack(v, o);
      await terminal.attach(v, { resumeFrom: 0 });
      const kib = (n: number, c: string) => Buffer.alloc(n * 1024, c);
      // A first large read goes out as soon as it is parsed: nothing was streaming before it.
      channel.output(kib(20, 'a'));
      await tick();
      expect(v.chunks.map((c) => c.length)).toEqual([20 * 1024]);
      // Reads that follow it within a few ms are held and leave together.
      vi.advanceTimersByTime(1);
      for (const c of 'bcd') {
        channel.output(kib(10, c));
        await tick();
      }
      expect(v.chunks).toHaveLength(1);
      vi.advanceTimersByTime(4);
      expect(v.chunks.map((c) => c.length)).toEqual([20 * 1024, 30 * 1024]);
      // A batch reaching 64 KiB does not wait for the timer.
      vi.advanceTimersByTime(1);
      channel.output(kib(40, 'e'));
      await tick();
      channel.output(kib(30, 'f'));
      await tick();
      expect(v.chunks.map((c) => c.length)).toEqual([20 * 1024, 30 * 1024, 70 * 1024]);
      // After a quiet moment, a keystroke's echo is not held.
      vi.advanceTimersByTime(100);
      channel.output('x');
      await tick();
      expect(v.chunks.at(-1)?.toString()).toBe('x');
      expect(Buffer.concat(v.chunks).length).toBe(terminal.offset);
    } finally {
      vi.useRealTimers();
    }
  });

  it('pauses on unacked bytes or a full socket and resumes under the low watermark', async () => {
    const { channel, terminal } = setup();
    const v = new RecordingViewer();
    await terminal.attach(v);
    channel.output(Buffer.alloc(5000, 0x61));
    await tick();
    expect(terminal.isPaused).toBe(true);
    terminal.ack(v, 3000);
    expect(terminal.isPaused).toBe(true); // 2000 unacked: still above low watermark
    terminal.ack(v, 4500);
    expect(terminal.isPaused).toBe(false);
    v.buffered = 10_000;
    channel.output('x');
    await tick();
    expect(terminal.isPaused).toBe(true);
    v.buffered = 0;
    await waitFor(() => !terminal.isPaused, 1000, 'poll-driven resume');
    // Acks beyond what was sent cannot open the window.
    terminal.ack(v, 1e12);
    channel.output(Buffer.alloc(5000, 0x62));
    await tick();
    expect(terminal.isPaused).toBe(true);
    // A detached terminal is never paused for viewers.
    terminal.detach(v);
    expect(terminal.isPaused).toBe(false);
  });

  it('queues input while the channel is not draining, in order, and says when each piece was written', async () => {
    const { channel, terminal } = setup();
    channel.acceptWrites = false;
    const written: string[] = [];
    expect(terminal.input(Buffer.alloc(64, 0x31), () => written.push('ones'))).toBe(true);
    expect(terminal.input(Buffer.from('a'), () => written.push('a'))).toBe(true);
    expect(terminal.input(Buffer.alloc(300 * 1024, 0x62), () => written.push('big'))).toBe(true);
    expect(terminal.input(Buffer.from('c'), () => written.push('c'))).toBe(true);
    // The first write went to the channel (which then stopped draining); the rest wait.
    expect(written).toEqual(['ones']);
    expect(terminal.queuedInput).toBe(1 + 300 * 1024 + 1);
    channel.release();
    await waitFor(() => written.length === 4);
    expect(written).toEqual(['ones', 'a', 'big', 'c']);
    const all = Buffer.concat(channel.written);
    expect(all.length).toBe(64 + 1 + 300 * 1024 + 1);
    expect(all.subarray(64, 65).toString()).toBe('a');
    expect(all.subarray(-1).toString()).toBe('c');
    expect(terminal.queuedInput).toBe(0);
  });

  it('applies resizes to the channel and the snapshot size', async () => {
    const { channel, terminal } = setup();
    terminal.resize(100, 30);
    expect(channel.windows).toEqual([[100, 30]]);
    const v = new RecordingViewer();
    await terminal.attach(v, { cols: 120, rows: 40 });
    expect(v.of('snapshot')[0]).toMatchObject({ cols: 120, rows: 40 });
    expect(v.of('ready')[0]).toMatchObject({ cols: 120, rows: 40 });
    expect(() => terminal.resize(2000, 10)).toThrow();
  });

  it('ends with the exit status after the remaining output, and still serves late viewers', async () => {
    const { channel, terminal } = setup();
    const v = new RecordingViewer();
    await terminal.attach(v);
    channel.output('bye\r\n');
    channel.emit('exit', 0);
    channel.push(null);
    channel.on('end', () => channel.emit('close'));
    channel.resume();
    await waitFor(() => terminal.ended);
    expect(v.text()).toBe('bye\r\n');
    expect(v.of('exit')[0]).toMatchObject({ code: 0, signal: null });
    const late = new RecordingViewer();
    await terminal.attach(late, { resumeFrom: 0 });
    expect(late.text()).toBe('bye\r\n');
    expect(late.of('exit')).toHaveLength(1);
  });
});
