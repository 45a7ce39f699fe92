import { Packr } from 'msgpackr';
import type { OutputSlabs } from './output-slabs.js';

/**
 * Frames on the local channel: a 4-byte big-endian body length, then the body. The length prefix
 * comes first so a frame that claims more than `maxFrameBytes` is refused before any of it is
 * buffered. Two kinds of body:
 * - a message: one MessagePack map (msgpackr), control fields and binary fields in one encoding;
 * - terminal output (`out`, host → API, by far the most bytes): the tag byte OUTPUT_FRAME_TAG,
 *   the viewer id (4 bytes, big-endian), then the output bytes as they are. Its 9-byte header is
 *   written in front of the terminal's own buffer (one `writev`), so output is never copied into
 *   a frame, and the reader hands out a view of it without MessagePack or schema work. The tag is
 *   MessagePack's fixint 1, which no message (always a map) starts with.
 */
export const FRAME_HEADER_BYTES = 4;
export const OUTPUT_FRAME_TAG = 0x01;
/** Length prefix, tag and viewer id: what precedes the bytes of an output frame. */
export const OUTPUT_FRAME_HEADER_BYTES = FRAME_HEADER_BYTES + 1 + 4;
const MAX_VID = 0xffff_ffff;

/** Large enough for the biggest message either side sends (a 64 KiB output batch, a snapshot). */
export const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024;

// Plain maps, no records or shared structures: each frame decodes on its own, so a peer that
// restarts (the API, every deploy) needs no state from the previous connection. Binary fields
// decode as views of the frame, not copies.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });
// The same, for a reader whose chunks are overwritten after `push` (a socket's reused read buffer).
const copyingPackr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  moreTypes: false,
  copyBuffers: true,
});

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/** One frame, header and body, ready for `socket.write`. */
export function encodeFrame(message: unknown): Buffer {
  const body = packr.pack(message);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

const EMPTY = new Uint8Array(0);
/** Payloads smaller than this are copied into their frame: not worth a piece of their own. */
const DATA_PIECE_MIN_BYTES = 1024;

/**
 * A message with a binary `data` (keystrokes, a paste), as pieces to be written back to back
 * (`cork`, `write` each, `uncork`: one `writev`): the MessagePack map with `data` last, its bytes
 * the last piece, not copied. encodeFrame's pack-and-copy made two copies of every pasted byte,
 * and the garbage collector's threads took more CPU than the API's main thread during a paste.
 * Decodes exactly as encodeFrame's frame does.
 */
export function encodeDataFrame(message: { data: Uint8Array }): Uint8Array[] {
  const { data, ...rest } = message;
  if (data.length < DATA_PIECE_MIN_BYTES) return [encodeFrame(message)];
  // An empty bin8 (0xc4 0x00) where the data goes, swapped for a bin32 header of its length.
  const head = packr.pack({ ...rest, data: EMPTY });
  const n = head.length - 2;
  if (head[n] !== 0xc4 || head[n + 1] !== 0x00) return [encodeFrame(message)];
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES + n + 5);
  header.writeUInt32BE(n + 5 + data.length, 0);
  head.copy(header, FRAME_HEADER_BYTES, 0, n);
  header[FRAME_HEADER_BYTES + n] = 0xc6;
  header.writeUInt32BE(data.length, FRAME_HEADER_BYTES + n + 1);
  return [header, data];
}

/** Terminal output for one viewer, as the reader decodes an output frame (a view, not a copy). */
export class OutputFrame {
  readonly t = 'out' as const;
  constructor(
    readonly vid: number,
    readonly data: Buffer,
  ) {}
}

/**
 * The parts of an output frame, to be written back to back (`socket.cork()`, `write` each,
 * `uncork()`: one `writev`; the bytes are not copied). `data` may be several pieces, sent as one
 * frame. A viewer id past 32 bits, which no API hands out, falls back to a MessagePack frame.
 */
export function encodeOutputFrame(vid: number, data: Uint8Array | readonly Uint8Array[]): Uint8Array[] {
  const pieces = data instanceof Uint8Array ? [data] : data;
  let length = 0;
  for (const piece of pieces) length += piece.length;
  if (!Number.isInteger(vid) || vid < 0 || vid > MAX_VID) {
    const joined = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, length);
    return [encodeFrame({ t: 'out', vid, data: joined })];
  }
  const header = Buffer.allocUnsafe(OUTPUT_FRAME_HEADER_BYTES);
  header.writeUInt32BE(1 + 4 + length, 0);
  header[FRAME_HEADER_BYTES] = OUTPUT_FRAME_TAG;
  header.writeUInt32BE(vid, FRAME_HEADER_BYTES + 1);
  return [header, ...pieces];
}

