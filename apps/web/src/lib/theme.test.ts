import { describe, expect, it } from 'vitest';
import { applyTheme, currentTheme } from './theme';

describe('themes', () => {
  it('switches <html data-theme>, and reads an unknown value as dark', () => {
    const root = document.createElement('html');
    expect(currentTheme(root)).toBe('dark');
    applyTheme('light', root);
    expect(root.dataset.theme).toBe('light');
    expect(currentTheme(root)).toBe('light');
    root.dataset.theme = 'neon';
    expect(currentTheme(root)).toBe('dark');
  });
});
