import type { ITheme } from '@xterm/xterm';
import { useSyncExternalStore } from 'react';
import type { Theme } from '../lib/theme';

/** The terminal's colours on the dark theme (the app's default). */
export const DARK_TERMINAL: ITheme = {
  background: '#0b0e13',
  foreground: '#d6dbe3',
  cursor: '#4fd18b',
  cursorAccent: '#0b0e13',
  selectionBackground: '#2c4a6e',
  black: '#1c2128',
  red: '#ef6b73',
  green: '#4fd18b',
  yellow: '#e5c07b',
  blue: '#61a6ef',
  magenta: '#c68cf0',
  cyan: '#56c7d6',
  white: '#c9d1d9',
  brightBlack: '#6b7686',
  brightRed: '#ff8a92',
  brightGreen: '#7ee0a8',
  brightYellow: '#f2d49b',
  brightBlue: '#8cc0ff',
  brightMagenta: '#dcb0ff',
  brightCyan: '#83dfeb',
  brightWhite: '#f0f3f6',
};

/**
 * On the light theme: dark text on near-white, and ANSI colours dark enough to read on it (each
 * at least 4.5:1 against the background, as WCAG AA asks of text, except the "white" pair, which
 * programs use for faint text). `white` and `brightWhite` are greys: text a program prints in
 * white must still show.
 */
export const LIGHT_TERMINAL: ITheme = {
  background: '#fbfbfc',
  foreground: '#1f2328',
  cursor: '#1a7f37',
  cursorAccent: '#fbfbfc',
  selectionBackground: '#b6d7ff',
  black: '#24292f',
  red: '#c4232d',
  green: '#11652b',
  yellow: '#7d4e00',
  blue: '#0757c2',
  magenta: '#7a3ed4',
  cyan: '#0f6b73',
  white: '#6e7781',
  brightBlack: '#57606a',
  brightRed: '#a40e26',
  brightGreen: '#1a7f37',
  brightYellow: '#633c01',
  brightBlue: '#0969da',
  brightMagenta: '#8250df',
  brightCyan: '#1b7c83',
  brightWhite: '#8c959f',
};

const DARK_QUERY = '(prefers-color-scheme: dark)';

function subscribe(onChange: () => void): () => void {
  const media = window.matchMedia?.(DARK_QUERY);
  media?.addEventListener('change', onChange);
  return () => media?.removeEventListener('change', onChange);
}

function systemPrefersDark(): boolean {
  return window.matchMedia?.(DARK_QUERY).matches ?? true;
}

/** The terminal's colours for a theme setting; "auto" follows the system, live. */
export function useTerminalTheme(theme: Theme): ITheme {
  const dark = useSyncExternalStore(subscribe, systemPrefersDark, () => true);
  const light = theme === 'light' || (theme === 'auto' && !dark);
  return light ? LIGHT_TERMINAL : DARK_TERMINAL;
}
