import { z } from 'zod';
import { SCROLLBACK_MAX } from '../limits.js';
import { IsoDateSchema } from './common.js';

// ── per-user terminal settings ───────────────────────────────────────────────

export const FONT_SIZE_MIN = 8;
export const FONT_SIZE_MAX = 32;

export const ThemeSchema = z.enum(['dark', 'light', 'auto']);
export type Theme = z.infer<typeof ThemeSchema>;

export const CursorStyleSchema = z.enum(['block', 'underline', 'bar']);
export type CursorStyle = z.infer<typeof CursorStyleSchema>;

/**
 * The terminal settings of one user, stored on the broker so they follow the user to another
 * browser (`GET /api/settings`, `PATCH /api/settings`). Each field has a default: the broker
 * stores only what the user changed, so a new default reaches everyone who kept the old one.
 */
export const UserSettingsSchema = z.object({
  theme: ThemeSchema,
  /** A CSS font-family list, e.g. `"JetBrains Mono", monospace`. */
  fontFamily: z
    .string()
    .trim()
    .min(1, 'is required')
    .max(200, 'must be at most 200 characters')
    // A font list, not CSS: no braces, semicolons or angle brackets.
    .regex(/^[^{};<>\\]+$/, 'must be a font list such as "JetBrains Mono", monospace'),
  fontSize: z
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(FONT_SIZE_MIN, `must be from ${FONT_SIZE_MIN} to ${FONT_SIZE_MAX}`)
    .max(FONT_SIZE_MAX, `must be from ${FONT_SIZE_MIN} to ${FONT_SIZE_MAX}`),
  cursorStyle: CursorStyleSchema,
  cursorBlink: z.boolean(),
  /** Lines xterm.js keeps above the screen. */
  scrollback: z
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(0, `must be from 0 to ${SCROLLBACK_MAX}`)
    .max(SCROLLBACK_MAX, `must be from 0 to ${SCROLLBACK_MAX}`),
  /** Selecting text copies it to the clipboard. */
  copyOnSelect: z.boolean(),
  /** A right click pastes the clipboard instead of opening the browser's menu. */
  rightClickPaste: z.boolean(),
});
export type UserSettings = z.infer<typeof UserSettingsSchema>;

export const DEFAULT_USER_SETTINGS: UserSettings = {
  theme: 'dark',
  fontFamily:
    "ui-monospace, 'SF Mono', SFMono-Regular, 'Cascadia Mono', 'DejaVu Sans Mono', 'Liberation Mono', Menlo, Consolas, monospace",
  fontSize: 13,
  cursorStyle: 'block',
  cursorBlink: true,
  scrollback: 5000,
  copyOnSelect: false,
  rightClickPaste: false,
};

/** PATCH /api/settings: the fields to change; `null` puts one back to its default. */
export const UpdateUserSettingsRequestSchema = z
  .object(
    Object.fromEntries(
      Object.entries(UserSettingsSchema.shape).map(([k, v]) => [k, v.nullable().optional()]),
    ) as { [K in keyof UserSettings]: z.ZodOptional<z.ZodNullable<(typeof UserSettingsSchema.shape)[K]>> },
  )
  .strict();
export type UpdateUserSettingsRequest = z.infer<typeof UpdateUserSettingsRequestSchema>;

/** GET/PATCH /api/settings answer: every field (defaults filled in) and which ones are the user's. */
export const UserSettingsResponseSchema = z.object({
  settings: UserSettingsSchema,
  /** The fields the user set (the rest are defaults). */
  custom: z.array(z.string()),
});
export type UserSettingsResponse = z.infer<typeof UserSettingsResponseSchema>;

// ── the workspace layout ─────────────────────────────────────────────────────

export const WORKSPACE_MAX_TABS = 32;
/** Panes in one tab (a split tree of at most this many terminals). */
export const WORKSPACE_MAX_PANES = 8;
export const TAB_TITLE_MAX = 100;

/** One pane: a terminal, or a split of two panes side by side (`row`) or stacked (`column`). */
export type Pane =
  | { kind: 'terminal'; terminalId: string }
  | { kind: 'split'; direction: 'row' | 'column'; ratio: number; first: Pane; second: Pane };

export const PaneSchema: z.ZodType<Pane> = z.lazy(() =>
  z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('terminal'), terminalId: z.uuid('must be a terminal id') }),
    z.object({
      kind: z.literal('split'),
      direction: z.enum(['row', 'column']),
      /** The first pane's share of the split, 0.1 to 0.9. */
      ratio: z.number().min(0.1).max(0.9),
      first: PaneSchema,
      second: PaneSchema,
    }),
  ]),
);

/** The terminals of a pane tree, in reading order (first before second). */
export function paneTerminals(pane: Pane): string[] {
  return pane.kind === 'terminal'
    ? [pane.terminalId]
    : [...paneTerminals(pane.first), ...paneTerminals(pane.second)];
}

export const WorkspaceTabSchema = z.object({
  /** The client's key for the tab (stable across saves). */
  id: z.string().min(1).max(64),
  /** The name the user gave the tab (null: the connection's name, the window title, user@host). */
  title: z.string().trim().min(1).max(TAB_TITLE_MAX).nullable(),
  root: PaneSchema,
  /** The pane that has the keyboard. */
  focused: z.uuid().nullable(),
  /** Panes that receive typed input together while broadcast is on. */
  broadcast: z.array(z.uuid()).max(WORKSPACE_MAX_PANES),
});
export type WorkspaceTab = z.infer<typeof WorkspaceTabSchema>;

/**
 * The open tabs of one user, in order, with the active one: `PUT /api/workspace` stores it on the
 * broker, `GET /api/workspace` gives it back after the next sign-in (on any device). A terminal
 * stands in at most one pane of one tab.
 */
export const WorkspaceSchema = z
  .object({
    tabs: z.array(WorkspaceTabSchema).max(WORKSPACE_MAX_TABS),
    activeTabId: z.string().min(1).max(64).nullable(),
  })
  .superRefine((w, ctx) => {
    const seen = new Set<string>();
    const tabIds = new Set<string>();
    w.tabs.forEach((tab, i) => {
      if (tabIds.has(tab.id))
        ctx.addIssue({ code: 'custom', path: ['tabs', i, 'id'], message: 'is repeated' });
      tabIds.add(tab.id);
      const terminals = paneTerminals(tab.root);
      if (terminals.length > WORKSPACE_MAX_PANES)
        ctx.addIssue({
          code: 'custom',
          path: ['tabs', i, 'root'],
          message: `must have at most ${WORKSPACE_MAX_PANES} panes`,
        });
      for (const id of terminals) {
        if (seen.has(id))
          ctx.addIssue({ code: 'custom', path: ['tabs', i, 'root'], message: `shows terminal ${id} twice` });
        seen.add(id);
      }
    });
    if (w.activeTabId !== null && !tabIds.has(w.activeTabId))
      ctx.addIssue({ code: 'custom', path: ['activeTabId'], message: 'must be one of the tabs' });
  });
export type Workspace = z.infer<typeof WorkspaceSchema>;

export const EMPTY_WORKSPACE: Workspace = { tabs: [], activeTabId: null };

/** GET/PUT /api/workspace answer. */
export const WorkspaceResponseSchema = z.object({
  workspace: WorkspaceSchema,
  /** When it was last stored (null: never). */
  updatedAt: IsoDateSchema.nullable(),
});
export type WorkspaceResponse = z.infer<typeof WorkspaceResponseSchema>;
