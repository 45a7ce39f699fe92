import { EventEmitter } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { encodeDataFrame, encodeFrame, FrameError, FrameReader, OutputFrame } from './framing.js';
import {
  type ApiMessage,
  HOST_PROTOCOL_VERSION,
  type HostError,
  type HostMessage,
  type HostMessageOf,
  HostMessageSchema,
} from './messages.js';
import { outputSlabs } from './output-slabs.js';

/** A request's failure as the host reported it (`code` from the public protocol's ErrorCode). */
export class HostRequestError extends Error {
  readonly code: string;
  readonly details: Record<string, string> | undefined;
  constructor(error: HostError) {
    super(error.message);
    this.name = 'HostRequestError';
    this.code = error.code;
    this.details = error.details;
  }
}

/** The connection went away (or never came up) before an answer arrived. */
export class HostUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HostUnavailableError';
  }
}

/** Reads of up to this much at once from the host (one reused buffer per connection). */
const READ_BUFFER_BYTES = 256 * 1024;

type Request = Extract<ApiMessage, { rid: number }>;
type RequestWithoutRid = Request extends infer R ? (R extends Request ? Omit<R, 'rid'> : never) : never;

interface HostConnectionEvents {
  message: [HostMessage];
  close: [Error | null];
}

/**
 * The API's side of the local channel: connects, authenticates with the shared secret, matches
 * `result`s to requests and hands every other message to `message` listeners (in order).
 * One connection per API process; when it closes, pending requests fail with
 * HostUnavailableError and the owner reconnects.
 */
