/**
 * Memory for terminal output that the API copies out of its reused read buffer (the bytes must
 * outlive the read) until the browser's socket has written them. Regions are cut back to back
 * from 1 MiB slabs; a slab is reused once every region cut from it has been released (`release`,
 * called when the socket has written the frame). A copy per output frame into a fresh buffer is
 * memory V8 counts as external: at bulk-output rates it started a full collection of the API's
 * heap every few hundred milliseconds (docs/benchmarks.md, session 14: the API's CPU per MB of
 * output roughly halves without it).
 *
 * Safe by construction: a region is handed out once and its slab is reused only after every
 * region of it was released, each at most once (a second `release` of a region does nothing).
 * A region that is never released (a frame dropped on the way) only keeps its slab from being
 * reused; the slab is then freed by the garbage collector like any buffer. Bounded: at most
 * MAX_LIVE_SLABS slabs exist (counted until collected); past that, and for small or large
 * copies, `copy` allocates as `Buffer.from` does.
 */
export const SLAB_BYTES = 1 << 20;
/** Smaller copies come from Node's own buffer pool (`Buffer.from`), which is as cheap. */
export const SLAB_MIN_COPY_BYTES = 4 * 1024;
const MAX_FREE_SLABS = 2;
/** 8 MiB at most: enough for streams to many sockets at once (each slab holds many frames). */
export const MAX_LIVE_SLABS = 8;

interface Slab {
  readonly buffer: ArrayBuffer;
  /** Bytes cut from the slab since it was last empty. */
  used: number;
  /** Regions handed out and not released yet. */
  outstanding: number;
}

export class OutputSlabs {
  private current: Slab | null = null;
  private readonly free: Slab[] = [];
  private readonly lent = new WeakMap<Uint8Array, Slab>();
  private live = 0;
  private readonly collected = new FinalizationRegistry<undefined>(() => {
    this.live--;
  });

  /** A copy of `src`: a region of a slab, or a buffer of its own. */
  copy(src: Uint8Array): Buffer {
    const n = src.length;
    if (n < SLAB_MIN_COPY_BYTES || n > SLAB_BYTES) return Buffer.from(src);
    let slab = this.current;
    if (slab && slab.outstanding === 0) slab.used = 0;
    if (!slab || slab.used + n > SLAB_BYTES) {
      if (slab && slab.outstanding === 0) this.recycle(slab);
      // else: recycled when its last region is released
      slab = this.free.pop() ?? this.newSlab();
      this.current = slab;
      if (!slab) return Buffer.from(src);
    }
    const out = Buffer.from(slab.buffer, slab.used, n);
    out.set(src);
    slab.used += n;
    slab.outstanding++;
    this.lent.set(out, slab);
    return out;
  }

  /** `buf` (a result of `copy`) is written and no longer read; anything else is ignored. */
  release(buf: Uint8Array): void {
    const slab = this.lent.get(buf);
    if (!slab) return;
    this.lent.delete(buf);
    slab.outstanding--;
    if (slab.outstanding === 0 && slab !== this.current) this.recycle(slab);
  }

  /** Slabs in existence (in use, free, or dropped and not yet collected). */
  get slabs(): number {
    return this.live;
  }

  private recycle(slab: Slab): void {
    slab.used = 0;
    if (this.free.length < MAX_FREE_SLABS && !this.free.includes(slab)) this.free.push(slab);
  }

  private newSlab(): Slab | null {
    if (this.live >= MAX_LIVE_SLABS) return null;
    const buffer = new ArrayBuffer(SLAB_BYTES);
    this.live++;
    this.collected.register(buffer, undefined);
    return { buffer, used: 0, outstanding: 0 };
  }
}

/** The process's slabs for output read from terminal hosts (see `HostConnection.connect`). */
export const outputSlabs = new OutputSlabs();
