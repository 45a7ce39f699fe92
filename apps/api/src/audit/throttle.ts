/**
 * Decides which of many similar events reach the audit log, so that an attacker cannot flood it
 * (or the database) by repeating a refused request: at most one event per key per `intervalMs`,
 * and at most `maxPerInterval` events per `intervalMs` in all (keys are cheap to vary: IPv6
 * addresses, Origin headers). Events left out are counted and reported with the key's next
 * recorded event as `suppressed`, so the log still says how many there were.
 */
export function createAuditThrottle(
  options: { intervalMs?: number; maxPerInterval?: number; maxKeys?: number; now?: () => number } = {},
) {
  const intervalMs = options.intervalMs ?? 60_000;
  const maxPerInterval = options.maxPerInterval ?? 60;
  const maxKeys = options.maxKeys ?? 10_000;
  const now = options.now ?? Date.now;
  const keys = new Map<string, { lastAt: number; suppressed: number }>();
  let windowStart = 0;
  let inWindow = 0;

  return {
    /** `{ suppressed }` when this event should be recorded, null when it is left out. */
    admit(key: string): { suppressed: number } | null {
      const at = now();
      if (at - windowStart >= intervalMs) {
        windowStart = at;
        inWindow = 0;
      }
      let entry = keys.get(key);
      if (entry && at - entry.lastAt < intervalMs) {
        entry.suppressed++;
        return null;
      }
      if (inWindow >= maxPerInterval) {
        if (entry) entry.suppressed++;
        return null;
      }
      inWindow++;
      const suppressed = entry?.suppressed ?? 0;
      if (!entry) {
        if (keys.size >= maxKeys) keys.delete(keys.keys().next().value!);
        entry = { lastAt: at, suppressed: 0 };
        keys.set(key, entry);
      } else {
        // Re-inserted so the map's order stays "least recently recorded first" for eviction.
        keys.delete(key);
        keys.set(key, entry);
      }
      entry.lastAt = at;
      entry.suppressed = 0;
      return { suppressed };
    },
  };
}
