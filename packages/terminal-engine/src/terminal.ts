import {
  CloseCode,
  ErrorCode,
  type ServerMessage,
  TERMINAL_MAX_COLS,
  TERMINAL_MAX_ROWS,
  TERMINAL_MIN_COLS,
  TERMINAL_MIN_ROWS,
} from '@tether/protocol';
import type { ClientChannel } from 'ssh2';
import { type MirrorSnapshot, type SnapshotOptions, TerminalMirror } from './mirror.js';
import { ByteRing } from './ring-buffer.js';
import type { SshClient } from './ssh-connect.js';
import { TerminalError } from './terminal-error.js';

/**
 * One attached client (a WebSocket, in production). The terminal only ever calls these
 * synchronously and in stream order; the implementation must not reorder frames.
 */
export interface TerminalViewer {
  sendBinary(data: Uint8Array): void;
  /**
   * Optional: the same bytes as the pieces they arrived in (in order, `length` in all), for a
   * transport that writes them back to back without joining them (the terminal host's socket,
   * one writev). Without it a batch of several reads is joined into one buffer first.
   */
  sendBinaryParts?(parts: readonly Uint8Array[], length: number): void;
  sendJson(message: ServerMessage): void;
  /** Bytes queued in the transport but not yet written (ws `bufferedAmount`). */
  bufferedAmount(): number;
  close(code: number, reason: string): void;
}

export type TerminalStatus = 'running' | 'exited' | 'lost';

export interface TerminalEndDetails {
  code: number | null;
  signal: string | null;
  reason: string;
}

/** Hooks for persistence and metrics. Called synchronously; must not throw. */
export interface TerminalEvents {
  onStatus?(terminal: Terminal, status: TerminalStatus, details: TerminalEndDetails | null): void;
  /** Throttled: at most once per `outputEventIntervalMs` while output flows. */
  onOutput?(terminal: Terminal, at: Date): void;
  onAttachChange?(terminal: Terminal, viewers: number): void;
  /** The manager freed an ended terminal (its retention passed): it can no longer be attached. */
  onRemoved?(terminal: Terminal): void;
}

export interface FlowControlOptions {
  /** Pause the SSH channel when a viewer has this many bytes sent but not acked. */
  highWatermark?: number;
  /** …and resume once every viewer is back under this. */
  lowWatermark?: number;
  /** Same, for the transport's own queue (a socket that stopped draining). */
  bufferedHighWatermark?: number;
  bufferedLowWatermark?: number;
  /** Pause when the mirror has this much output queued but not parsed yet. */
  mirrorHighWatermark?: number;
  mirrorLowWatermark?: number;
}

export interface TerminalOptions {
  id: string;
  userId: string;
  target: { host: string; port: number; username: string };
  /** The resolved address actually connected to. */
  address: string;
  title?: string;
  client: SshClient;
  channel: ClientChannel;
  cols: number;
  rows: number;
  /** TERMINAL_BUFFER_BYTES. */
  bufferBytes: number;
  /** Lines of scrollback the mirror keeps (the opening client's, capped); 1,000 by default. */
  scrollback?: number;
  /** Most lines of scrollback a viewer may make the mirror keep (TERMINAL_SCROLLBACK_MAX). */
  scrollbackMax?: number;
  mirrorHibernateAfterMs?: number;
  flow?: FlowControlOptions;
  events?: TerminalEvents;
  outputEventIntervalMs?: number;
}

export interface AttachOptions {
  /** Offset of the next byte the client needs; omitted for a fresh client (→ snapshot). */
  resumeFrom?: number;
  cols?: number;
  rows?: number;
  /**
   * The viewer's scrollback in lines: a snapshot carries at most this many, and the mirror keeps
   * this many from now on if it kept fewer (up to `scrollbackMax`).
   */
  scrollback?: number;
}

interface ViewerState {
  viewer: TerminalViewer;
  /** pending: waiting for a snapshot, receives no live bytes yet. */
  phase: 'pending' | 'live';
  sentOffset: number;
  ackedOffset: number;
  blocked: boolean;
}

