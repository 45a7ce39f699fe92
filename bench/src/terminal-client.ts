import type { ClientMessage, ServerMessage, SshAuth } from '@tether/protocol';
import type { SshdHarness } from '@tether/testkit';
import WebSocket from 'ws';
import type { Login } from './broker.ts';
import { watchOutput } from './openssh.ts';

const TERMINAL_SOCKET_PATH = '/api/terminals/ws';

/**
 * A lean terminal-socket client, as a browser runs it: fingerprint cookie on the upgrade, the
 * token in the first message, output counted by offset and acked as it is "rendered".
 */
export class BenchTerminal {
  readonly ws: WebSocket;
  offset = 0;
  received = 0;
  terminalId: string | null = null;
  closed: { code: number; reason: string } | null = null;
  /** Called for every binary frame, after the offset is advanced. */
  onData: ((chunk: Buffer) => void) | null = null;
  /** Called for every control message. */
  onMessage: ((msg: ServerMessage) => void) | null = null;
  private acked = 0;
  /** Input flow control: the broker's window, bytes sent and confirmed (`input_ack`). */
  private inputWindow = Number.POSITIVE_INFINITY;
  private inputSent = 0;
  private inputAcked = 0;
  private ackTimer: NodeJS.Timeout | null = null;
  private readonly waiters = new Set<(msg: ServerMessage | null) => void>();

