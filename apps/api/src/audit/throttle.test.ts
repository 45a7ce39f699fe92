import { describe, expect, it } from 'vitest';
import { createAuditThrottle } from './throttle.js';

describe('audit throttle', () => {
  it('admits one event per key per interval and reports how many it left out', () => {
    let t = 0;
    const throttle = createAuditThrottle({ intervalMs: 1_000, now: () => t });
    expect(throttle.admit('1.2.3.4')).toEqual({ suppressed: 0 });
    expect(throttle.admit('1.2.3.4')).toBeNull();
    expect(throttle.admit('1.2.3.4')).toBeNull();
    expect(throttle.admit('5.6.7.8')).toEqual({ suppressed: 0 });
    t = 1_000;
    expect(throttle.admit('1.2.3.4')).toEqual({ suppressed: 2 });
    expect(throttle.admit('1.2.3.4')).toBeNull();
  });

  it('caps the events of all keys together, so varying the key does not flood the log', () => {
    let t = 0;
    const throttle = createAuditThrottle({ intervalMs: 1_000, maxPerInterval: 3, now: () => t });
    const admitted = Array.from({ length: 100 }, (_, i) => throttle.admit(`2001:db8::${i}`)).filter(Boolean);
    expect(admitted).toHaveLength(3);
    t = 1_000;
    expect(throttle.admit('2001:db8::ffff')).toEqual({ suppressed: 0 });
  });

  it('stays bounded in memory however many keys it sees', () => {
    const throttle = createAuditThrottle({
      intervalMs: 60_000,
      maxPerInterval: 1e9,
      maxKeys: 10,
      now: () => 0,
    });
    for (let i = 0; i < 10_000; i++) throttle.admit(`k${i}`);
    // Only the last ten keys are remembered: k0 is admitted again, k9999 is not.
    expect(throttle.admit('k0')).toEqual({ suppressed: 0 });
    expect(throttle.admit('k9999')).toBeNull();
  });
});
