import { describe, expect, it } from 'vitest';
import { createKeyedBucket } from './keyed-bucket.js';

describe('keyed token bucket', () => {
  it('allows a burst of capacity, then one per refill interval, per key', () => {
    let t = 0;
    const b = createKeyedBucket({ capacity: 3, perMinute: 6, now: () => t });
    for (let i = 0; i < 3; i++) {
      expect(b.wait('alice')).toBe(0);
      b.spend('alice');
    }
    expect(b.wait('alice')).toBe(10_000);
    expect(b.wait('bob')).toBe(0);
    t = 5_000;
    expect(b.wait('alice')).toBe(5_000);
    t = 10_000;
    expect(b.wait('alice')).toBe(0);
    b.spend('alice');
    expect(b.wait('alice')).toBe(10_000);
  });

  it('forgets the least recently used keys beyond maxKeys', () => {
    const b = createKeyedBucket({ capacity: 1, perMinute: 1, maxKeys: 2, now: () => 0 });
    b.spend('a');
    b.spend('b');
    b.spend('c');
    expect(b.wait('a')).toBe(0);
    expect(b.wait('c')).toBeGreaterThan(0);
  });
});
