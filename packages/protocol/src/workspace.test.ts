import { describe, expect, it } from 'vitest';
import {
  DEFAULT_USER_SETTINGS,
  type Pane,
  paneTerminals,
  UpdateUserSettingsRequestSchema,
  UserSettingsSchema,
  WORKSPACE_MAX_PANES,
  WorkspaceSchema,
} from './rest/workspace.js';

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const term = (n: number): Pane => ({ kind: 'terminal', terminalId: id(n) });
const split = (first: Pane, second: Pane): Pane => ({
  kind: 'split',
  direction: 'row',
  ratio: 0.5,
  first,
  second,
});
const tab = (tabId: string, root: Pane) => ({ id: tabId, title: null, root, focused: null, broadcast: [] });

describe('workspace', () => {
  it('accepts tabs with split panes and lists a tree’s terminals in reading order', () => {
    const root = split(term(1), split(term(2), term(3)));
    const w = { tabs: [tab('a', root), tab('b', term(4))], activeTabId: 'b' };
    expect(WorkspaceSchema.parse(w)).toEqual(w);
    expect(paneTerminals(root)).toEqual([id(1), id(2), id(3)]);
  });

  it('refuses a terminal shown twice, a repeated tab id, an unknown active tab and too many panes', () => {
    const twice = WorkspaceSchema.safeParse({
      tabs: [tab('a', term(1)), tab('b', term(1))],
      activeTabId: null,
    });
    expect(twice.success).toBe(false);
    const sameId = WorkspaceSchema.safeParse({
      tabs: [tab('a', term(1)), tab('a', term(2))],
      activeTabId: null,
    });
    expect(sameId.success).toBe(false);
    const active = WorkspaceSchema.safeParse({ tabs: [tab('a', term(1))], activeTabId: 'z' });
    expect(active.error?.issues[0]?.path).toEqual(['activeTabId']);
    let root = term(0);
    for (let i = 1; i <= WORKSPACE_MAX_PANES; i++) root = split(root, term(i));
    const many = WorkspaceSchema.safeParse({ tabs: [tab('a', root)], activeTabId: 'a' });
    expect(many.error?.issues[0]?.message).toBe(`must have at most ${WORKSPACE_MAX_PANES} panes`);
  });

  it('refuses a split ratio outside 0.1–0.9 and a pane that is not a terminal id', () => {
    const bad = { ...split(term(1), term(2)), ratio: 0.95 } as Pane;
    expect(WorkspaceSchema.safeParse({ tabs: [tab('a', bad)], activeTabId: null }).success).toBe(false);
    const notId = { kind: 'terminal', terminalId: 'x' } as Pane;
    expect(WorkspaceSchema.safeParse({ tabs: [tab('a', notId)], activeTabId: null }).success).toBe(false);
  });
});

describe('user settings', () => {
  it('has valid defaults', () => {
    expect(UserSettingsSchema.parse(DEFAULT_USER_SETTINGS)).toEqual(DEFAULT_USER_SETTINGS);
  });

  it('takes a partial change, null to reset a field, and refuses unknown fields and CSS in the font', () => {
    expect(UpdateUserSettingsRequestSchema.parse({ fontSize: 16, theme: null })).toEqual({
      fontSize: 16,
      theme: null,
    });
    expect(UpdateUserSettingsRequestSchema.safeParse({ colour: 'red' }).success).toBe(false);
    expect(UpdateUserSettingsRequestSchema.safeParse({ fontSize: 7 }).success).toBe(false);
    expect(UpdateUserSettingsRequestSchema.safeParse({ fontFamily: 'x; background: red' }).success).toBe(
      false,
    );
    expect(UpdateUserSettingsRequestSchema.safeParse({ fontFamily: '"Fira Code", monospace' }).success).toBe(
      true,
    );
  });
});
