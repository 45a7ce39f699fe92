/**
 * A bounded byte ring addressed by absolute stream offsets.
 *
 * Offsets count every byte ever appended (they never wrap), so a client can say "I have
 * everything before N" and the ring can answer with exactly the bytes from N, or with `null`
 * when they have been overwritten (the caller then falls back to a snapshot).
 *
 * Storage grows on demand up to `capacity`, so an idle terminal that printed a prompt holds a
 * few KiB, not TERMINAL_BUFFER_BYTES.
 */
export class ByteRing {
  readonly capacity: number;
  private buf: Buffer = Buffer.alloc(0);
  /** Index in `buf` of the oldest byte held. */
  private head = 0;
  /** Bytes held (≤ capacity). */
  private length = 0;
  private endOffset = 0;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer');
    this.capacity = capacity;
  }

  /** Offset just past the newest byte. */
  get end(): number {
    return this.endOffset;
  }

  /** Offset of the oldest byte still held. */
  get start(): number {
    return this.endOffset - this.length;
  }

  /** Bytes of memory allocated for storage. */
  get allocated(): number {
    return this.buf.length;
  }

  append(chunk: Uint8Array): void {
    const n = chunk.length;
    if (n === 0) return;
    this.endOffset += n;
    if (n >= this.capacity) {
      // Only the tail of an oversized chunk can be kept.
      this.ensureSize(this.capacity);
      this.buf.set(chunk.subarray(n - this.capacity));
      this.head = 0;
      this.length = this.capacity;
      return;
    }
    const needed = this.length + n;
    if (needed > this.buf.length && this.buf.length < this.capacity) {
      // By a quarter (in 4 KiB steps), not by doubling: a terminal that printed a little more
      // than a power of two holds at most ~25 % spare, and growth stops at capacity anyway.
      const grown = Math.ceil((this.buf.length * 1.25) / 4096) * 4096;
      this.ensureSize(Math.min(this.capacity, Math.max(needed, grown, 4096)));
    }
    const size = this.buf.length;
    const tail = (this.head + this.length) % size;
    const first = Math.min(n, size - tail);
    this.buf.set(chunk.subarray(0, first), tail);
    if (first < n) this.buf.set(chunk.subarray(first), 0);
    if (needed > size) {
      const overflow = needed - size;
      this.head = (this.head + overflow) % size;
      this.length = size;
    } else {
      this.length = needed;
    }
  }

  /**
   * Bytes [from, end) followed by `tail`, in one buffer (one copy instead of a slice and a
   * concat: the mirror's batches are up to a ring's worth): at the start of `into` when it is long
   * enough (a view of it is returned), else a new one. Null when `from` was overwritten.
   */
  sliceWith(from: number, tail: Uint8Array, into?: Buffer): Buffer | null {
    if (!Number.isSafeInteger(from) || from > this.endOffset) {
      throw new RangeError(`invalid ring offset ${from} with end ${this.endOffset}`);
    }
    if (from < this.start) return null;
    const n = this.endOffset - from;
    const out =
      into && into.length >= n + tail.length
        ? into.subarray(0, n + tail.length)
        : Buffer.allocUnsafe(n + tail.length);
    const size = this.buf.length;
    const begin = (this.head + (from - this.start)) % size;
    const first = Math.min(n, size - begin);
    this.buf.copy(out, 0, begin, begin + first);
    if (first < n) this.buf.copy(out, first, 0, n - first);
    out.set(tail, n);
    return out;
  }

  /**
   * A copy of the bytes in [from, to). Returns null when `from` is older than `start` (those
   * bytes were overwritten). Throws on offsets in the future: that is a caller bug.
   */
  slice(from: number, to: number = this.endOffset): Buffer | null {
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from > to || to > this.endOffset) {
      throw new RangeError(`invalid ring range [${from}, ${to}) with end ${this.endOffset}`);
    }
    if (from < this.start) return null;
    const n = to - from;
    const out = Buffer.allocUnsafe(n);
    if (n === 0) return out;
    const size = this.buf.length;
    const begin = (this.head + (from - this.start)) % size;
    const first = Math.min(n, size - begin);
    this.buf.copy(out, 0, begin, begin + first);
    if (first < n) this.buf.copy(out, first, 0, n - first);
    return out;
  }

  /** Drops the storage (used when a terminal ends and only its metadata remains). */
  clear(): void {
    this.buf = Buffer.alloc(0);
    this.head = 0;
    this.length = 0;
  }

  private ensureSize(size: number): void {
    if (this.buf.length >= size) return;
    // Growth happens only before the ring first fills, but head can be non-zero after a wrap at a
    // smaller size, so linearise while copying.
    const next = Buffer.allocUnsafeSlow(size);
    const old = this.buf;
    if (this.length > 0) {
      const first = Math.min(this.length, old.length - this.head);
      old.copy(next, 0, this.head, this.head + first);
      if (first < this.length) old.copy(next, first, 0, this.length - first);
    }
    this.buf = next;
    this.head = 0;
  }
}

export function createRingBuffer(capacity: number): ByteRing {
  return new ByteRing(capacity);
}
