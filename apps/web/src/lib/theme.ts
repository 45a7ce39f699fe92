import { type Theme, ThemeSchema } from '@tether/protocol';

/** The app's themes (a user setting): the variables in styles/theme.css, chosen on <html data-theme>. */
export const THEMES: readonly Theme[] = ThemeSchema.options;
export type { Theme };

/** Switches the whole app at once (a settings page calls this); "auto" follows the system. */
export function applyTheme(theme: Theme, root: HTMLElement = document.documentElement): void {
  root.dataset.theme = theme;
}

export function currentTheme(root: HTMLElement = document.documentElement): Theme {
  const t = root.dataset.theme;
  return (THEMES as readonly string[]).includes(t ?? '') ? (t as Theme) : 'dark';
}
