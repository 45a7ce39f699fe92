import type { TerminalSummary, Workspace } from '@tether/protocol';
import { describe, expect, it } from 'vitest';
import {
  displayNames,
  mergeRestored,
  moveTab,
  type Tab,
  tabsFromStored,
  toStoredWorkspace,
} from './workspace-layout';

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

function summary(n: number, status: TerminalSummary['status'] = 'running'): TerminalSummary {
  return {
    id: id(n),
    host: `h${n}`,
    port: 22,
    username: 'me',
    profileId: null,
    title: null,
    cols: 80,
    rows: 24,
    status,
    attached: 0,
    exitCode: null,
    exitSignal: null,
    endReason: null,
    createdAt: '2026-12-05T00:00:00Z',
    lastAttachedAt: null,
    lastOutputAt: null,
    endedAt: null,
  };
}

const tab = (key: string, n: number | null, title: string | null = null): Tab => ({
  key,
  label: n === null ? 'connecting' : `me@h${n}`,
  title,
  terminalId: n === null ? null : id(n),
  status: n === null ? 'connecting' : 'ready',
});

describe('the stored workspace', () => {
  it('keeps the tabs with a terminal, in order, with their names and the active tab', () => {
    const w = toStoredWorkspace([tab('a', 1, 'db'), tab('b', null), tab('c', 2)], 'c');
    expect(w.tabs.map((t) => [t.id, t.title, t.root])).toEqual([
      ['a', 'db', { kind: 'terminal', terminalId: id(1) }],
      ['c', null, { kind: 'terminal', terminalId: id(2) }],
    ]);
    expect(w.activeTabId).toBe('c');
    // The active tab still connecting is not stored, so neither is it active.
    expect(toStoredWorkspace([tab('a', 1), tab('b', null)], 'b').activeTabId).toBeNull();
  });

  it('reopens running terminals to reattach, ended ones in their place, and drops forgotten ones', () => {
    const stored = toStoredWorkspace([tab('a', 1, 'db'), tab('b', 2), tab('c', 3), tab('d', 4)], 'c');
    const { tabs, activeKey } = tabsFromStored(stored, [summary(1), summary(2, 'exited'), summary(3)]);
    expect(tabs.map((t) => [t.key, t.terminalId, t.status, t.title])).toEqual([
      ['a', id(1), 'connecting', 'db'],
      ['b', id(2), 'exited', null],
      ['c', id(3), 'connecting', null],
    ]);
    expect(activeKey).toBe('c');
  });

  it('opens a stored split’s panes as tabs in reading order; the first tab is active when the stored one is gone', () => {
    const w: Workspace = {
      tabs: [
        {
          id: 's',
          title: 'pair',
          root: {
            kind: 'split',
            direction: 'row',
            ratio: 0.5,
            first: { kind: 'terminal', terminalId: id(1) },
            second: { kind: 'terminal', terminalId: id(2) },
          },
          focused: id(2),
          broadcast: [],
        },
      ],
      activeTabId: null,
    };
    const { tabs, activeKey } = tabsFromStored(w, [summary(1), summary(2)]);
    expect(tabs.map((t) => [t.key, t.title])).toEqual([
      ['s', 'pair'],
      ['s-1', null],
    ]);
    expect(activeKey).toBe('s');
  });

  it('puts restored tabs first and keeps tabs opened meanwhile, without doubling a terminal', () => {
    const merged = mergeRestored([tab('a', 1)], [tab('x', null), tab('y', 1), tab('z', 2)]);
    expect(merged.map((t) => t.key)).toEqual(['a', 'x', 'z']);
  });
});

describe('tab strip', () => {
  it('numbers a name several tabs share from its second use', () => {
    expect(displayNames([tab('a', 1), tab('b', 2), tab('c', 1), tab('d', 1, 'mine'), tab('e', 1)])).toEqual([
      'me@h1',
      'me@h2',
      'me@h1 (2)',
      'mine',
      'me@h1 (3)',
    ]);
  });

  it('moves a tab, and ignores a move out of range', () => {
    expect(moveTab(['a', 'b', 'c'], 0, 2)).toEqual(['b', 'c', 'a']);
    expect(moveTab(['a', 'b', 'c'], 2, 0)).toEqual(['c', 'a', 'b']);
    expect(moveTab(['a', 'b', 'c'], 1, 5)).toEqual(['a', 'b', 'c']);
  });
});
