import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration, formatPercent } from './format';

describe('format', () => {
  it('formats bytes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(150 * 1024 * 1024)).toBe('150 MiB');
    expect(formatBytes(-1)).toBe('—');
  });

  it('formats durations with the two largest units', () => {
    expect(formatDuration(42)).toBe('42 s');
    expect(formatDuration(3725)).toBe('1 h 2 min');
    expect(formatDuration(93784)).toBe('1 d 2 h');
    expect(formatDuration(1800)).toBe('30 min');
  });

  it('formats percentages', () => {
    expect(formatPercent(3.04)).toBe('3.0 %');
    expect(formatPercent(42.6)).toBe('43 %');
  });
});
