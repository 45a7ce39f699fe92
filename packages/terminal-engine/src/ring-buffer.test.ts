import { describe, expect, it } from 'vitest';
import { ByteRing } from './ring-buffer.js';

function bytes(from: number, n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, (_, i) => (from + i) % 251));
}

describe('ByteRing', () => {
  it('returns exactly the bytes from an offset while they are held', () => {
    const ring = new ByteRing(16);
    ring.append(bytes(0, 10));
    expect(ring.start).toBe(0);
    expect(ring.end).toBe(10);
    expect(ring.slice(3)).toEqual(bytes(3, 7));
    expect(ring.slice(10)).toEqual(Buffer.alloc(0));
    expect(ring.slice(2, 5)).toEqual(bytes(2, 3));
  });

  it('overwrites the oldest bytes and reports them as gone', () => {
    const ring = new ByteRing(16);
    ring.append(bytes(0, 10));
    ring.append(bytes(10, 10));
    expect(ring.start).toBe(4);
    expect(ring.end).toBe(20);
    expect(ring.slice(3)).toBeNull();
    expect(ring.slice(4)).toEqual(bytes(4, 16));
  });

  it('keeps the tail of a chunk larger than the capacity', () => {
    const ring = new ByteRing(8);
    ring.append(bytes(0, 3));
    ring.append(bytes(3, 20));
    expect(ring.start).toBe(15);
    expect(ring.slice(15)).toEqual(bytes(15, 8));
  });

  it('matches a reference model under random appends', () => {
    const capacity = 1000;
    const ring = new ByteRing(capacity);
    let all = Buffer.alloc(0);
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 2000; i++) {
      const chunk = bytes(all.length, rand(i % 50 === 0 ? 1500 : 200));
      ring.append(chunk);
      all = Buffer.concat([all, chunk]);
      expect(ring.end).toBe(all.length);
      expect(ring.start).toBe(Math.max(0, all.length - capacity));
      const from = ring.start + rand(ring.end - ring.start + 1);
      expect(ring.slice(from)).toEqual(all.subarray(from));
    }
    expect(ring.allocated).toBe(capacity);
  });

  it('grows its storage on demand instead of allocating the capacity up front', () => {
    const ring = new ByteRing(1 << 20);
    ring.append(Buffer.from('$ '));
    expect(ring.allocated).toBeLessThanOrEqual(4096);
  });

  it('holds at most about a quarter more than it was given while it grows (not up to twice)', () => {
    const ring = new ByteRing(1 << 20);
    let held = 0;
    for (const size of [32 * 1024, 32 * 1024, 2, 5_000, 100_000]) {
      ring.append(Buffer.alloc(size, 0x61));
      held += size;
      expect(ring.allocated).toBeGreaterThanOrEqual(held);
      expect(ring.allocated).toBeLessThanOrEqual(held * 1.25 + 4096);
    }
    expect(ring.slice(ring.start)?.length).toBe(held);
  });

  it('rejects ranges in the future', () => {
    const ring = new ByteRing(8);
    ring.append(bytes(0, 4));
    expect(() => ring.slice(5)).toThrow(RangeError);
  });

  it('slices with a tail in one buffer, across the wrap, and refuses overwritten offsets', () => {
    const ring = new ByteRing(8);
    ring.append(Buffer.from('abcdef'));
    ring.append(Buffer.from('ghij')); // wraps: holds c..j
    expect(ring.sliceWith(4, Buffer.from('XY'))?.toString()).toBe('efghijXY');
    expect(ring.sliceWith(ring.end, Buffer.from('Z'))?.toString()).toBe('Z');
    expect(ring.sliceWith(1, Buffer.alloc(0))).toBeNull();
    expect(() => ring.sliceWith(99, Buffer.alloc(0))).toThrow(RangeError);
  });

  it('slices into a given buffer when it is long enough, else into a new one', () => {
    const ring = new ByteRing(8);
    ring.append(Buffer.from('abcdefghij')); // holds c..j
    const into = Buffer.alloc(16, '.');
    const view = ring.sliceWith(4, Buffer.from('XY'), into);
    expect(view?.toString()).toBe('efghijXY');
    expect(view?.buffer).toBe(into.buffer);
    expect(into.toString()).toBe('efghijXY........');
    const small = Buffer.alloc(4, '.');
    const own = ring.sliceWith(4, Buffer.from('XY'), small);
    expect(own?.toString()).toBe('efghijXY');
    expect(own?.buffer).not.toBe(small.buffer);
    expect(small.toString()).toBe('....');
  });
});
