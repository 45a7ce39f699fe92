import { describe, expect, it } from 'vitest';
import { MAX_LIVE_SLABS, OutputSlabs, SLAB_BYTES, SLAB_MIN_COPY_BYTES } from './output-slabs.js';

const KiB = 1024;
const filled = (n: number, byte: number) => Buffer.alloc(n, byte);

describe('OutputSlabs', () => {
  it('copies into a slab: the same bytes, a region of a 1 MiB buffer, regions side by side', () => {
    const slabs = new OutputSlabs();
    const a = slabs.copy(filled(64 * KiB, 1));
    const b = slabs.copy(filled(64 * KiB, 2));
    expect(a.buffer.byteLength).toBe(SLAB_BYTES);
    expect(b.buffer).toBe(a.buffer);
    expect(b.byteOffset).toBe(a.byteOffset + a.length);
    expect(a.equals(filled(64 * KiB, 1))).toBe(true);
    expect(b.equals(filled(64 * KiB, 2))).toBe(true);
    expect(slabs.slabs).toBe(1);
  });

  it('small copies and foreign buffers stay out of the slabs', () => {
    const slabs = new OutputSlabs();
    const small = slabs.copy(filled(SLAB_MIN_COPY_BYTES - 1, 7));
    expect(small.buffer.byteLength).not.toBe(SLAB_BYTES);
    expect(small.equals(filled(SLAB_MIN_COPY_BYTES - 1, 7))).toBe(true);
    slabs.release(small);
    slabs.release(Buffer.alloc(8 * KiB));
    expect(slabs.slabs).toBe(0);
  });

  it('reuses a slab only once every region cut from it is released', () => {
    const slabs = new OutputSlabs();
    const first = Array.from({ length: 16 }, (_, i) => slabs.copy(filled(64 * KiB, i)));
    const slabA = first[0]!.buffer;
    expect(first.every((r) => r.buffer === slabA)).toBe(true); // 16 × 64 KiB: the slab is full
    for (const r of first.slice(1)) slabs.release(r);
    const next = slabs.copy(filled(64 * KiB, 99));
    expect(next.buffer).not.toBe(slabA); // first[0] is still being written
    expect(first[0]!.equals(filled(64 * KiB, 0))).toBe(true);
    // The next slab fills up too; then slab A, now free, is taken again.
    for (let i = 0; i < 15; i++) slabs.copy(filled(64 * KiB, 50));
    slabs.release(first[0]!);
    expect(slabs.copy(filled(64 * KiB, 3)).buffer).toBe(slabA);
  });

  it('a second release of the same region changes nothing', () => {
    const slabs = new OutputSlabs();
    const a = slabs.copy(filled(64 * KiB, 1));
    const b = slabs.copy(filled(64 * KiB, 2));
    slabs.release(a);
    slabs.release(a);
    // b is still out: the slab is not taken as empty, the next region comes after b.
    const c = slabs.copy(filled(64 * KiB, 3));
    expect(c.byteOffset).toBeGreaterThanOrEqual(b.byteOffset + b.length);
    expect(b.equals(filled(64 * KiB, 2))).toBe(true);
  });

  it('with every slab taken by regions not released, copies get buffers of their own', () => {
    const slabs = new OutputSlabs();
    const held: Buffer[] = [];
    for (let i = 0; i < (MAX_LIVE_SLABS + 4) * 2; i++) held.push(slabs.copy(filled(SLAB_BYTES / 2, i)));
    expect(slabs.slabs).toBe(MAX_LIVE_SLABS);
    const own = held.filter((r) => r.buffer.byteLength !== SLAB_BYTES);
    expect(own.length).toBe(8);
    held.forEach((r, i) => {
      expect(r.equals(filled(SLAB_BYTES / 2, i))).toBe(true);
    });
  });

  it('randomized: no region is overwritten before it is released', () => {
    const slabs = new OutputSlabs();
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const out: Array<{ buf: Buffer; byte: number; length: number }> = [];
    for (let step = 0; step < 20_000; step++) {
      if (out.length > 0 && random() < 0.5) {
        // Released in any order, as sockets finish writing.
        const at = Math.floor(random() * out.length);
        const [region] = out.splice(at, 1);
        expect(region!.buf.equals(filled(region!.length, region!.byte))).toBe(true);
        slabs.release(region!.buf);
      } else {
        const length = 1 + Math.floor(random() * 100 * KiB);
        const byte = step & 0xff;
        out.push({ buf: slabs.copy(filled(length, byte)), byte, length });
      }
    }
    for (const region of out) expect(region.buf.equals(filled(region.length, region.byte))).toBe(true);
    expect(slabs.slabs).toBeLessThanOrEqual(MAX_LIVE_SLABS);
  });
});
