import type { TerminalSummary } from '@tether/protocol';
import { describe, expect, it } from 'vitest';
import {
  closePane,
  displayNames,
  layoutBoxes,
  mergeRestored,
  moveTab,
  NO_LAYOUTS,
  removePane,
  type SplitTree,
  setRatio,
  splitAt,
  type Tab,
  tabName,
  tabsFromStored,
  toStoredWorkspace,
  treeKeys,
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

  it('stores a split tab as a tree of terminals and brings it back split, focused and broadcasting as it was', () => {
    const tabs = [
      tab('a', 1, 'pair'),
      { ...tab('a2', 2), parent: 'a' },
      { ...tab('a3', 3), parent: 'a' },
      tab('b', 4),
    ];
    const layouts = {
      splits: {
        a: splitAt(splitAt({ kind: 'pane', key: 'a' }, 'a', 'a2', 'row'), 'a2', 'a3', 'column'),
      },
      focused: { a: 'a3' },
      broadcast: { a: ['a', 'a3'] },
    };
    const w = toStoredWorkspace(tabs, 'a', layouts);
    expect(w.tabs).toHaveLength(2);
    expect(w.tabs[0]).toMatchObject({ id: 'a', title: 'pair', focused: id(3), broadcast: [id(1), id(3)] });
    expect(w.tabs[0]?.root).toEqual({
      kind: 'split',
      direction: 'row',
      ratio: 0.5,
      first: { kind: 'terminal', terminalId: id(1) },
      second: {
        kind: 'split',
        direction: 'column',
        ratio: 0.5,
        first: { kind: 'terminal', terminalId: id(2) },
        second: { kind: 'terminal', terminalId: id(3) },
      },
    });

    const back = tabsFromStored(w, [summary(1), summary(2), summary(3), summary(4)]);
    expect(back.tabs.map((t) => [t.key, t.parent ?? null, t.terminalId])).toEqual([
      ['a', null, id(1)],
      ['a-1', 'a', id(2)],
      ['a-2', 'a', id(3)],
      ['b', null, id(4)],
    ]);
    expect(treeKeys(back.layouts.splits.a as SplitTree)).toEqual(['a', 'a-1', 'a-2']);
    expect(back.layouts.focused.a).toBe('a-2');
    expect(back.layouts.broadcast.a).toEqual(['a', 'a-2']);
    expect(back.activeKey).toBe('a');

    // A terminal the broker forgot closes its pane; a tab left with one pane is no split.
    const lost = tabsFromStored(w, [summary(1), summary(3), summary(4)]);
    expect(lost.tabs.map((t) => t.key)).toEqual(['a', 'a-1', 'b']);
    expect(treeKeys(lost.layouts.splits.a as SplitTree)).toEqual(['a', 'a-1']);
    const alone = tabsFromStored(w, [summary(2)]);
    expect(alone.tabs.map((t) => [t.key, t.parent ?? null])).toEqual([['a', null]]);
    expect(alone.layouts.splits).toEqual({});
  });

  it('splits, removes panes and sets ratios within 0.1–0.9', () => {
    let tree: SplitTree = { kind: 'pane', key: 'a' };
    tree = splitAt(tree, 'a', 'b', 'row');
    tree = splitAt(tree, 'b', 'c', 'column');
    expect(treeKeys(tree)).toEqual(['a', 'b', 'c']);
    tree = setRatio(tree, 's', 0.95);
    expect(tree.kind === 'split' && tree.second.kind === 'split' && tree.second.ratio).toBe(0.9);
    expect(treeKeys(removePane(tree, 'b') as SplitTree)).toEqual(['a', 'c']);
    expect(removePane({ kind: 'pane', key: 'a' }, 'a')).toBeNull();
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

  it('names a tab by the user’s name, else the saved connection, else the window title, else user@host', () => {
    expect(tabName({ title: null, label: 'me@h', windowTitle: 'vim notes.txt' })).toBe('vim notes.txt');
    expect(tabName({ title: null, label: 'db-1', named: true, windowTitle: 'vim' })).toBe('db-1');
    expect(tabName({ title: 'mine', label: 'db-1', named: true, windowTitle: 'vim' })).toBe('mine');
    expect(tabName({ title: null, label: 'me@h', windowTitle: '  ' })).toBe('me@h');
  });

  it('moves a tab, and ignores a move out of range', () => {
    expect(moveTab(['a', 'b', 'c'], 0, 2)).toEqual(['b', 'c', 'a']);
    expect(moveTab(['a', 'b', 'c'], 2, 0)).toEqual(['c', 'a', 'b']);
    expect(moveTab(['a', 'b', 'c'], 1, 5)).toEqual(['a', 'b', 'c']);
  });
});

describe('split panes', () => {
  const three = () => {
    const tabs = [
      tab('x', 9),
      tab('a', 1, 'pair'),
      { ...tab('b', 2), parent: 'a' },
      { ...tab('c', 3), parent: 'a' },
    ];
    const layouts = {
      splits: { a: splitAt(splitAt({ kind: 'pane', key: 'a' }, 'a', 'b', 'row'), 'b', 'c', 'column') },
      focused: { a: 'c' },
      broadcast: { a: ['a', 'c'] },
    };
    return { tabs, layouts, activeKey: 'a' };
  };

  it('lays panes out side by side and stacked, in percent', () => {
    const { layouts } = three();
    const { panes, splits } = layoutBoxes(setRatio(layouts.splits.a as SplitTree, '', 0.25));
    expect(panes).toEqual([
      { key: 'a', box: { x: 0, y: 0, w: 25, h: 100 } },
      { key: 'b', box: { x: 25, y: 0, w: 75, h: 50 } },
      { key: 'c', box: { x: 25, y: 50, w: 75, h: 50 } },
    ]);
    expect(splits.map((s) => [s.path, s.direction])).toEqual([
      ['', 'row'],
      ['s', 'column'],
    ]);
  });

  it('closing a pane closes its split; closing the tab’s own pane hands the tab to the next pane', () => {
    const closedC = closePane(three(), 'c');
    expect(closedC.tabs.map((t) => t.key)).toEqual(['x', 'a', 'b']);
    expect(treeKeys(closedC.layouts.splits.a as SplitTree)).toEqual(['a', 'b']);
    expect(closedC.layouts.focused.a).toBe('a');
    expect(closedC.layouts.broadcast.a).toEqual(['a']);

    const closedA = closePane(three(), 'a');
    expect(closedA.tabs.map((t) => [t.key, t.parent ?? null, t.title])).toEqual([
      ['x', null, null],
      ['b', null, 'pair'],
      ['c', 'b', null],
    ]);
    expect(treeKeys(closedA.layouts.splits.b as SplitTree)).toEqual(['b', 'c']);
    expect(closedA.layouts.splits.a).toBeUndefined();
    expect(closedA.layouts.focused.b).toBe('c');
    expect(closedA.layouts.broadcast.b).toEqual(['c']);
    expect(closedA.activeKey).toBe('b');

    // The last pane of a tab: the tab goes, the next one to its left becomes active.
    const single = closePane({ tabs: [tab('x', 9), tab('y', 8)], layouts: NO_LAYOUTS, activeKey: 'y' }, 'y');
    expect(single.tabs.map((t) => t.key)).toEqual(['x']);
    expect(single.activeKey).toBe('x');
  });
});
