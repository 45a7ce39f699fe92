import { act, createElement } from 'react';
import { createRoot } from 'react-dom/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { useUserActive } from './queries';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

describe('useUserActive (polling stops when nobody is at the page)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('turns false after the idle time without activity, and true again at the next key press', async () => {
    const seen: boolean[] = [];
    function Probe() {
      seen.push(useUserActive(60_000));
      return null;
    }
    const host = document.createElement('div');
    const root = createRoot(host);
    await act(async () => root.render(createElement(Probe)));
    expect(seen.at(-1)).toBe(true);

    await act(async () => vi.advanceTimersByTime(30_000));
    expect(seen.at(-1)).toBe(true);
    await act(async () => vi.advanceTimersByTime(40_000));
    expect(seen.at(-1)).toBe(false);

    await act(async () => window.dispatchEvent(new KeyboardEvent('keydown', { key: 'a' })));
    expect(seen.at(-1)).toBe(true);
    await act(async () => root.unmount());
  });
});