const FRAME_BYTES = 64 * 1024;
/**
 * Output that arrives in one read from the SSH socket is sent as one frame per viewer. ssh2
 * hands over one SSH packet at a time (often a few KiB, or one byte for an echo), and parses
 * every packet of a socket read synchronously; the batch is flushed in a microtask, which runs
 * as soon as that read's callback returns, before any other I/O or timer. So bulk output goes
 * out in a few large frames instead of thousands of small ones, and a keystroke echo is not
 * delayed behind the rest of the event-loop turn. Past this many bytes the batch is flushed at
 * once, bounding both the delay and the extra memory.
 */
const BATCH_MAX_BYTES = 64 * 1024;
/**
 * While output streams — the previous frame was at least STREAM_FRAME_BYTES and left less than
 * 2 × COALESCE_MS ago — a batch waits up to COALESCE_MS for more reads before it is sent, so a
 * flood leaves in frames of up to BATCH_MAX_BYTES instead of one per socket read: fewer writes,
 * and fewer wake-ups of the viewer. An echo or a prompt after a quiet moment still leaves at
 * once (docs/decisions.md, "…except while output streams").
 */
const COALESCE_MS = 4;
const STREAM_FRAME_BYTES = 16 * 1024;
/** Readable buffer of the paused channel; ssh2 stops re-opening the SSH window past it. */
const CHANNEL_HIGH_WATER_MARK = 64 * 1024;
const FLOW_POLL_MS = 25;
const SNAPSHOT_ATTEMPTS = 5;

const defaults = {
  highWatermark: 512 * 1024,
  lowWatermark: 128 * 1024,
  bufferedHighWatermark: 1024 * 1024,
  bufferedLowWatermark: 256 * 1024,
  mirrorHighWatermark: 1024 * 1024,
  mirrorLowWatermark: 256 * 1024,
} satisfies Required<FlowControlOptions>;

export function validateSize(cols: number, rows: number): void {
  if (
    !Number.isInteger(cols) ||
    !Number.isInteger(rows) ||
    cols < TERMINAL_MIN_COLS ||
    cols > TERMINAL_MAX_COLS ||
    rows < TERMINAL_MIN_ROWS ||
    rows > TERMINAL_MAX_ROWS
  ) {
    throw new TerminalError(
      ErrorCode.VALIDATION_FAILED,
      `Terminal size must be ${TERMINAL_MIN_COLS}-${TERMINAL_MAX_COLS} columns and ${TERMINAL_MIN_ROWS}-${TERMINAL_MAX_ROWS} rows.`,
    );
  }
}

/**
 * A live SSH terminal that outlives its viewers.
 *
 * Output stream invariant (DESIGN §6): every byte the remote sends gets the next offset; each
 * viewer receives, after its `ready { offset }`, exactly the bytes from `offset` on, once, in
 * order. All bookkeeping runs synchronously on the event loop, so "append to ring" and "send to
 * live viewers" are one atomic step; a viewer becomes live in one synchronous step that sends
 * the catch-up bytes from the ring up to its end. Hence nothing is lost and nothing sent twice.
 */
export class Terminal {
  readonly id: string;
  readonly userId: string;
  readonly target: { host: string; port: number; username: string };
  readonly address: string;
  readonly title: string | undefined;
  readonly createdAt = new Date();

  private readonly client: SshClient;
  private readonly channel: ClientChannel;
  private readonly ring: ByteRing;
  private readonly scrollbackMax: number;
  private readonly mirror: TerminalMirror;
  private readonly flow: Required<FlowControlOptions>;
  private readonly events: TerminalEvents;
  private readonly outputEventIntervalMs: number;

