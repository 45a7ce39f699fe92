import {
  type ClientMessage,
  CloseCode,
  DEFAULT_MESSAGE_SIZE_LIMIT,
  ErrorCode,
  SCROLLBACK_MAX,
  type ServerMessageOf,
  ServerMessageSchema,
  type SshAuth,
  type SshTarget,
  TERMINAL_MAX_COLS,
  TERMINAL_MAX_ROWS,
} from '@tether/protocol';

/**
 * Client side of the terminal socket protocol (packages/protocol/src/ws.ts), free of React and
 * xterm so it can be unit-tested against a fake socket and a fake sink.
 *
 * Offsets: the broker numbers every output byte. `nextOffset` is the position of the next binary
 * byte on the wire, `writtenOffset` is just past the last byte handed to the sink, and
 * `renderedOffset` is just past the last byte the sink reports as rendered. Acks carry
 * `renderedOffset` (real flow control: a slow renderer slows the broker). Resume uses
 * `writtenOffset`: bytes already handed to xterm are rendered in order even if the socket died,
 * so asking for them again would print them twice.
 */

/**
 * How often the client pings, and how long past two missed pongs it waits before it calls the
 * socket dead: a silent drop shows within ~12 s (the broker answers a ping at once; a ping is a
 * few bytes and does not count as the user's activity).
 */
export const CLIENT_PING_MS = 5_000;
const SILENCE_GRACE_MS = 2_000;

export type TerminalStatus =
  | 'connecting'
  | 'hostkey'
  | 'prompt'
  | 'ready'
  | 'reconnecting'
  | 'exited'
  | 'error';

export interface SocketLike {
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
}

export interface SocketHandlers {
  onOpen(): void;
  onMessage(data: string | ArrayBuffer): void;
  onClose(code: number, reason: string): void;
}

export type SocketFactory = (url: string, handlers: SocketHandlers) => SocketLike;

/** Where output goes (xterm in the app, an array in tests). Both calls must apply in order. */
export interface TerminalSink {
  write(data: Uint8Array | string, onRendered: () => void): void;
  reset(): void;
}

export type OpenRequest =
  | { target: SshTarget; auth?: SshAuth; title?: string }
  /** A saved profile: the broker uses its stored credentials; `auth` supplies what it lacks. */
  | { profileId: string; auth?: SshAuth; title?: string };

export type HostKeyPrompt = ServerMessageOf<'hostkey_prompt'>;
export type KeyboardPrompt = ServerMessageOf<'prompt'>;
export type ExitInfo = ServerMessageOf<'exit'>;
export type TerminalError = ServerMessageOf<'error'>;
export type ReadyInfo = ServerMessageOf<'ready'>;
export type NoticeInfo = ServerMessageOf<'notice'>;

export interface TerminalConnectionEvents {
  status?(status: TerminalStatus): void;
  ready?(info: ReadyInfo): void;
  hostKey?(prompt: HostKeyPrompt): void;
  prompt?(prompt: KeyboardPrompt): void;
  exit?(info: ExitInfo): void;
  /** Something to tell the user about the terminal, which carries on (e.g. HOST_DRAINING). */
  notice?(info: NoticeInfo): void;
  /** An `error` message, or a fatal close translated into one. */
  error?(err: TerminalError): void;
  /** The terminal is gone (unknown or ended close code) without an `exit` message. */
  ended?(reason: string): void;
  /** The web session is over (signed in elsewhere, revoked, expired…): return to login. */
  sessionEnded?(code: string): void;
  /**
   * After dispose(): the socket has closed, so the broker has let the terminal go (a list read
   * from now on shows it detached).
   */
  detached?(): void;
}

