import { type ClientMessage, type ServerMessage, TERMINAL_SOCKET_PATH } from '@tether/protocol';
import WebSocket from 'ws';
import type { Browser } from './helpers.js';

/**
 * A terminal-socket client as a browser would run it: fingerprint cookie on the upgrade, the
 * token in the first message, output counted by offset, acks sent as bytes are "rendered".
 */
export class TestTerminalClient {
  readonly messages: ServerMessage[] = [];
  readonly output: Buffer[] = [];
  nextOffset: number | null = null;
  closed: { code: number; reason: string } | null = null;
  autoAck = true;
  /** Input flow control: bytes sent as binary frames, and the broker's last `input_ack`. */
  inputSent = 0;
  inputAcked = 0;
  inputWindow: number | null = null;
  private readonly ws: WebSocket;
  /** Resolves when the upgrade completed. */
  readonly opened: Promise<void>;
  private waiters: Array<() => void> = [];

  constructor(
    baseUrl: string,
    browser: Pick<Browser, 'cookies'>,
    headers: Record<string, string> = {},
    options: { autoPong?: boolean } = {},
  ) {
    const cookie = [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    this.ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}${TERMINAL_SOCKET_PATH}`, {
      headers: { ...(cookie ? { cookie } : {}), ...headers },
      perMessageDeflate: false,
      autoPong: options.autoPong ?? true,
    });
    this.ws.binaryType = 'nodebuffer';
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) =>
        reject(new Error(`upgrade refused: ${res.statusCode}`)),
      );
      this.ws.once('error', reject);
    });
    this.ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) {
        if (this.nextOffset === null) throw new Error('binary frame before ready');
        this.output.push(data);
        this.nextOffset += data.length;
        if (this.autoAck) this.send({ type: 'ack', offset: this.nextOffset });
      } else {
        const msg = JSON.parse(data.toString()) as ServerMessage;
        this.messages.push(msg);
        if (msg.type === 'ready') this.nextOffset = msg.offset;
        if (msg.type === 'snapshot') this.output.length = 0;
        if (msg.type === 'authenticated') this.inputWindow = msg.inputWindowBytes ?? null;
        if (msg.type === 'input_ack') this.inputAcked = msg.offset;
      }
      this.notify();
    });
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.notify();
    });
    this.ws.on('error', () => {});
  }

  static async connect(
    baseUrl: string,
    browser: Pick<Browser, 'cookies'>,
    headers?: Record<string, string>,
  ): Promise<TestTerminalClient> {
    const c = new TestTerminalClient(baseUrl, browser, headers);
    await c.opened;
    return c;
  }

  /** Connects and authenticates with the browser's token (an in-process or an HTTP browser). */
  static async authed(
    baseUrl: string,
    browser: Pick<Browser, 'cookies' | 'token'>,
  ): Promise<TestTerminalClient> {
    const c = await TestTerminalClient.connect(baseUrl, browser);
    c.send({ type: 'auth', token: browser.token! });
    await c.waitForMessage('authenticated');
    return c;
  }

  send(message: ClientMessage): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }
  sendRaw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }
  type(text: string): void {
    this.sendInput(Buffer.from(text));
  }
  sendInput(data: Buffer): void {
    this.inputSent += data.length;
    this.ws.send(data, { binary: true });
  }
  /**
   * Sends `data` as input in frames of `chunk` bytes. Paced (as a well-behaved client does): never
   * more than the advertised window beyond the last `input_ack`. Unpaced: all at once.
   */
  async paste(data: Buffer, options: { paced: boolean; chunk?: number } = { paced: true }): Promise<void> {
    const chunk = options.chunk ?? 32 * 1024;
    for (let at = 0; at < data.length; at += chunk) {
      const piece = data.subarray(at, at + chunk);
      if (options.paced) {
        const window = this.inputWindow;
        if (!window) throw new Error('the broker advertised no input window');
        await this.waitFor(
          () => this.inputSent - this.inputAcked + piece.length <= window || this.closed !== null,
          60_000,
          'input window',
        );
      }
      this.sendInput(piece);
    }
  }
  /** Resolves once the socket's send buffer is empty (everything handed to TCP). */
  async flushed(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.ws.bufferedAmount > 0) {
      if (Date.now() > deadline) throw new Error(`send buffer not drained: ${this.ws.bufferedAmount}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  close(): void {
    this.ws.close();
  }
  /** Stops reading from the socket (sending still works): a client that never reads. */
  stopReading(): void {
    this.ws.pause();
  }
  terminateAbruptly(): void {
    this.ws.terminate();
  }
  text(): string {
    return Buffer.concat(this.output).toString('utf8');
  }
  of<T extends ServerMessage['type']>(type: T): Array<Extract<ServerMessage, { type: T }>> {
    return this.messages.filter((m): m is Extract<ServerMessage, { type: T }> => m.type === type);
  }

  async waitFor(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out waiting for ${what}; messages: ${JSON.stringify(this.messages.slice(-5))}; closed: ${JSON.stringify(this.closed)}`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async waitForMessage<T extends ServerMessage['type']>(
    type: T,
    timeoutMs = 10_000,
  ): Promise<Extract<ServerMessage, { type: T }>> {
    await this.waitFor(
      () => this.of(type).length > 0 || (this.closed !== null && type !== 'exit'),
      timeoutMs,
      `message ${type}`,
    );
    const found = this.of(type)[0];
    if (!found)
      throw new Error(
        `socket closed (${JSON.stringify(this.closed)}) before ${type}: ${JSON.stringify(this.messages)}`,
      );
    return found;
  }

  async waitForText(needle: string | RegExp, timeoutMs = 10_000): Promise<void> {
    const match = () =>
      typeof needle === 'string' ? this.text().includes(needle) : needle.test(this.text());
    await this.waitFor(match, timeoutMs, `output ${needle}`);
  }

  async waitForClose(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    await this.waitFor(() => this.closed !== null, timeoutMs, 'close');
    return this.closed!;
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }
}