  private readonly viewers = new Map<TerminalViewer, ViewerState>();
  private currentCols: number;
  private currentRows: number;
  private currentStatus: TerminalStatus = 'running';
  private endDetails: TerminalEndDetails | null = null;
  private exitInfo: { code: number | null; signal: string | null } | null = null;
  private paused = false;
  private mirrorBlocked = false;
  private pendingSnapshots = 0;
  private flowTimer: NodeJS.Timeout | null = null;
  private inputQueue: Array<{ data: Uint8Array; written: (() => void) | undefined }> = [];
  private inputQueued = 0;
  private waitingForDrain = false;
  private lastOutputEventAt = 0;
  private detachedSinceMs: number | null = Date.now();
  private lastOutputAtMs: number | null = null;
  private connectionLostReason: string | null = null;
  /** Set once the session is ending: remaining output must drain for the channel to close. */
  private draining = false;
  /** Output appended to the ring but not yet sent to live viewers: [batchStart, ring.end). */
  private batch: Buffer[] = [];
  private batchStart = 0;
  private batchBytes = 0;
  private flushQueued = false;
  private flushTimer: NodeJS.Timeout | null = null;
  private lastFlushAtMs = 0;
  private lastFlushBytes = 0;

  constructor(options: TerminalOptions) {
    validateSize(options.cols, options.rows);
    this.id = options.id;
    this.userId = options.userId;
    this.target = { ...options.target };
    this.address = options.address;
    this.title = options.title;
    this.client = options.client;
    this.channel = options.channel;
    this.currentCols = options.cols;
    this.currentRows = options.rows;
    this.flow = { ...defaults, ...options.flow };
    this.events = options.events ?? {};
    this.outputEventIntervalMs = options.outputEventIntervalMs ?? 10_000;
    this.ring = new ByteRing(options.bufferBytes);
    this.scrollbackMax = options.scrollbackMax ?? Math.max(options.scrollback ?? 1000, 1000);
    this.mirror = new TerminalMirror({
      ring: this.ring,
      cols: options.cols,
      rows: options.rows,
      scrollback: Math.min(options.scrollback ?? 1000, this.scrollbackMax),
      hibernateAfterMs: options.mirrorHibernateAfterMs ?? 5 * 60_000,
      onBacklogChange: () => this.evaluateFlow(),
      // Parsing is shared out fairly between users (the mirror scheduler).
      owner: options.userId,
    });
    this.wireChannel();
  }

  get status(): TerminalStatus {
    return this.currentStatus;
  }
  get ended(): boolean {
    return this.currentStatus !== 'running';
  }
  get end(): TerminalEndDetails | null {
    return this.endDetails;
  }
  /** Total output bytes so far: the offset of the next byte. */
  get offset(): number {
    return this.ring.end;
  }
  get cols(): number {
    return this.currentCols;
  }
  get rows(): number {
    return this.currentRows;
  }
  get viewerCount(): number {
    return this.viewers.size;
  }
  get isPaused(): boolean {
    return this.paused;
  }
  /** Epoch ms since when no viewer is attached, or null while one is. */
  get detachedSince(): number | null {
    return this.detachedSinceMs;
  }
  get lastOutputAt(): Date | null {
    return this.lastOutputAtMs === null ? null : new Date(this.lastOutputAtMs);
  }

  /** Approximate broker memory held by this terminal (for metrics and tests). */
  memoryUsage(): { ringBytes: number; mirror: string; mirrorBacklog: number; channelBuffered: number } {
    return {
      ringBytes: this.ring.allocated,
      mirror: this.mirror.state,
      mirrorBacklog: this.mirror.backlog,
      channelBuffered: this.channel.readableLength,
    };
  }

