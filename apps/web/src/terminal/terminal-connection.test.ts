import { ClientMessageSchema } from '@tether/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CLIENT_PING_MS,
  type SocketHandlers,
  type SocketLike,
  TerminalConnection,
  type TerminalConnectionOptions,
  type TerminalSink,
  type TerminalStatus,
} from './terminal-connection';

const TID = '0b7d8a34-1b6e-4f0e-9b52-6a3c2f9d1e11';
const USER = '5f0c2b1a-3d4e-4f5a-8b6c-7d8e9f0a1b2c';

class FakeSocket implements SocketLike {
  sent: Array<string | Uint8Array> = [];
  closed: { code?: number; reason?: string } | null = null;
  constructor(
    readonly url: string,
    readonly h: SocketHandlers,
  ) {}
  send(data: string | Uint8Array): void {
    this.sent.push(typeof data === 'string' ? data : data.slice());
  }
  close(code?: number, reason?: string): void {
    this.closed = { code, reason };
  }
  json(): Array<Record<string, unknown>> {
    return this.sent
      .filter((s): s is string => typeof s === 'string')
      .map((s) => JSON.parse(s) as Record<string, unknown>);
  }
  binary(): Uint8Array[] {
    return this.sent.filter((s): s is Uint8Array => typeof s !== 'string');
  }
  server(msg: Record<string, unknown>): void {
    this.h.onMessage(JSON.stringify(msg));
  }
  output(text: string): void {
    const bytes = new TextEncoder().encode(text);
    this.h.onMessage(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  }
}

/** Collects writes; rendering completes only when flush() is called, like xterm's async parser. */
class FakeSink implements TerminalSink {
  screen = '';
  pending: Array<() => void> = [];
  resets = 0;
  write(data: Uint8Array | string, onRendered: () => void): void {
    this.screen += typeof data === 'string' ? data : new TextDecoder().decode(data);
    this.pending.push(onRendered);
  }
  reset(): void {
    this.resets++;
    this.screen = '';
  }
  flush(): void {
    const cbs = this.pending;
    this.pending = [];
    for (const cb of cbs) cb();
  }
}

const authenticated = {
  type: 'authenticated',
  protocolVersion: 1,
  userId: USER,
  maxMessageBytes: 65536,
  ackWindowBytes: 1 << 20,
  heartbeatIntervalMs: 15000,
};

function ready(offset: number, replay: boolean) {
  return {
    type: 'ready',
    terminalId: TID,
    offset,
    cols: 80,
    rows: 24,
    host: 'h',
    port: 22,
    username: 'u',
    replay,
  };
}

function setup(over: Partial<TerminalConnectionOptions> = {}) {
  const sockets: FakeSocket[] = [];
  const sink = new FakeSink();
  const statuses: TerminalStatus[] = [];
  const sessionEnded: string[] = [];
  const conn = new TerminalConnection({
    url: 'ws://x/api/terminals/ws',
    getToken: () => 'tok-123',
    createSocket: (url, h) => {
      const s = new FakeSocket(url, h);
      sockets.push(s);
      return s;
    },
    sink,
    open: {
      target: { host: 'example.org', port: 22, username: 'me' },
      auth: { method: 'password', password: 'pw' },
    },
    cols: 80,
    rows: 24,
    random: () => 0.5,
    events: { status: (s) => statuses.push(s), sessionEnded: (c) => sessionEnded.push(c) },
    ...over,
  });
  const last = () => {
    const s = sockets.at(-1);
    if (!s) throw new Error('no socket');
    return s;
  };
  return { conn, sockets, sink, statuses, sessionEnded, last };
}

/** Connects and walks the handshake up to `ready`. */
function start(t: ReturnType<typeof setup>, offset = 0) {
  t.conn.connect();
  const s = t.last();
  s.h.onOpen();
  s.server(authenticated);
  s.server(ready(offset, false));
  return s;
}

describe('TerminalConnection', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends the token as the first message and never in the URL, then opens with the size', () => {
    const t = setup();
    t.conn.connect();
    const s = t.last();
    expect(s.url).toBe('ws://x/api/terminals/ws');
    expect(s.sent).toHaveLength(0);
    s.h.onOpen();
    expect(s.json()).toEqual([{ type: 'auth', token: 'tok-123' }]);
    s.server(authenticated);
    expect(s.json()[1]).toMatchObject({ type: 'open', target: { host: 'example.org' }, cols: 80, rows: 24 });
    s.server(ready(0, false));
    expect(t.conn.status).toBe('ready');
    expect(t.conn.terminalId).toBe(TID);
  });

  it('tracks rendered bytes through the sink callback and acks them', () => {
    const t = setup();
    const s = start(t);
    s.output('hello ');
    s.output('world');
    expect(t.sink.screen).toBe('hello world');
    expect(t.conn.writtenOffset).toBe(11);
    expect(t.conn.renderedOffset).toBe(0);
    vi.advanceTimersByTime(150);
    expect(s.json().filter((m) => m.type === 'ack')).toEqual([]);
    t.sink.flush();
    expect(t.conn.renderedOffset).toBe(11);
    vi.advanceTimersByTime(150);
    expect(s.json().filter((m) => m.type === 'ack')).toEqual([{ type: 'ack', offset: 11 }]);
    vi.advanceTimersByTime(500);
    expect(s.json().filter((m) => m.type === 'ack')).toHaveLength(1);
  });

  it('acks immediately once 64 KiB have been rendered', () => {
    const t = setup();
    const s = start(t);
    s.output('x'.repeat(70 * 1024));
    t.sink.flush();
    expect(s.json().filter((m) => m.type === 'ack')).toEqual([{ type: 'ack', offset: 70 * 1024 }]);
  });

  it('passes a notice on and carries on', () => {
    const notices: unknown[] = [];
    const t = setup({ events: { notice: (n) => notices.push(n) } });
    const s = start(t);
    const notice = {
      type: 'notice',
      terminalId: TID,
      code: 'HOST_DRAINING',
      message: 'The terminal host was upgraded.',
      endsAt: 1_800_000_000_000,
    };
    s.server(notice);
    expect(notices).toEqual([notice]);
    expect(t.conn.status).toBe('ready');
    s.output('still here');
    expect(t.sink.screen).toBe('still here');
  });

  it('starts counting at the offset given by ready', () => {
    const t = setup();
    const s = start(t, 1000);
    s.output('abc');
    t.sink.flush();
    expect(t.conn.renderedOffset).toBe(1003);
  });

  it('resets the screen for a snapshot and continues from its offset', () => {
    const t = setup({ open: undefined, terminalId: TID });
    t.conn.connect();
    const s = t.last();
    s.h.onOpen();
    s.server(authenticated);
    const attach = s.json()[1];
    expect(attach).toEqual({
      type: 'attach',
      terminalId: TID,
      cols: 80,
      rows: 24,
      input: { stream: expect.stringMatching(/^web-[0-9a-f]{24}$/) },
    });
    s.server({ type: 'snapshot', terminalId: TID, offset: 5000, cols: 80, rows: 24, data: 'SCREEN' });
    s.server(ready(5000, false));
    s.output('!');
    t.sink.flush();
    expect(t.sink.resets).toBe(1);
    expect(t.sink.screen).toBe('SCREEN!');
    expect(t.conn.renderedOffset).toBe(5001);
  });

  it('reconnects after a drop and resumes from the last written byte: nothing lost, nothing twice', () => {
    const t = setup();
    const s1 = start(t);
    s1.output('one ');
    s1.output('two ');
    t.sink.flush();
    s1.h.onClose(1006, '');
    expect(t.conn.status).toBe('reconnecting');
    expect(t.statuses).toContain('reconnecting');
    // Typed while reconnecting: accepted, sent once the terminal is back.
    expect(t.conn.sendInput('x')).toBe(true);

    vi.advanceTimersByTime(600);
    expect(t.sockets).toHaveLength(2);
    const s2 = t.last();
    s2.h.onOpen();
    expect(s2.json()[0]).toEqual({ type: 'auth', token: 'tok-123' });
    s2.server(authenticated);
    expect(s2.json()[1]).toEqual({
      type: 'attach',
      terminalId: TID,
      resumeFrom: 8,
      cols: 80,
      rows: 24,
      input: { stream: expect.any(String) },
    });
    // A broker that replays a little too much: the overlap is dropped.
    s2.server(ready(4, true));
    s2.output('two three');
    t.sink.flush();
    expect(t.sink.screen).toBe('one two three');
    expect(t.conn.renderedOffset).toBe(13);
    expect(t.conn.status).toBe('ready');
  });

  it('backs off exponentially with a cap while the broker is unreachable', () => {
    const t = setup();
    const s1 = start(t);
    s1.h.onClose(1012, 'restarting');
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      const before = t.sockets.length;
      let waited = 0;
      while (t.sockets.length === before) {
        vi.advanceTimersByTime(50);
        waited += 50;
      }
      delays.push(waited);
      t.last().h.onClose(1006, '');
    }
    expect(delays[0]).toBeLessThanOrEqual(600);
    expect(delays[1]).toBeGreaterThan(delays[0] ?? 0);
    expect(delays.at(-1)).toBeLessThanOrEqual(10_000);
    expect(delays.at(-1)).toBeGreaterThanOrEqual(8_000);
  });

  it('ends the web session with the precise reason when auth is refused on the socket', () => {
    const t = setup();
    t.conn.connect();
    const s = t.last();
    s.h.onOpen();
    s.server({ type: 'error', code: 'SESSION_REPLACED', message: 'Signed in elsewhere' });
    s.h.onClose(4001, 'authentication failed');
    expect(t.sessionEnded).toEqual(['SESSION_REPLACED']);
    vi.advanceTimersByTime(30_000);
    expect(t.sockets).toHaveLength(1);
  });

  it.each([
    [4009, 'SESSION_REPLACED'],
    [4010, 'SESSION_EXPIRED'],
    [4011, 'SESSION_REVOKED'],
    [4012, 'ACCOUNT_DISABLED'],
    [4001, 'UNAUTHENTICATED'],
  ])('ends the web session on close code %i without reconnecting', (code, expected) => {
    const t = setup();
    const s = start(t);
    s.h.onClose(code, '');
    expect(t.sessionEnded).toEqual([expected]);
    vi.advanceTimersByTime(30_000);
    expect(t.sockets).toHaveLength(1);
  });

  it('authenticates again with the new token when a refresh superseded the one it sent', () => {
    let token = 'tok-old';
    const t = setup({ getToken: () => token });
    t.conn.connect();
    const first = t.last();
    first.h.onOpen();
    expect(first.json()[0]).toEqual({ type: 'auth', token: 'tok-old' });
    token = 'tok-new'; // the refresh answered meanwhile
    first.server({ type: 'error', code: 'TOKEN_SUPERSEDED', message: 'replaced' });
    first.h.onClose(4001, 'authentication failed');
    expect(t.sessionEnded).toEqual([]);
    const second = t.last();
    expect(second).not.toBe(first);
    second.h.onOpen();
    second.server(authenticated);
    expect(second.json()).toEqual([
      { type: 'auth', token: 'tok-new' },
      expect.objectContaining({ type: 'open', target: { host: 'example.org', port: 22, username: 'me' } }),
    ]);
  });

  it('ends the session when the token it holds is itself the superseded one', () => {
    const t = setup();
    t.conn.connect();
    t.last().h.onOpen();
    t.last().server({ type: 'error', code: 'TOKEN_SUPERSEDED', message: 'replaced' });
    expect(t.sessionEnded).toEqual(['TOKEN_SUPERSEDED']);
  });

  it('reattaching while the terminal’s node is unreachable: a notice, then it tries again and resumes', () => {
    const notices: string[] = [];
    const errors: string[] = [];
    const t = setup({ events: { notice: (n) => notices.push(n.code), error: (e) => errors.push(e.code) } });
    const s1 = start(t);
    s1.output('abc');
    t.sink.flush();
    s1.h.onClose(1012, 'server restarting');
    vi.advanceTimersByTime(600);
    const s2 = t.last();
    s2.h.onOpen();
    s2.server(authenticated);
    s2.server({ type: 'error', code: 'TERMINAL_UNREACHABLE', message: 'node-a is not answering' });
    s2.h.onClose(1013, 'terminal unreachable');
    expect(notices).toEqual(['TERMINAL_UNREACHABLE']);
    expect(errors).toEqual([]);
    expect(t.conn.status).toBe('reconnecting');
    vi.advanceTimersByTime(5_000);
    const s3 = t.last();
    expect(s3).not.toBe(s2);
    s3.h.onOpen();
    s3.server(authenticated);
    expect(s3.json()[1]).toMatchObject({ type: 'attach', terminalId: TID, resumeFrom: 3 });
    s3.server(ready(3, true));
    s3.output('def');
    t.sink.flush();
    expect(t.sink.screen).toBe('abcdef');
    expect(t.conn.status).toBe('ready');
  });

  it('marks the terminal ended on close 4014 and does not reconnect', () => {
    const ended: string[] = [];
    const t = setup({ events: { ended: (r) => ended.push(r) } });
    const s = start(t);
    s.h.onClose(4014, 'exited');
    expect(t.conn.status).toBe('exited');
    expect(ended).toEqual(['exited']);
    vi.advanceTimersByTime(30_000);
    expect(t.sockets).toHaveLength(1);
  });

  it('stops on exit and reports the code', () => {
    const exits: Array<number | null> = [];
    const t = setup({ events: { exit: (e) => exits.push(e.code) } });
    const s = start(t);
    s.server({ type: 'exit', terminalId: TID, code: 3, signal: null, reason: 'exited' });
    s.h.onClose(1000, '');
    expect(t.conn.status).toBe('exited');
    expect(exits).toEqual([3]);
    vi.advanceTimersByTime(30_000);
    expect(t.sockets).toHaveLength(1);
  });

  it('splits large input into frames of at most 32 KiB', () => {
    const t = setup();
    const s = start(t);
    expect(t.conn.sendInput('a'.repeat(100 * 1024))).toBe(true);
    const frames = s.binary();
    expect(frames.map((f) => f.byteLength)).toEqual([32768, 32768, 32768, 4096]);
  });

  it("paces input to the broker's window: a large paste goes out as input_ack confirms it", () => {
    const t = setup();
    t.conn.connect();
    const s = t.last();
    s.h.onOpen();
    s.server({ ...authenticated, inputWindowBytes: 64 * 1024 });
    s.server(ready(0, false));
    const paste = new Uint8Array(200 * 1024).map((_, i) => 65 + (i % 26));
    expect(t.conn.sendBinaryInput(String.fromCharCode(...paste.subarray(0, 1)))).toBe(true);
    expect(t.conn.sendInput(new TextDecoder().decode(paste.subarray(1)))).toBe(true);
    const sent = () => s.binary().reduce((n, f) => n + f.byteLength, 0);
    // 1 byte + one 32 KiB frame fit; the next frame would pass 64 KiB.
    expect(sent()).toBe(1 + 32 * 1024);
    expect(t.conn.inputBacklog).toBe(200 * 1024 - sent());
    s.server({ type: 'input_ack', offset: 16 * 1024 });
    expect(sent()).toBe(1 + 2 * 32 * 1024);
    s.server({ type: 'input_ack', offset: sent() });
    s.server({ type: 'input_ack', offset: 200 * 1024 });
    s.server({ type: 'input_ack', offset: 200 * 1024 });
    expect(t.conn.inputBacklog).toBe(0);
    // Every byte, once, in order.
    const all = new Uint8Array(sent());
    let at = 0;
    for (const f of s.binary()) {
      all.set(f, at);
      at += f.byteLength;
    }
    expect(all).toEqual(paste);
    // A keystroke behind a paste waits its turn; with the window open it goes at once.
    t.conn.sendInput('x');
    expect(new TextDecoder().decode(s.binary().at(-1))).toBe('x');
  });

  it('keeps unsent input across a reconnect and sends it after the new ready', () => {
    const t = setup();
    t.conn.connect();
    const s1 = t.last();
    s1.h.onOpen();
    s1.server({ ...authenticated, inputWindowBytes: 32 * 1024 });
    s1.server(ready(0, false));
    t.conn.sendInput('a'.repeat(32 * 1024) + 'b'.repeat(10));
    expect(s1.binary()).toHaveLength(1);
    s1.h.onClose(1006, '');
    vi.advanceTimersByTime(5_000);
    const s2 = t.last();
    expect(s2).not.toBe(s1);
    s2.h.onOpen();
    s2.server({ ...authenticated, inputWindowBytes: 32 * 1024 });
    expect(s2.binary()).toHaveLength(0);
    s2.server(ready(0, true));
    expect(s2.binary().map((f) => new TextDecoder().decode(f))).toEqual(['b'.repeat(10)]);
  });

  it('numbers its input in a stream: after a reconnect it resends exactly what the terminal did not take', () => {
    const t = setup();
    t.conn.connect();
    const s1 = t.last();
    s1.h.onOpen();
    s1.server({ ...authenticated, inputWindowBytes: 64 * 1024 });
    const attach = s1.json()[1] as { input: { stream: string } };
    const stream = attach.input.stream;
    s1.server({ ...ready(0, false), input: { stream, applied: 0 } });
    t.conn.sendInput('one\r');
    t.conn.sendInput('two\r');
    t.conn.sendInput('three\r');
    expect(s1.binary()).toHaveLength(3);
    // The broker confirmed "one\r" only; then the socket (or the broker) went away.
    s1.server({ type: 'input_ack', offset: 4 });
    s1.h.onClose(1012, 'server restarting');
    vi.advanceTimersByTime(5_000);
    const s2 = t.last();
    s2.h.onOpen();
    s2.server({ ...authenticated, inputWindowBytes: 64 * 1024 });
    expect(s2.json()[1]).toMatchObject({ type: 'attach', input: { stream } });
    t.conn.sendInput('four\r'); // typed while reconnecting: kept, sent after what was in flight
    expect(s2.binary()).toHaveLength(0);
    // The terminal had taken "one\rtw" (the old broker forwarded part of a frame's worth).
    s2.server({ ...ready(0, true), input: { stream, applied: 6 } });
    const decode = (f: Uint8Array) => new TextDecoder().decode(f);
    expect(s2.binary().map(decode)).toEqual(['o\r', 'three\r', 'four\r']);
    t.conn.sendInput('five\r');
    expect(s2.binary().map(decode).join('')).toBe('o\rthree\rfour\rfive\r');
    // Acks are stream offsets now: 6 + 2 + 6 + 5 + 5.
    s2.server({ type: 'input_ack', offset: 24 });
    s2.h.onClose(1006, '');
    vi.advanceTimersByTime(5_000);
    const s3 = t.last();
    s3.h.onOpen();
    s3.server({ ...authenticated, inputWindowBytes: 64 * 1024 });
    s3.server({ ...ready(0, true), input: { stream, applied: 24 } });
    expect(s3.binary()).toHaveLength(0); // everything was confirmed: nothing twice
  });

  it('against a broker without input streams, counts input per socket and resends nothing', () => {
    const t = setup();
    const s1 = start(t);
    t.conn.sendInput('abc');
    expect(s1.binary()).toHaveLength(1);
    s1.h.onClose(1006, '');
    vi.advanceTimersByTime(5_000);
    const s2 = t.last();
    s2.h.onOpen();
    s2.server({ ...authenticated, inputWindowBytes: 4 });
    s2.server(ready(0, true)); // no `input`: an older broker
    expect(s2.binary()).toHaveLength(0);
    t.conn.sendInput('defg');
    expect(s2.binary()).toHaveLength(1); // the window counts this socket's bytes from 0
  });

  it("states the terminal's scrollback in open and in every attach, as it is at the time", () => {
    let lines = 5000;
    const t = setup({ scrollback: () => lines });
    const s1 = start(t);
    expect(s1.json()[1]).toMatchObject({ type: 'open', scrollback: 5000 });
    lines = 250_000; // more than any broker keeps: clamped to what the protocol accepts
    s1.h.onClose(1006, '');
    vi.advanceTimersByTime(600);
    const s2 = t.last();
    s2.h.onOpen();
    s2.server(authenticated);
    expect(s2.json()[1]).toMatchObject({ type: 'attach', terminalId: TID, scrollback: 100_000 });
    expect(ClientMessageSchema.safeParse(s2.json()[1]).success).toBe(true);
    // Without the option the broker's default applies (nothing is sent).
    const plain = setup();
    expect(start(plain).json()[1]).not.toHaveProperty('scrollback');
  });

  it('sends a resize only when the size changes, and re-sends it on reconnect', () => {
    const t = setup();
    const s1 = start(t);
    t.conn.resize(80, 24);
    expect(s1.json().filter((m) => m.type === 'resize')).toEqual([]);
    t.conn.resize(120, 40);
    expect(s1.json().filter((m) => m.type === 'resize')).toEqual([{ type: 'resize', cols: 120, rows: 40 }]);
    s1.h.onClose(1006, '');
    vi.advanceTimersByTime(600);
    const s2 = t.last();
    s2.h.onOpen();
    s2.server(authenticated);
    expect(s2.json()[1]).toMatchObject({ type: 'attach', cols: 120, rows: 40 });
    s2.server(ready(0, true));
    expect(s2.json().filter((m) => m.type === 'resize')).toEqual([{ type: 'resize', cols: 120, rows: 40 }]);
  });

  it('relays host-key and keyboard-interactive prompts', () => {
    const t = setup();
    t.conn.connect();
    const s = t.last();
    s.h.onOpen();
    s.server(authenticated);
    s.server({
      type: 'hostkey_prompt',
      host: 'h',
      port: 22,
      keyType: 'ssh-ed25519',
      fingerprint: 'SHA256:abc',
    });
    expect(t.conn.status).toBe('hostkey');
    t.conn.answerHostKey(true);
    expect(s.json().at(-1)).toEqual({ type: 'hostkey_decision', accept: true });
    expect(t.conn.status).toBe('connecting');
    s.server({ type: 'prompt', name: '', instructions: '', prompts: [{ prompt: 'Code: ', echo: true }] });
    expect(t.conn.status).toBe('prompt');
    t.conn.answerPrompt(['123']);
    expect(s.json().at(-1)).toEqual({ type: 'prompt_response', responses: ['123'] });
  });

  it('fails without reconnecting when the connection is lost before the terminal started', () => {
    const errors: string[] = [];
    const t = setup({ events: { error: (e) => errors.push(e.code) } });
    t.conn.connect();
    const s = t.last();
    s.h.onOpen();
    s.server(authenticated);
    s.server({
      type: 'error',
      code: 'HOSTKEY_CHANGED',
      message: 'changed',
      details: { expected: 'a', received: 'b' },
    });
    expect(s.closed).toEqual({ code: 1000, reason: 'failed' });
    s.h.onClose(1000, '');
    expect(t.conn.status).toBe('error');
    expect(errors).toEqual(['HOSTKEY_CHANGED']);
    vi.advanceTimersByTime(30_000);
    expect(t.sockets).toHaveLength(1);
  });

  it('detaches on dispose with a normal close, says when the socket has closed, and stays closed', () => {
    let detached = 0;
    const t = setup({ events: { detached: () => detached++ } });
    const s = start(t);
    t.conn.dispose();
    expect(s.closed).toEqual({ code: 1000, reason: 'detach' });
    expect(detached).toBe(0);
    s.h.onClose(1000, '');
    expect(detached).toBe(1);
    vi.advanceTimersByTime(30_000);
    expect(t.sockets).toHaveLength(1);
  });

  it('calls a silent socket dead after two missed pongs (15 s at most), not while pongs come back', () => {
    const t = setup();
    const s = start(t);
    // Answered pings keep it alive however long it is quiet otherwise.
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(CLIENT_PING_MS);
      expect(s.json().at(-1)).toMatchObject({ type: 'ping' });
      s.server({ type: 'pong' });
    }
    expect(t.conn.status).toBe('ready');
    // Then nothing comes back.
    vi.advanceTimersByTime(3 * CLIENT_PING_MS - 1);
    expect(t.conn.status).toBe('ready');
    vi.advanceTimersByTime(1);
    expect(t.conn.status).toBe('reconnecting');
    expect(s.closed).toMatchObject({ code: 4000 });
  });

  it('drops the socket at once when the browser goes offline, and reconnects when it is back', () => {
    const t = setup();
    const s = start(t);
    t.conn.networkLost();
    expect(t.conn.status).toBe('reconnecting');
    expect(s.closed).toMatchObject({ code: 4000, reason: 'browser offline' });
    t.conn.reconnectNow();
    expect(t.sockets).toHaveLength(2);
    const again = t.last();
    again.h.onOpen();
    again.server(authenticated);
    expect(again.json()[1]).toMatchObject({ type: 'attach', terminalId: TID });
  });
});
