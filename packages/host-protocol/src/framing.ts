import { Packr } from 'msgpackr';

/**
 * Frames on the local channel: a 4-byte big-endian body length, then a MessagePack body
 * (msgpackr). MessagePack carries terminal bytes as binary (never base64 or JSON strings) and
 * control fields as maps, in one encoding; the length prefix comes first so a frame that claims
 * more than `maxFrameBytes` is refused before any of it is buffered.
 */
export const FRAME_HEADER_BYTES = 4;

/** Large enough for the biggest message either side sends (a 64 KiB output batch, a snapshot). */
export const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024;

// Plain maps, no records or shared structures: each frame decodes on its own, so a peer that
// restarts (the API, every deploy) needs no state from the previous connection. Binary fields
// decode as views of the frame, not copies.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

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

/**
 * Reassembles frames from a byte stream, however the stream was cut. `push` returns the decoded
 * bodies of every frame completed by the chunk (unvalidated: check them against the schemas).
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

  constructor(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    this.maxFrameBytes = maxFrameBytes;
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
        out.push(this.decode(body));
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
        out.push(this.decode(chunk.subarray(at, at + length)));
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

  private decode(body: Buffer): unknown {
    try {
      return packr.unpack(body);
    } catch (err) {
      this.failed = true;
      this.body = null;
      throw new FrameError(`A frame could not be decoded: ${(err as Error).message}`);
    }
  }
}