export interface TerminalConnectionOptions {
  url: string;
  getToken: () => string | null;
  createSocket: SocketFactory;
  sink: TerminalSink;
  /** Either open a new terminal or attach to an existing one. */
  open?: OpenRequest;
  terminalId?: string;
  cols: number;
  rows: number;
  /**
   * Lines of scrollback the terminal keeps (read at each open and attach, so a changed setting
   * counts from the next attach): the broker keeps as many, up to its cap, for a later snapshot.
   */
  scrollback?: () => number;
  events?: TerminalConnectionEvents;
  /** Ack at least every this many rendered bytes (capped by the broker's ackWindowBytes / 2). */
  ackBytes?: number;
  ackIntervalMs?: number;
  pingIntervalMs?: number;
  /** Largest binary input frame; the broker's maxMessageBytes lowers it further. */
  inputChunkBytes?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  random?: () => number;
  now?: () => number;
}

const SESSION_CLOSE_CODES: Record<number, string> = {
  [CloseCode.UNAUTHENTICATED]: ErrorCode.UNAUTHENTICATED,
  [CloseCode.SIGNED_IN_ELSEWHERE]: ErrorCode.SESSION_REPLACED,
  [CloseCode.SESSION_EXPIRED]: ErrorCode.SESSION_EXPIRED,
  [CloseCode.SESSION_REVOKED]: ErrorCode.SESSION_REVOKED,
  [CloseCode.ACCOUNT_DISABLED]: ErrorCode.ACCOUNT_DISABLED,
};

const SESSION_ERROR_CODES = new Set<string>([
  ErrorCode.UNAUTHENTICATED,
  ErrorCode.TOKEN_INVALID,
  ErrorCode.TOKEN_EXPIRED,
  ErrorCode.TOKEN_SUPERSEDED,
  ErrorCode.FINGERPRINT_MISMATCH,
  ErrorCode.SESSION_REPLACED,
  ErrorCode.SESSION_REVOKED,
  ErrorCode.SESSION_IDLE_TIMEOUT,
  ErrorCode.SESSION_EXPIRED,
  ErrorCode.ACCOUNT_DISABLED,
]);

/** Errors on a reattach that pass: the socket closes with 1013 and the client tries again. */
const TRANSIENT_ERROR_CODES = new Set<string>([
  ErrorCode.TERMINAL_UNREACHABLE,
  ErrorCode.SERVICE_UNAVAILABLE,
]);

/** Closes after which retrying cannot help. */
const FATAL_CLOSE_CODES = new Set<number>([
  CloseCode.PROTOCOL_ERROR,
  CloseCode.INVALID_PAYLOAD,
  CloseCode.POLICY_VIOLATION,
  CloseCode.TOO_LARGE,
  CloseCode.FORBIDDEN,
  CloseCode.LIMIT_REACHED,
]);

const encoder = new TextEncoder();

