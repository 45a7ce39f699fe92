import { describe, expect, it } from 'vitest';
import { applyModifiers, cursorKey } from './extra-keys';

describe('extra keys', () => {
  it('Ctrl makes a control code, Alt puts ESC in front, both together too', () => {
    expect(applyModifiers('c', { ctrl: true, alt: false })).toBe('\x03');
    expect(applyModifiers('D', { ctrl: true, alt: false })).toBe('\x04');
    expect(applyModifiers('[', { ctrl: true, alt: false })).toBe('\x1b');
    expect(applyModifiers(' ', { ctrl: true, alt: false })).toBe('\x00');
    expect(applyModifiers('b', { ctrl: false, alt: true })).toBe('\x1bb');
    expect(applyModifiers('x', { ctrl: true, alt: true })).toBe('\x1b\x18');
    // Not a letter: Ctrl leaves it alone.
    expect(applyModifiers('1', { ctrl: true, alt: false })).toBe('1');
    expect(applyModifiers('ab', { ctrl: true, alt: false })).toBe('ab');
  });

  it('arrows follow the application cursor mode (vim, less) and nothing else changes', () => {
    expect(cursorKey('\x1b[A', false)).toBe('\x1b[A');
    expect(cursorKey('\x1b[A', true)).toBe('\x1bOA');
    expect(cursorKey('\x1b[D', true)).toBe('\x1bOD');
    expect(cursorKey('\t', true)).toBe('\t');
    expect(cursorKey('\x1b', true)).toBe('\x1b');
  });
});