  private constructor(
    url: string,
    session: Login,
    private readonly ackEvery: number,
  ) {
    this.ws = new WebSocket(`${url.replace(/^http/, 'ws')}${TERMINAL_SOCKET_PATH}`, {
      headers: { cookie: session.cookie },
      perMessageDeflate: false,
    });
    this.ws.binaryType = 'nodebuffer';
    this.ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) {
        this.offset += data.length;
        this.received += data.length;
        this.onData?.(data);
        this.maybeAck();
        return;
      }
      const msg = JSON.parse(data.toString('utf8')) as ServerMessage;
      if (msg.type === 'authenticated' && msg.inputWindowBytes) this.inputWindow = msg.inputWindowBytes;
      if (msg.type === 'input_ack') this.inputAcked = msg.offset;
      if (msg.type === 'ready') {
        this.offset = msg.offset;
        this.acked = msg.offset;
        this.terminalId = msg.terminalId;
      }
      this.onMessage?.(msg);
      for (const w of [...this.waiters]) w(msg);
    });
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      if (this.ackTimer) clearTimeout(this.ackTimer);
      for (const w of [...this.waiters]) w(null);
    });
    this.ws.on('error', () => {});
  }

  /** Opens a socket and authenticates it. */
  static async connect(
    url: string,
    session: Login,
    options: { ackEvery?: number } = {},
  ): Promise<BenchTerminal> {
    const t = new BenchTerminal(url, session, options.ackEvery ?? 64 * 1024);
    await new Promise<void>((resolve, reject) => {
      t.ws.once('open', () => resolve());
      t.ws.once('error', reject);
      t.ws.once('unexpected-response', (_req, res) =>
        reject(new Error(`upgrade refused: ${res.statusCode}`)),
      );
    });
    t.send({ type: 'auth', token: session.token });
    await t.waitFor('authenticated');
    return t;
  }

  send(message: ClientMessage): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  type(data: string | Buffer): void {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    this.inputSent += bytes.length;
    this.ws.send(bytes, { binary: true });
  }

  /** Sends `data` as input in 32 KiB frames, each only when the broker's input window has room. */
  async paste(data: Buffer): Promise<void> {
    for (let at = 0; at < data.length; at += 32 * 1024) {
      const piece = data.subarray(at, at + 32 * 1024);
      while (this.inputSent - this.inputAcked + piece.length > this.inputWindow) {
        const msg = await new Promise<ServerMessage | null>((resolve) => {
          const w = (m: ServerMessage | null) => {
            this.waiters.delete(w);
            resolve(m);
          };
          this.waiters.add(w);
        });
        if (msg === null) throw new Error('socket closed during a paste');
      }
      this.type(piece);
    }
  }

  /** `open` on a target; accepts the host key if asked; resolves at `ready`. */
  async open(
    target: { host: string; port: number; username: string },
    auth: SshAuth,
    size = { cols: 120, rows: 40 },
    timeoutMs = 60_000,
    scrollback?: number,
  ): Promise<string> {
    const hostKey = (msg: ServerMessage) => {
      if (msg.type === 'hostkey_prompt') this.send({ type: 'hostkey_decision', accept: true });
    };
    const previous = this.onMessage;
    this.onMessage = (msg) => {
      hostKey(msg);
      previous?.(msg);
    };
    this.send({ type: 'open', target, auth, ...size, ...(scrollback === undefined ? {} : { scrollback }) });
    try {
      const ready = await this.waitFor('ready', timeoutMs);
      return ready.terminalId;
    } finally {
      this.onMessage = previous;
    }
  }

  /** Opens a shell on the bench's sshd (its plain key) and resolves once the prompt is drawn. */
  async openShell(sshd: SshdHarness, scrollback?: number): Promise<string> {
    const prompt = this.waitForOutput('$ ', 20_000);
    const id = await this.open(
      { host: sshd.host, port: sshd.port, username: sshd.username },
      { method: 'publickey', privateKey: sshd.keys.plain.privateKey },
      undefined,
      undefined,
      scrollback,
    );
    await prompt;
    return id;
  }

  /** Sends `attach` and resolves at `ready` (a snapshot, if any, arrives just before it). */
  attach(terminalId: string, resumeFrom?: number): void {
    this.send({ type: 'attach', terminalId, ...(resumeFrom === undefined ? {} : { resumeFrom }) });
  }

  /** Resolves with the first message of `type`; rejects on an `error` message or a close. */
  waitFor<T extends ServerMessage['type']>(
    type: T,
    timeoutMs = 30_000,
  ): Promise<Extract<ServerMessage, { type: T }>> {
    return new Promise((resolve, reject) => {
      if (this.closed)
        return reject(new Error(`socket closed before ${type}: ${JSON.stringify(this.closed)}`));
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out waiting for ${type}`));
      }, timeoutMs);
      const waiter = (msg: ServerMessage | null) => {
        if (msg === null) {
          this.waiters.delete(waiter);
          clearTimeout(timer);
          reject(new Error(`socket closed before ${type}: ${JSON.stringify(this.closed)}`));
        } else if (msg.type === type) {
          this.waiters.delete(waiter);
          clearTimeout(timer);
          resolve(msg as Extract<ServerMessage, { type: T }>);
        } else if (msg.type === 'error' && type !== 'error') {
          this.waiters.delete(waiter);
          clearTimeout(timer);
          reject(new Error(`${msg.code}: ${msg.message}`));
        }
      };
      this.waiters.add(waiter);
    });
  }

  /** Resolves (with performance.now()) once recent output contains `needle`. */
  waitForOutput(needle: string, timeoutMs = 60_000): Promise<number> {
    return watchOutput(this, needle, timeoutMs);
  }

  /** Resolves with performance.now() when the broker (or anything) closes the socket. */
  whenClosed(): Promise<number> {
    if (this.closed) return Promise.resolve(performance.now());
    return new Promise((resolve) => this.ws.once('close', () => resolve(performance.now())));
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => resolve();
      this.ws.once('close', done);
      this.ws.close();
      setTimeout(() => {
        this.ws.terminate();
        done();
      }, 5_000).unref();
    });
  }

  private maybeAck(): void {
    if (this.offset - this.acked >= this.ackEvery) {
      this.flushAck();
    } else if (!this.ackTimer) {
      // A trailing ack so a quiet terminal's window is always fully reopened.
      this.ackTimer = setTimeout(() => this.flushAck(), 20);
    }
  }

  private flushAck(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    if (this.offset === this.acked) return;
    this.acked = this.offset;
    this.send({ type: 'ack', offset: this.offset });
  }
}

/**
 * A fresh client (a new socket: upgrade and auth included) attaches to `terminalId` without
 * `resumeFrom`; resolves with the time to its `snapshot` + `ready` and the snapshot's size.
 */
export async function timeFreshAttach(
  url: string,
  session: Login,
  terminalId: string,
  scrollback?: number,
): Promise<{ ms: number; snapshotBytes: number }> {
  const t0 = performance.now();
  const c = await BenchTerminal.connect(url, session);
  try {
    const snap = c.waitFor('snapshot');
    const ready = c.waitFor('ready');
    c.send({ type: 'attach', terminalId, ...(scrollback === undefined ? {} : { scrollback }) });
    const s = await snap;
    await ready;
    return { ms: performance.now() - t0, snapshotBytes: Buffer.byteLength(s.data) };
  } finally {
    await c.close();
  }
}