  /**
   * Attaches a viewer. With `resumeFrom` still in the ring: `ready { replay: true }` then exactly
   * the missing bytes. Otherwise: `snapshot`, `ready { offset: snapshot.offset }`, then the bytes
   * produced since the snapshot. Live output follows in both cases. On an ended terminal the
   * same happens, followed by `exit` and a close, so the client still sees the final output.
   */
  async attach(viewer: TerminalViewer, options: AttachOptions = {}): Promise<void> {
    if (this.viewers.has(viewer)) throw new TerminalError(ErrorCode.PROTOCOL_ERROR, 'Already attached.');
    if (options.cols !== undefined || options.rows !== undefined) {
      const cols = options.cols ?? this.currentCols;
      const rows = options.rows ?? this.currentRows;
      validateSize(cols, rows);
      if (!this.ended) this.resize(cols, rows);
    }
    if (options.scrollback !== undefined && !this.ended)
      this.mirror.growScrollback(Math.min(options.scrollback, this.scrollbackMax));
    const state: ViewerState = { viewer, phase: 'pending', sentOffset: 0, ackedOffset: 0, blocked: false };
    this.viewers.set(viewer, state);
    this.detachedSinceMs = null;
    this.mirror.watched = this.viewers.size > 0;
    this.events.onAttachChange?.(this, this.viewers.size);

    const { resumeFrom } = options;
    if (resumeFrom !== undefined && resumeFrom >= this.ring.start && resumeFrom <= this.ring.end) {
      const bytes = this.ring.slice(resumeFrom);
      if (bytes) {
        this.goLive(state, resumeFrom, bytes, true);
        return;
      }
    }

    // Pausing the channel while the snapshot is serialized keeps the bytes after it in the ring.
    this.pendingSnapshots++;
    this.evaluateFlow();
    try {
      for (let attempt = 0; attempt < SNAPSHOT_ATTEMPTS; attempt++) {
        const snap = await this.mirror.snapshot(
          options.scrollback !== undefined ? { scrollback: options.scrollback } : {},
        );
        if (this.viewers.get(viewer) !== state) return; // detached meanwhile
        // Everything after the snapshot offset, read in the same synchronous step as going live.
        const bytes = this.ring.slice(snap.offset);
        if (!bytes) continue; // overwritten while serializing: take a newer snapshot
        viewer.sendJson({
          type: 'snapshot',
          terminalId: this.id,
          offset: snap.offset,
          cols: snap.cols,
          rows: snap.rows,
          data: snap.data,
        });
        this.goLive(state, snap.offset, bytes, false);
        return;
      }
      throw new TerminalError(ErrorCode.INTERNAL, 'The terminal screen could not be captured.');
    } catch (err) {
      if (this.viewers.get(viewer) === state) this.detach(viewer);
      throw err;
    } finally {
      this.pendingSnapshots--;
      this.evaluateFlow();
    }
  }

  /**
   * The screen as of now (the mirror's snapshot; after the terminal ended, its last screen), with
   * at most `options.scrollback` lines of scrollback. Until `dispose()`.
   */
  screen(options: SnapshotOptions = {}): Promise<MirrorSnapshot> {
    return this.mirror.snapshot(options);
  }

  detach(viewer: TerminalViewer): void {
    if (!this.viewers.delete(viewer)) return;
    if (this.viewers.size === 0) this.detachedSinceMs = Date.now();
    this.mirror.watched = this.viewers.size > 0;
    this.events.onAttachChange?.(this, this.viewers.size);
    this.evaluateFlow();
  }

  /**
   * Keystrokes and pastes, written to the SSH channel in arrival order. Never refused while the
   * terminal runs: while the channel is not draining they wait here, and `written` is called
   * once `data` has been handed to the channel, so the caller (the socket) can pace its client
   * to what was applied (`input_ack`) and bound what waits. Returns false when the terminal
   * has ended (the input is dropped with it).
   */
  input(data: Uint8Array, written?: () => void): boolean {
    if (this.ended) return false;
    if (data.length === 0) {
      written?.();
      return true;
    }
    if (this.waitingForDrain || this.inputQueue.length > 0) {
      this.inputQueue.push({ data: Buffer.from(data), written });
      this.inputQueued += data.length;
      return true;
    }
    if (!this.channel.write(data)) this.waitForDrain();
    written?.();
    return true;
  }

  /** Output sent to a live viewer and not acknowledged yet (0 for one still being set up). */
  viewerBacklog(viewer: TerminalViewer): number {
    const state = this.viewers.get(viewer);
    return state?.phase === 'live' ? state.sentOffset - state.ackedOffset : 0;
  }