/**
 * Reassembles frames from a byte stream, however the stream was cut. `push` returns the decoded
 * bodies of every frame completed by the chunk: OutputFrame instances (valid by construction)
 * and decoded MessagePack values (unvalidated: check them against the schemas).
 * Frames that lie whole in a chunk are decoded in place; a frame cut across chunks is copied once
 * into a buffer of its announced size, so a peer trickling bytes costs linear time. After a
 * FrameError the stream is unusable (its framing is lost): close the connection.
 */
export class FrameReader {
  /** Header bytes of the next frame, while fewer than FRAME_HEADER_BYTES have arrived. */
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFilled = 0;
  /** Body of a frame cut across chunks, and how much of it has arrived. */
  private body: Buffer | null = null;
  private bodyFilled = 0;
  private failed = false;

  /** The largest body accepted; lower it for a peer that has not authenticated yet. */
  maxFrameBytes: number;
  private readonly reusedChunks: boolean;
  private readonly copyOutput: (data: Buffer) => Buffer;

  /**
   * `reusedChunks`: the caller overwrites each chunk after `push` returns (a socket reading into
   * one reused buffer, `net.connect({ onread })`), so what is decoded from a chunk is copied out
   * of it; otherwise binary fields are views of the chunk. `outputSlabs`: where output frames
   * whole in a reused chunk are copied to (release each after writing it; see OutputSlabs).
   */
  constructor(
    maxFrameBytes = DEFAULT_MAX_FRAME_BYTES,
    options: { reusedChunks?: boolean; outputSlabs?: OutputSlabs } = {},
  ) {
    this.maxFrameBytes = maxFrameBytes;
    this.reusedChunks = options.reusedChunks ?? false;
    const slabs = options.outputSlabs;
    this.copyOutput = slabs ? (data) => slabs.copy(data) : (data) => Buffer.from(data);
  }

  push(chunk: Buffer): unknown[] {
    if (this.failed) throw new FrameError('The stream already failed.');
    const out: unknown[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.body) {
        const n = Math.min(chunk.length - at, this.body.length - this.bodyFilled);
        chunk.copy(this.body, this.bodyFilled, at, at + n);
        this.bodyFilled += n;
        at += n;
        if (this.bodyFilled < this.body.length) break;
        const body = this.body;
        this.body = null;
        out.push(this.decode(body, false));
        continue;
      }
      let length: number;
      if (this.headerFilled === 0 && chunk.length - at >= FRAME_HEADER_BYTES) {
        length = chunk.readUInt32BE(at);
        at += FRAME_HEADER_BYTES;
      } else {
        const n = Math.min(chunk.length - at, FRAME_HEADER_BYTES - this.headerFilled);
        chunk.copy(this.header, this.headerFilled, at, at + n);
        this.headerFilled += n;
        at += n;
        if (this.headerFilled < FRAME_HEADER_BYTES) break;
        this.headerFilled = 0;
        length = this.header.readUInt32BE(0);
      }
      if (length > this.maxFrameBytes) {
        this.failed = true;
        throw new FrameError(`A frame of ${length} bytes is over the limit of ${this.maxFrameBytes}.`);
      }
      if (chunk.length - at >= length) {
        out.push(this.decode(chunk.subarray(at, at + length), this.reusedChunks));
        at += length;
      } else {
        this.body = Buffer.allocUnsafe(length);
        this.bodyFilled = 0;
      }
    }
    return out;
  }

  /** Bytes received but not yet part of a complete frame. */
  get pendingBytes(): number {
    return this.headerFilled + (this.body ? FRAME_HEADER_BYTES + this.bodyFilled : 0);
  }

  private decode(body: Buffer, copy: boolean): unknown {
    if (body.length > 0 && body[0] === OUTPUT_FRAME_TAG) {
      if (body.length < 5) {
        this.failed = true;
        this.body = null;
        throw new FrameError(`An output frame of ${body.length} bytes has no viewer id.`);
      }
      const data = body.subarray(5);
      return new OutputFrame(body.readUInt32BE(1), copy ? this.copyOutput(data) : data);
    }
    try {
      return (copy ? copyingPackr : packr).unpack(body);
    } catch (err) {
      this.failed = true;
      this.body = null;
      throw new FrameError(`A frame could not be decoded: ${(err as Error).message}`);
    }
  }
}
