import { useEffect, useRef, useState } from 'react';

const ACTIVITY_EVENTS = ['keydown', 'pointerdown', 'pointermove', 'wheel', 'touchstart'] as const;

/**
 * Calls `tick` every `intervalMs` while the page is visible and the user was active within
 * `idleAfterMs`. Every request slides the web session's idle window, so polling without a person
 * in front of the screen would keep an abandoned browser signed in forever. Activity after a pause
 * refreshes at once. Returns whether polling is paused for lack of activity.
 */
export function usePolling(
  tick: () => unknown,
  intervalMs: number,
  { enabled = true, idleAfterMs = 5 * 60_000 }: { enabled?: boolean; idleAfterMs?: number } = {},
): { paused: boolean } {
  const [paused, setPaused] = useState(false);
  const tickRef = useRef(tick);
  tickRef.current = tick;

  useEffect(() => {
    if (!enabled) return;
    let lastActivity = Date.now();
    let isPaused = false;
    const setP = (p: boolean) => {
      isPaused = p;
      setPaused(p);
    };
    const onActivity = () => {
      lastActivity = Date.now();
      if (isPaused) {
        setP(false);
        void tickRef.current();
      }
    };
    for (const e of ACTIVITY_EVENTS) window.addEventListener(e, onActivity, { capture: true, passive: true });
    const timer = setInterval(() => {
      if (document.visibilityState !== 'visible') return;
      if (Date.now() - lastActivity > idleAfterMs) {
        if (!isPaused) setP(true);
        return;
      }
      void tickRef.current();
    }, intervalMs);
    return () => {
      clearInterval(timer);
      for (const e of ACTIVITY_EVENTS) window.removeEventListener(e, onActivity, { capture: true });
    };
  }, [enabled, intervalMs, idleAfterMs]);

  return { paused };
}