  /** Input bytes waiting for the SSH channel to drain. */
  get queuedInput(): number {
    return this.inputQueued;
  }

  resize(cols: number, rows: number): void {
    validateSize(cols, rows);
    if (this.ended || (cols === this.currentCols && rows === this.currentRows)) return;
    this.currentCols = cols;
    this.currentRows = rows;
    this.mirror.resize(cols, rows);
    this.channel.setWindow(rows, cols, 0, 0);
  }

  /** Cumulative ack from a viewer: it has processed every byte before `offset`. */
  ack(viewer: TerminalViewer, offset: number): void {
    const state = this.viewers.get(viewer);
    if (state?.phase !== 'live' || !Number.isSafeInteger(offset)) return;
    // An ack past what was sent is a client bug; never let it open the window further.
    const clamped = Math.min(offset, state.sentOffset);
    if (clamped > state.ackedOffset) {
      state.ackedOffset = clamped;
      this.evaluateFlow();
    }
  }

  /**
   * Ends the SSH session. Viewers get `exit` with `reason` and a TERMINAL_ENDED close (or the
   * given close code, e.g. SERVER_RESTARTING on shutdown).
   */
  terminate(reason: string, options: { status?: TerminalStatus; closeCode?: number } = {}): void {
    if (this.ended) return;
    this.finish(options.status ?? 'exited', { code: null, signal: null, reason }, options.closeCode);
    this.client.end();
    // A hung TCP peer must not keep the socket: destroy shortly after the polite close.
    setTimeout(() => this.client.destroy(), 2000).unref();
  }

  /** Frees the ring and mirror of an ended terminal once nobody can resume it any more. */
  dispose(): void {
    if (!this.ended) this.terminate('disposed');
    this.dropBatch();
    this.mirror.dispose();
    this.ring.clear();
    for (const viewer of [...this.viewers.keys()]) this.detach(viewer);
  }

  // ── internals ─────────────────────────────────────────────────────────────

  private goLive(state: ViewerState, from: number, bytes: Buffer, replay: boolean): void {
    const { viewer } = state;
    viewer.sendJson({
      type: 'ready',
      terminalId: this.id,
      offset: from,
      cols: this.currentCols,
      rows: this.currentRows,
      host: this.target.host,
      port: this.target.port,
      username: this.target.username,
      replay,
    });
    for (let i = 0; i < bytes.length; i += FRAME_BYTES) viewer.sendBinary(bytes.subarray(i, i + FRAME_BYTES));
    state.phase = 'live';
    state.ackedOffset = from;
    state.sentOffset = from + bytes.length;
    if (this.ended && this.endDetails) {
      viewer.sendJson({ type: 'exit', terminalId: this.id, ...this.endDetails });
      // Detached (not just forgotten): the retention counts again from now, so the ended terminal
      // is still freed in the end (it used to stay for good once anyone had attached after its end).
      this.detach(viewer);
      viewer.close(CloseCode.TERMINAL_ENDED, 'terminal ended');
      return;
    }
    this.evaluateFlow();
  }

  private wireChannel(): void {
    const channel = this.channel;
    // ssh2 keeps re-opening the SSH window while its readable buffer is below highWaterMark
    // (2 MiB by default), so a paused channel could hold window + buffer ≈ 4 MiB. A small
    // mark stops window adjustments soon after a pause: memory ≈ one window (≤ 2 MiB).
    const readableState = (channel as unknown as { _readableState?: { highWaterMark?: number } })
      ._readableState;
    if (readableState && typeof readableState.highWaterMark === 'number') {
      readableState.highWaterMark = CHANNEL_HIGH_WATER_MARK;
    }
    channel.on('data', (chunk: Buffer) => this.onOutput(chunk));
    // A PTY merges stderr into the stream; anything on the extended channel is still output.
    channel.stderr.on('data', (chunk: Buffer) => this.onOutput(chunk));
    channel.on('exit', (code: number | null, signal?: string) => {
      this.exitInfo = { code: typeof code === 'number' ? code : null, signal: signal ?? null };
      // Let any output still buffered behind a pause drain so 'close' can follow.
      this.forceDrain();
    });
    channel.on('close', () => this.onChannelClosed());
    channel.on('error', () => {
      this.connectionLostReason ??= 'The SSH channel failed.';
    });
    this.client.on('error', (err: Error & { level?: string }) => {
      this.connectionLostReason ??=
        err.level === 'client-timeout'
          ? 'The SSH server stopped answering keepalives.'
          : 'The connection to the SSH server was lost.';
    });
    this.client.on('close', () => {
      if (this.ended) return;
      this.connectionLostReason ??= 'The connection to the SSH server was lost.';
      this.forceDrain();
      // The channel normally closes right after the connection; this is a backstop.
      setTimeout(() => this.onChannelClosed(), 1000).unref();
    });
  }