export class HostConnection extends EventEmitter<HostConnectionEvents> {
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextRid = 1;
  private closedWith: Error | null | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly welcome: HostMessageOf<'welcome'>,
  ) {
    super();
  }

  static connect(socketPath: string, secret: string, timeoutMs = 5_000): Promise<HostConnection> {
    // Everything the host sends is read into one reused buffer (`onread`): no buffer is allocated
    // per read, and only what is kept (each output batch, copied once by the reader into
    // `outputSlabs`: release it once written) is. With a fresh buffer per read, Node allocates
    // those outside V8's young generation, and bulk output drove a full mark-compact of the API's
    // heap every few megabytes (docs/benchmarks.md).
    let onChunk: (chunk: Buffer) => void = () => {};
    const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
    const socket = netConnect({
      path: socketPath,
      onread: {
        buffer: readBuffer,
        callback: (n: number) => {
          onChunk(readBuffer.subarray(0, n));
          return true;
        },
      },
    });
    return HostConnection.handshake(
      socket,
      'connect',
      { secret },
      timeoutMs,
      (handler) => {
        onChunk = handler;
      },
      true,
    );
  }

  /**
   * Another node's terminal host, over its peer port (TLS-PSK, `tls` from the peer link), for the
   * one terminal `ticket` names. The connection lives as long as the browser socket it serves.
   */
  static connectPeer(
    options: { host: string; port: number; tls: ConnectionOptions; ticket: string },
    timeoutMs = 5_000,
  ): Promise<HostConnection> {
    const socket = tlsConnect({ ...options.tls, host: options.host, port: options.port });
    socket.setNoDelay(true);
    // Across machines a silent partition is noticed by the owner's pings (see RemoteTerminalManager).
    let onChunk: (chunk: Buffer) => void = () => {};
    socket.on('data', (chunk: Buffer) => onChunk(chunk));
    return HostConnection.handshake(
      socket,
      'secureConnect',
      { ticket: options.ticket },
      timeoutMs,
      (handler) => {
        onChunk = handler;
      },
      false,
    );
  }

  private static async handshake(
    socket: Socket,
    connectEvent: 'connect' | 'secureConnect',
    credential: { secret: string } | { ticket: string },
    timeoutMs: number,
    setOnChunk: (handler: (chunk: Buffer) => void) => void,
    reusedChunks: boolean,
  ): Promise<HostConnection> {
    const reader = new FrameReader(undefined, reusedChunks ? { reusedChunks, outputSlabs } : {});
    const welcome = await new Promise<{ welcome: HostMessageOf<'welcome'>; rest: unknown[] }>(
      (resolve, reject) => {
        const timer = setTimeout(
          () => done(new HostUnavailableError('The terminal host did not answer.')),
          timeoutMs,
        );
        const done = (err: Error | null, value?: { welcome: HostMessageOf<'welcome'>; rest: unknown[] }) => {
          clearTimeout(timer);
          setOnChunk(() => {});
          socket.off('error', onError);
          socket.off('close', onClose);
          if (err) {
            socket.destroy();
            reject(err);
          } else resolve(value!);
        };
        const onError = (err: Error) =>
          done(new HostUnavailableError(`The terminal host cannot be reached: ${err.message}`));
        const onClose = () => done(new HostUnavailableError('The terminal host refused the connection.'));
        setOnChunk((chunk: Buffer) => {
          let frames: unknown[];
          try {
            frames = reader.push(chunk);
          } catch (err) {
            return done(err as Error);
          }
          if (frames.length === 0) return;
          const first = HostMessageSchema.safeParse(frames[0]);
          if (!first.success || first.data.t !== 'welcome')
            return done(new HostUnavailableError('The terminal host answered something other than welcome.'));
          done(null, { welcome: first.data, rest: frames.slice(1) });
        });
        socket.on('error', onError);
        socket.on('close', onClose);
        socket.once(connectEvent, () =>
          socket.write(encodeFrame({ t: 'hello', protocol: HOST_PROTOCOL_VERSION, ...credential })),
        );
      },
    );
    const connection = new HostConnection(socket, welcome.welcome);
    setOnChunk(connection.start(reader, welcome.rest));
    return connection;
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Fire-and-forget message (input, ack, detach, resize, terminate). */
  send(message: ApiMessage): void {
    if (this.closedWith !== undefined) return;
    if (message.t !== 'input') {
      this.socket.write(encodeFrame(message));
      return;
    }
    const pieces = encodeDataFrame(message);
    if (pieces.length === 1) {
      this.socket.write(pieces[0]!);
      return;
    }
    this.socket.cork();
    for (const piece of pieces) this.socket.write(piece);
    this.socket.uncork();
  }

  /** A request; resolves with the result's value, rejects with HostRequestError or HostUnavailableError. */
  request<T = unknown>(message: RequestWithoutRid, onRid?: (rid: number) => void): Promise<T> {
    if (this.closedWith !== undefined)
      return Promise.reject(new HostUnavailableError('The terminal host connection is closed.'));
    const rid = this.nextRid++;
    onRid?.(rid);
    return new Promise<T>((resolve, reject) => {
      this.pending.set(rid, { resolve: resolve as (v: unknown) => void, reject });
      this.socket.write(encodeFrame({ ...message, rid }));
    });
  }

  /** Bytes written but not yet taken by the host. */
  get queuedBytes(): number {
    return this.socket.writableLength;
  }

  close(): void {
    this.socket.destroy();
  }

  /** Wires the socket's events; returns the handler of every chunk read from now on. */
  private start(reader: FrameReader, early: unknown[]): (chunk: Buffer) => void {
    const deliver = (frames: unknown[]) => {
      for (const raw of frames) {
        if (raw instanceof OutputFrame) {
          this.emit('message', raw);
          continue;
        }
        const parsed = HostMessageSchema.safeParse(raw);
        if (!parsed.success) {
          this.fail(
            new FrameError(`The terminal host sent an invalid message (${parsed.error.issues[0]?.message}).`),
          );
          return;
        }
        const msg = parsed.data;
        if (msg.t === 'result') {
          const p = this.pending.get(msg.rid);
          if (!p) continue;
          this.pending.delete(msg.rid);
          if (msg.error) p.reject(new HostRequestError(msg.error));
          else p.resolve(msg.value);
          continue;
        }
        this.emit('message', msg);
      }
    };
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => this.fail(null));
    queueMicrotask(() => deliver(early));
    return (chunk: Buffer) => {
      if (this.closedWith !== undefined) return;
      try {
        deliver(reader.push(chunk));
      } catch (err) {
        this.fail(err as Error);
      }
    };
  }

  private fail(err: Error | null) {
    if (this.closedWith !== undefined) return;
    this.closedWith = err;
    this.socket.destroy();
    const gone = new HostUnavailableError('The terminal host connection closed.');
    for (const p of this.pending.values()) p.reject(gone);
    this.pending.clear();
    this.emit('close', err);
  }
}
