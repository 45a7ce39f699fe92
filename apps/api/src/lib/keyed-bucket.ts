/**
 * Token buckets by key (a user id, say): `capacity` tokens, refilled at `perMinute`. For budgets
 * of things that cost (failed SSH connects): `wait(key)` says how long until one is available,
 * `spend(key)` takes one. Bounded: the least recently used keys are forgotten past `maxKeys`
 * (a forgotten key starts full again, which only ever errs towards the user).
 */
export function createKeyedBucket(options: {
  capacity: number;
  perMinute: number;
  maxKeys?: number;
  now?: () => number;
}) {
  const { capacity, perMinute } = options;
  const maxKeys = options.maxKeys ?? 100_000;
  const now = options.now ?? Date.now;
  const buckets = new Map<string, { tokens: number; at: number }>();

  const current = (key: string) => {
    const at = now();
    const b = buckets.get(key);
    if (!b) return { tokens: capacity, at };
    return { tokens: Math.min(capacity, b.tokens + ((at - b.at) / 60_000) * perMinute), at };
  };

  return {
    /** Milliseconds until `key` has a token (0: now). */
    wait(key: string): number {
      const { tokens } = current(key);
      return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) / perMinute) * 60_000);
    },
    spend(key: string): void {
      const b = current(key);
      buckets.delete(key);
      buckets.set(key, { tokens: Math.max(0, b.tokens - 1), at: b.at });
      if (buckets.size > maxKeys) buckets.delete(buckets.keys().next().value!);
    },
  };
}