  private onOutput(chunk: Buffer): void {
    if (this.ended || chunk.length === 0) return;
    this.mirror.beforeAppend(chunk);
    const start = this.ring.end;
    this.ring.append(chunk);
    if (!this.hasLiveViewer()) {
      // Nobody to send to; a viewer going live later is sent its bytes from the ring.
      this.dropBatch();
    } else {
      if (this.batchBytes === 0) this.batchStart = start;
      this.batch.push(chunk);
      this.batchBytes += chunk.length;
      if (this.batchBytes >= BATCH_MAX_BYTES) this.flushOutput();
      else if (!this.flushQueued) {
        this.flushQueued = true;
        if (
          this.lastFlushBytes >= STREAM_FRAME_BYTES &&
          performance.now() - this.lastFlushAtMs < 2 * COALESCE_MS
        )
          this.flushTimer = setTimeout(this.flushQueuedOutput, COALESCE_MS);
        else queueMicrotask(this.flushQueuedOutput);
      }
    }
    const now = Date.now();
    this.lastOutputAtMs = now;
    if (now - this.lastOutputEventAt >= this.outputEventIntervalMs) {
      this.lastOutputEventAt = now;
      this.events.onOutput?.(this, new Date(now));
    }
    if (this.viewers.size > 0) this.evaluateFlow();
  }

  private readonly flushQueuedOutput = (): void => {
    this.flushQueued = false;
    this.flushOutput();
  };

  private dropBatch(): void {
    this.cancelQueuedFlush();
    this.batch = [];
    this.batchBytes = 0;
  }