function randomId(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

declare global {
  interface Window {
    __TETHER_E2E__?: boolean;
    __TETHER_E2E_SOCKETS__?: Set<WebSocket>;
  }
}

export class TerminalConnection {
  status: TerminalStatus = 'connecting';
  terminalId: string | null;
  /** Just past the last byte the sink has rendered. */
  renderedOffset = 0;
  /** Just past the last byte handed to the sink. */
  writtenOffset = 0;

  private readonly opts: TerminalConnectionOptions;
  private readonly events: TerminalConnectionEvents;
  private socket: SocketLike | null = null;
  /** The socket dispose() closed, until it has (see `detached`). */
  private detaching: SocketLike | null = null;
  private pendingOpen: OpenRequest | null;
  private nextOffset = 0;
  private ackedOffset = 0;
  /** Bumped on every reset of the screen; write callbacks of an older epoch are ignored. */
  private epoch = 0;
  /** Whether this client has ever had a stream position (then it resumes instead of snapshots). */
  private hasStream = false;
  private streaming = false;
  private cols: number;
  private rows: number;
  private sentCols = 0;
  private sentRows = 0;
  private maxMessageBytes = DEFAULT_MESSAGE_SIZE_LIMIT;
  private ackEvery: number;
  private attempt = 0;
  private lastHeard = 0;
  private finished = false;
  private disposed = false;
  private sessionOver = false;
  /**
   * Input flow control: the broker's window (null: unpaced), bytes sent and confirmed. With an
   * input stream (a broker that answered `ready.input`) these are offsets in this client's stream,
   * kept across reconnects; otherwise they count this socket's bytes.
   */
  private inputWindow: number | null = null;
  private inputSent = 0;
  private inputAcked = 0;
  /** This client's input stream into the terminal (protocol: InputStreamSchema). */
  private readonly inputStream = `web-${randomId()}`;
  /** The broker numbers this socket's input in our stream (its `ready` carried `input`). */
  private streamMode = false;
  /** Sent in the stream but not confirmed yet: resent after a reconnect from what was applied. */
  private inflight: Uint8Array[] = [];
  private inflightStart = 0;
  /** Input not sent yet (a paste beyond the window), in order; kept across a reconnect. */
  private pendingInput: Uint8Array[] = [];
  private pendingInputBytes = 0;
  /** The token sent in this socket's `auth` message. */
  private sentToken: string | null = null;
  /** A refresh replaced the token while this socket authenticated: reconnect with the new one. */
  private reauth = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private ackTimer: ReturnType<typeof setInterval> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;

  constructor(opts: TerminalConnectionOptions) {
    if (!opts.open === !opts.terminalId)
      throw new Error('TerminalConnection needs exactly one of open or terminalId');
    this.opts = opts;
    this.events = opts.events ?? {};
    this.terminalId = opts.terminalId ?? null;
    this.pendingOpen = opts.open ?? null;
    this.cols = clamp(opts.cols, 1, TERMINAL_MAX_COLS);
    this.rows = clamp(opts.rows, 1, TERMINAL_MAX_ROWS);
    this.ackEvery = opts.ackBytes ?? 64 * 1024;
  }

  /** Opens the socket. Call once; reconnects happen on their own. */
  connect(): void {
    if (this.disposed || this.finished || this.socket) return;
    const handlers: SocketHandlers = {
      onOpen: () => {
        if (this.socket === socket) this.handleOpen();
      },
      onMessage: (data) => {
        if (this.socket === socket) this.handleMessage(data);
      },
      onClose: (code, reason) => {
        if (this.socket === socket) this.handleClose(code, reason);
        else if (this.disposed && this.detaching === socket) {
          this.detaching = null;
          this.events.detached?.();
        }
      },
    };
    const socket = this.opts.createSocket(this.opts.url, handlers);
    this.socket = socket;
  }

  /** Keyboard input; returns false while input is disabled (not ready). */
  sendInput(data: string): boolean {
    return this.sendBytes(encoder.encode(data));
  }

  /** xterm's onBinary (mouse reports in X10 mode): one byte per char code. */
  sendBinaryInput(data: string): boolean {
    const bytes = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i++) bytes[i] = data.charCodeAt(i) & 0xff;
    return this.sendBytes(bytes);
  }

  resize(cols: number, rows: number): void {
    this.cols = clamp(cols, 1, TERMINAL_MAX_COLS);
    this.rows = clamp(rows, 1, TERMINAL_MAX_ROWS);
    if (this.streaming) this.sendSize();
  }

  answerHostKey(accept: boolean): void {
    this.send({ type: 'hostkey_decision', accept });
    if (this.status === 'hostkey') this.setStatus('connecting');
  }

  answerPrompt(responses: string[]): void {
    this.send({ type: 'prompt_response', responses });
    if (this.status === 'prompt') this.setStatus('connecting');
  }

  /** Ends the remote session (closing the socket would only detach). */
  terminate(): void {
    this.send({ type: 'terminate' });
  }

  /** While waiting to reconnect, try now (e.g. the browser went back online). */
  /**
   * The browser says the network is gone (`offline`): do not wait for the heartbeat to notice;
   * the socket is dropped and the terminal shows it is reconnecting (`online` → reconnectNow).
   */
  networkLost(): void {
    const s = this.socket;
    if (!s || this.disposed || this.finished) return;
    this.socket = null;
    s.close(4000, 'browser offline');
    this.handleClose(CloseCode.HEARTBEAT_TIMEOUT, 'the browser is offline');
  }

  reconnectNow(): void {
    if (this.reconnectTimer === null) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.connect();
  }

  /** Detaches: the terminal keeps running on the broker. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.stopTimers();
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const s = this.socket;
    this.socket = null;
    this.detaching = s;
    this.streaming = false;
    s?.close(CloseCode.NORMAL, 'detach');
  }

  // ── socket events ─────────────────────────────────────────────────────────

  private handleOpen(): void {
    const token = this.opts.getToken();
    if (!token) {
      this.endSession(ErrorCode.UNAUTHENTICATED);
      return;
    }
    this.lastHeard = this.now();
    this.sentToken = token;
    // Until `ready` says otherwise, input is counted per socket (a broker without input streams).
    this.streamMode = false;
    this.inputWindow = null;
    // The token travels only inside the socket, as the very first message, never in the URL.
    this.send({ type: 'auth', token });
  }

  private handleMessage(data: string | ArrayBuffer): void {
    this.lastHeard = this.now();
    if (typeof data !== 'string') {
      this.handleOutput(new Uint8Array(data));
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      return;
    }
    const parsed = ServerMessageSchema.safeParse(json);
    if (!parsed.success) {
      console.warn('tether: ignoring malformed server message', parsed.error.issues);
      return;
    }
    const msg = parsed.data;
    switch (msg.type) {
      case 'authenticated': {
        this.maxMessageBytes = msg.maxMessageBytes > 0 ? msg.maxMessageBytes : DEFAULT_MESSAGE_SIZE_LIMIT;
        this.inputWindow = msg.inputWindowBytes ?? null;
        if (msg.ackWindowBytes > 0)
          this.ackEvery = Math.min(this.ackEvery, Math.max(1, Math.floor(msg.ackWindowBytes / 2)));
        const ping = this.opts.pingIntervalMs ?? CLIENT_PING_MS;
        this.startPing(msg.heartbeatIntervalMs > 0 ? Math.min(ping, msg.heartbeatIntervalMs) : ping);
        if (this.terminalId) {
          this.send({
            type: 'attach',
            terminalId: this.terminalId,
            ...(this.hasStream ? { resumeFrom: this.writtenOffset } : {}),
            cols: this.cols,
            rows: this.rows,
            ...this.scrollback(),
            input: { stream: this.inputStream },
          });
        } else if (this.pendingOpen) {
          this.send({
            type: 'open',
            ...this.pendingOpen,
            cols: this.cols,
            rows: this.rows,
            ...this.scrollback(),
            input: { stream: this.inputStream },
          });
        }
        break;
      }
      case 'ready':
        this.handleReady(msg);
        break;
      case 'snapshot':
        this.handleSnapshot(msg);
        break;
      case 'hostkey_prompt':
        this.setStatus('hostkey');
        this.events.hostKey?.(msg);
        break;
      case 'prompt':
        this.setStatus('prompt');
        this.events.prompt?.(msg);
        break;
      case 'exit':
        this.finished = true;
        this.setStatus('exited');
        this.events.exit?.(msg);
        break;
      case 'error':
        this.handleError(msg);
        break;
      case 'replaced':
        this.endSession(ErrorCode.SESSION_REPLACED);
        break;
      case 'notice':
        this.events.notice?.(msg);
        break;
      case 'pong':
        break;
      case 'input_ack':
        this.inputAcked = msg.offset;
        if (this.streamMode) this.confirmInput(msg.offset);
        this.pumpInput();
        break;
    }
  }

  private handleReady(msg: ReadyInfo): void {
    this.terminalId = msg.terminalId;
    // Credentials are needed for the first open only; later reconnects attach by id.
    this.pendingOpen = null;
    this.nextOffset = msg.offset;
    if (!msg.replay) {
      // A snapshot (before or after this message) defines the screen; until it arrives nothing
      // else is written.
    } else if (msg.offset > this.writtenOffset) {
      // The broker could not replay from where we were: bytes are missing. Carry on from here.
      this.epoch++;
      this.writtenOffset = msg.offset;
      this.renderedOffset = msg.offset;
    }
    this.ackedOffset = Math.min(this.renderedOffset, msg.offset);
    this.hasStream = true;
    this.streaming = true;
    this.attempt = 0;
    this.sentCols = msg.cols;
    this.sentRows = msg.rows;
    this.sendSize();
    this.startAcks();
    this.resumeInput(msg.input);
    this.setStatus('ready');
    this.events.ready?.(msg);
    // Input left unsent when the previous socket dropped goes out now, in order.
    this.pumpInput();
  }

  private handleSnapshot(msg: ServerMessageOf<'snapshot'>): void {
    this.epoch++;
    const epoch = this.epoch;
    const end = msg.offset;
    this.opts.sink.reset();
    this.opts.sink.write(msg.data, () => {
      if (epoch === this.epoch) this.rendered(end);
    });
    this.writtenOffset = end;
    this.nextOffset = end;
    if (this.renderedOffset > end) this.renderedOffset = end;
    if (this.ackedOffset > end) this.ackedOffset = end;
    this.hasStream = true;
  }

  private handleOutput(bytes: Uint8Array): void {
    if (!this.streaming) return;
    const start = this.nextOffset;
    const end = start + bytes.byteLength;
    this.nextOffset = end;
    // Never write a byte twice: skip what an overlapping replay repeats.
    if (end <= this.writtenOffset) return;
    const chunk = start < this.writtenOffset ? bytes.subarray(this.writtenOffset - start) : bytes;
    const epoch = this.epoch;
    this.writtenOffset = end;
    this.opts.sink.write(chunk, () => {
      if (epoch === this.epoch) this.rendered(end);
    });
  }

  private rendered(end: number): void {
    if (end > this.renderedOffset) this.renderedOffset = end;
    if (this.streaming && this.renderedOffset - this.ackedOffset >= this.ackEvery) this.sendAck();
  }

  private handleError(msg: TerminalError): void {
    if (msg.code === ErrorCode.TOKEN_SUPERSEDED) {
      const current = this.opts.getToken();
      if (current && current !== this.sentToken) {
        this.reauth = true;
        return;
      }
    }
    if (SESSION_ERROR_CODES.has(msg.code)) {
      this.endSession(msg.code);
      return;
    }
    if (this.terminalId && TRANSIENT_ERROR_CODES.has(msg.code)) {
      // Reattaching while the terminal's node restarts (or the database is away): the broker
      // closes this socket with 1013 and the client tries again with backoff, as after a drop.
      this.events.notice?.({
        type: 'notice',
        terminalId: this.terminalId,
        code: msg.code,
        message: msg.message,
        endsAt: null,
      });
      return;
    }
    this.events.error?.(msg);
    if (msg.code === ErrorCode.TERMINAL_NOT_FOUND || msg.code === ErrorCode.TERMINAL_ENDED) {
      this.finished = true;
      this.setStatus('exited');
      this.events.ended?.(msg.message);
      return;
    }
    // Before the terminal is running every error is fatal (auth failed, host key, limits…). The
    // broker keeps such a socket open for another `open`; this client opens a new one instead.
    if (!this.streaming) {
      this.finished = true;
      this.stopTimers();
      const s = this.socket;
      this.socket = null;
      s?.close(CloseCode.NORMAL, 'failed');
      this.setStatus('error');
    }
  }

  private handleClose(code: number, reason: string): void {
    this.socket = null;
    this.streaming = false;
    this.stopTimers();
    if (this.disposed) return;
    if (this.sessionOver) return;
    if (this.reauth) {
      // Nothing was opened or attached on that socket; the same request goes again.
      this.reauth = false;
      this.connect();
      return;
    }
    const sessionCode = SESSION_CLOSE_CODES[code];
    if (sessionCode) {
      this.endSession(sessionCode);
      return;
    }
    if (this.finished) return;
    if (code === CloseCode.UNKNOWN_TERMINAL || code === CloseCode.TERMINAL_ENDED) {
      this.finished = true;
      this.setStatus('exited');
      this.events.ended?.(
        reason || (code === CloseCode.UNKNOWN_TERMINAL ? 'Terminal not found' : 'Terminal ended'),
      );
      return;
    }
    if (FATAL_CLOSE_CODES.has(code)) {
      this.fail(
        code === CloseCode.LIMIT_REACHED ? ErrorCode.TERMINAL_LIMIT : ErrorCode.CONNECTION_FAILED,
        reason || `Connection closed (${code})`,
      );
      return;
    }
    if (!this.terminalId) {
      // The terminal never started: we cannot know whether it exists, and we no longer hold the
      // credentials to try again safely.
      this.fail(ErrorCode.CONNECTION_FAILED, 'The connection was lost before the terminal started.');
      return;
    }
    this.scheduleReconnect();
  }

  private fail(code: string, message: string): void {
    this.finished = true;
    this.setStatus('error');
    this.events.error?.({ type: 'error', code, message });
  }

  private endSession(code: string): void {
    if (this.sessionOver) return;
    this.sessionOver = true;
    this.finished = true;
    this.stopTimers();
    const s = this.socket;
    this.socket = null;
    s?.close(CloseCode.NORMAL, 'session over');
    this.setStatus('error');
    this.events.sessionEnded?.(code);
  }

  private scheduleReconnect(): void {
    this.setStatus('reconnecting');
    const initial = this.opts.backoffInitialMs ?? 500;
    const max = this.opts.backoffMaxMs ?? 10_000;
    const base = Math.min(max, initial * 2 ** this.attempt);
    const random = this.opts.random ?? Math.random;
    // ±20% jitter so a restarted broker is not hit by every client at the same instant.
    const delay = Math.min(max, Math.round(base * (0.8 + 0.4 * random())));
    this.attempt++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  // ── outbound ──────────────────────────────────────────────────────────────

  /** Input bytes accepted but not yet sent (a large paste waiting for the broker's window). */
  get inputBacklog(): number {
    return this.pendingInputBytes;
  }

  private sendBytes(bytes: Uint8Array): boolean {
    // Typed while reconnecting: kept and sent, in order, once the terminal is back (with an input
    // stream the broker then takes each byte once). Before the terminal first started, or after
    // it ended, there is nothing to type into.
    if (this.finished || this.disposed || !this.hasStream) return false;
    if (this.status !== 'ready' && this.status !== 'reconnecting') return false;
    const chunk = Math.max(1, Math.min(this.opts.inputChunkBytes ?? 32 * 1024, this.maxMessageBytes));
    for (let i = 0; i < bytes.byteLength; i += chunk) {
      const piece = bytes.slice(i, i + chunk);
      this.pendingInput.push(piece);
      this.pendingInputBytes += piece.byteLength;
    }
    this.pumpInput();
    return true;
  }

  /**
   * Sends queued input while the broker's window allows (`authenticated.inputWindowBytes`,
   * confirmed by `input_ack`): a multi-MB paste goes out as fast as the remote takes it, and
   * nothing is dropped or sent twice. Keystrokes keep their place behind earlier input.
   */
  private pumpInput(): void {
    while (this.pendingInput.length > 0 && this.streaming && this.socket) {
      const next = this.pendingInput[0]!;
      if (this.inputWindow !== null && this.inputSent - this.inputAcked + next.byteLength > this.inputWindow)
        return;
      this.pendingInput.shift();
      this.pendingInputBytes -= next.byteLength;
      this.inputSent += next.byteLength;
      if (this.streamMode) this.inflight.push(next);
      this.socket.send(next);
    }
  }

  /**
   * At `ready`: with an input stream, what the terminal already took is confirmed and the rest of
   * what was sent goes out again first (a keystroke is neither lost nor typed twice across a
   * reconnect, even when the broker restarted). A broker without streams counts per socket: what
   * was in flight on the old socket is unknown, as it always was.
   */
  private resumeInput(input: { stream: string; applied: number } | undefined): void {
    if (input && input.stream === this.inputStream) {
      this.streamMode = true;
      this.confirmInput(input.applied);
      const resend = this.inflight;
      this.inflight = [];
      this.inflightStart = input.applied;
      this.inputSent = input.applied;
      this.inputAcked = input.applied;
      for (let i = resend.length - 1; i >= 0; i--) {
        this.pendingInput.unshift(resend[i]!);
        this.pendingInputBytes += resend[i]!.byteLength;
      }
    } else {
      this.streamMode = false;
      this.inflight = [];
      this.inputSent = 0;
      this.inputAcked = 0;
    }
  }

  /** Drops in-flight input the broker confirmed (up to stream offset `offset`). */
  private confirmInput(offset: number): void {
    while (this.inflight.length > 0) {
      const first = this.inflight[0]!;
      const end = this.inflightStart + first.byteLength;
      if (end <= offset) {
        this.inflight.shift();
        this.inflightStart = end;
      } else {
        if (offset > this.inflightStart) {
          this.inflight[0] = first.subarray(offset - this.inflightStart);
          this.inflightStart = offset;
        }
        return;
      }
    }
    if (offset > this.inflightStart) this.inflightStart = offset;
  }

  private sendSize(): void {
    if (this.cols === this.sentCols && this.rows === this.sentRows) return;
    this.sentCols = this.cols;
    this.sentRows = this.rows;
    this.send({ type: 'resize', cols: this.cols, rows: this.rows });
  }

  private sendAck(): void {
    if (!this.streaming || this.renderedOffset <= this.ackedOffset) return;
    this.ackedOffset = this.renderedOffset;
    this.send({ type: 'ack', offset: this.renderedOffset });
  }

  /** `{ scrollback }` for `open` and `attach`, within what the protocol accepts. */
  private scrollback(): { scrollback?: number } {
    const lines = this.opts.scrollback?.();
    if (lines === undefined || !Number.isFinite(lines)) return {};
    return { scrollback: Math.min(SCROLLBACK_MAX, Math.max(0, Math.floor(lines))) };
  }

  private send(msg: ClientMessage): void {
    this.socket?.send(JSON.stringify(msg));
  }

  private startAcks(): void {
    if (this.ackTimer !== null) clearInterval(this.ackTimer);
    this.ackTimer = setInterval(() => this.sendAck(), this.opts.ackIntervalMs ?? 100);
  }

  private startPing(intervalMs: number): void {
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      // A silent network partition leaves the socket "open" forever: if nothing (not even a
      // pong) arrived for two intervals and a little, treat it as dropped.
      if (this.now() - this.lastHeard > intervalMs * 2 + SILENCE_GRACE_MS) {
        const s = this.socket;
        this.socket = null;
        s?.close(4000, 'heartbeat timeout');
        this.handleClose(CloseCode.HEARTBEAT_TIMEOUT, 'heartbeat timeout');
        return;
      }
      this.send({ type: 'ping', t: this.now() });
    }, intervalMs);
  }

  private stopTimers(): void {
    if (this.ackTimer !== null) clearInterval(this.ackTimer);
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.ackTimer = null;
    this.pingTimer = null;
  }

  private setStatus(status: TerminalStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.events.status?.(status);
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.floor(n)));
}

/** The browser WebSocket adapted to SocketLike (binary frames as ArrayBuffer). */
export const browserSocketFactory: SocketFactory = (url, handlers) => {
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  if (typeof window !== 'undefined' && window.__TETHER_E2E__) {
    // e2e only: lets a test cut the connection the way a network drop would.
    window.__TETHER_E2E_SOCKETS__ ??= new Set();
    const open = window.__TETHER_E2E_SOCKETS__;
    open.add(ws);
    ws.addEventListener('close', () => open.delete(ws));
  }
  ws.onopen = () => handlers.onOpen();
  ws.onmessage = (ev: MessageEvent<unknown>) => {
    const d = ev.data;
    if (typeof d === 'string' || d instanceof ArrayBuffer) handlers.onMessage(d);
  };
  ws.onclose = (ev) => handlers.onClose(ev.code, ev.reason);
  return {
    send: (data) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(data);
    },
    close: (code, reason) => {
      // `onclose` stays: the connection ignores a socket it let go, except to learn when a
      // dispose()'s close has completed (`detached`).
      ws.onopen = null;
      ws.onmessage = null;
      try {
        ws.close(code, reason);
      } catch {
        ws.close();
      }
    },
  };
};
