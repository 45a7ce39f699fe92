/** The app's themes: the variables in styles/theme.css, chosen on <html data-theme>. */
export const THEMES = ['dark', 'light', 'auto'] as const;
export type Theme = (typeof THEMES)[number];

/** Switches the whole app at once (a settings page calls this); "auto" follows the system. */
export function applyTheme(theme: Theme, root: HTMLElement = document.documentElement): void {
  root.dataset.theme = theme;
}

export function currentTheme(root: HTMLElement = document.documentElement): Theme {
  const t = root.dataset.theme;
  return (THEMES as readonly string[]).includes(t ?? '') ? (t as Theme) : 'dark';
}