  /** A flush already queued is not needed any more (the batch was sent or dropped). */
  private cancelQueuedFlush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.flushQueued = false;
  }

  private hasLiveViewer(): boolean {
    for (const state of this.viewers.values()) if (state.phase === 'live') return true;
    return false;
  }

  /**
   * Sends the pending batch to every live viewer. A viewer that went live after the batch began
   * was sent its bytes by goLive (straight from the ring, up to the end as of then), so it only
   * gets the part past its `sentOffset`: still exactly once, in order.
   */
  private flushOutput(): void {
    this.cancelQueuedFlush();
    if (this.batchBytes === 0) return;
    this.lastFlushAtMs = performance.now();
    this.lastFlushBytes = this.batchBytes;
    const parts = this.batch;
    const length = this.batchBytes;
    const start = this.batchStart;
    const end = start + length;
    this.batch = [];
    this.batchBytes = 0;
    let joined: Uint8Array | null = parts.length === 1 ? parts[0]! : null;
    for (const state of this.viewers.values()) {
      if (state.phase !== 'live' || state.sentOffset >= end) continue;
      const from = state.sentOffset;
      // Before sending: a viewer may ack synchronously from inside sendBinary.
      state.sentOffset = end;
      if (from === start && !joined && state.viewer.sendBinaryParts) {
        state.viewer.sendBinaryParts(parts, length);
        continue;
      }
      joined ??= Buffer.concat(parts, length);
      state.viewer.sendBinary(from > start ? joined.subarray(from - start) : joined);
    }
    if (this.viewers.size > 0) this.evaluateFlow();
  }

  private onChannelClosed(): void {
    if (this.ended) return;
    if (this.exitInfo) {
      const { code, signal } = this.exitInfo;
      const reason = signal
        ? `The remote process was killed by ${signal}.`
        : `The remote shell exited with code ${code}.`;
      this.finish('exited', { code, signal, reason });
    } else {
      this.finish('lost', {
        code: null,
        signal: null,
        reason: this.connectionLostReason ?? 'The SSH session closed.',
      });
    }
    this.client.end();
  }

  private finish(
    status: TerminalStatus,
    details: TerminalEndDetails,
    closeCode: number = CloseCode.TERMINAL_ENDED,
  ): void {
    // The last output reaches live viewers before their `exit`.
    this.flushOutput();
    this.currentStatus = status;
    this.endDetails = details;
    this.stopFlowTimer();
    this.inputQueue = [];
    this.inputQueued = 0;
    for (const state of [...this.viewers.values()]) {
      // Pending viewers get their snapshot first and the exit right after it (see goLive).
      if (state.phase !== 'live') continue;
      state.viewer.sendJson({ type: 'exit', terminalId: this.id, ...details });
      this.viewers.delete(state.viewer);
      state.viewer.close(closeCode, status === 'lost' ? 'terminal lost' : 'terminal ended');
    }
    if (this.viewers.size === 0) this.detachedSinceMs ??= Date.now();
    this.events.onStatus?.(this, status, details);
  }

  private forceDrain(): void {
    this.draining = true;
    if (this.paused) {
      this.paused = false;
      this.channel.resume();
    }
    this.stopFlowTimer();
  }

  private waitForDrain(): void {
    this.waitingForDrain = true;
    this.channel.once('drain', () => {
      this.waitingForDrain = false;
      while (this.inputQueue.length > 0 && !this.ended) {
        const next = this.inputQueue.shift()!;
        this.inputQueued -= next.data.length;
        const more = this.channel.write(next.data);
        next.written?.();
        if (!more) {
          this.waitForDrain();
          return;
        }
      }
    });
  }

  /**
   * Pauses the SSH channel while any attached viewer is too far behind (unacked bytes or a full
   * socket), the mirror cannot keep up, or a snapshot is being taken; resumes below the low
   * watermarks. With no viewer attached only the mirror can pause it, so a detached terminal's
   * remote process keeps running (its ring simply overwrites).
   */
  private evaluateFlow(): void {
    if (this.ended) return;
    let blocked = false;
    for (const state of this.viewers.values()) {
      if (state.phase !== 'live') continue;
      const unacked = state.sentOffset - state.ackedOffset;
      const buffered = state.viewer.bufferedAmount();
      if (
        !state.blocked &&
        (unacked > this.flow.highWatermark || buffered > this.flow.bufferedHighWatermark)
      ) {
        state.blocked = true;
      } else if (
        state.blocked &&
        unacked <= this.flow.lowWatermark &&
        buffered <= this.flow.bufferedLowWatermark
      ) {
        state.blocked = false;
      }
      blocked ||= state.blocked;
    }
    const backlog = this.mirror.backlog;
    if (!this.mirrorBlocked && backlog > this.flow.mirrorHighWatermark) this.mirrorBlocked = true;
    else if (this.mirrorBlocked && backlog <= this.flow.mirrorLowWatermark) this.mirrorBlocked = false;

    const shouldPause = !this.draining && (blocked || this.mirrorBlocked || this.pendingSnapshots > 0);
    if (shouldPause && !this.paused) {
      this.paused = true;
      this.channel.pause();
      // bufferedAmount changes without an event: poll while paused.
      this.flowTimer = setInterval(() => this.evaluateFlow(), FLOW_POLL_MS);
      this.flowTimer.unref();
    } else if (!shouldPause && this.paused) {
      this.paused = false;
      this.stopFlowTimer();
      this.channel.resume();
    }
  }

  private stopFlowTimer(): void {
    if (this.flowTimer) clearInterval(this.flowTimer);
    this.flowTimer = null;
  }
}
