import type { Pane, TerminalSummary, Workspace, WorkspaceTab } from '@tether/protocol';
import type { OpenRequest, TerminalStatus } from './terminal-connection';

/** One open tab of the workspace: a terminal (being opened, running, or ended). */
export interface Tab {
  key: string;
  /** What the tab says unless the user named it: the connection's name, or user@host. */
  label: string;
  /** The name the user gave the tab (null: `label`). */
  title: string | null;
  /** `label` is a saved connection's name (it wins over the window title). */
  named?: boolean;
  /** The title the remote program set (OSC 0/2), e.g. vim's file or the shell's cwd. */
  windowTitle?: string;
  terminalId: string | null;
  /** Credentials are dropped from here once the terminal is running (see onReady). */
  open?: OpenRequest;
  status: TerminalStatus;
  /** Counts Retry/Edit: a new attempt mounts a fresh terminal view. */
  attempt?: number;
  /** A pane split off another tab: that tab's key (such a pane is not in the tab strip). */
  parent?: string;
}

/** How the tabs are arranged beyond their order: splits, the focused pane, broadcast panes. */
export interface TabLayouts {
  /** A tab's split tree of pane keys (absent: the tab is one pane). */
  splits: Record<string, SplitTree>;
  /** A split tab's pane with the keyboard. */
  focused: Record<string, string>;
  /** A tab's panes that receive typed input together. */
  broadcast: Record<string, string[]>;
}

export const NO_LAYOUTS: TabLayouts = { splits: {}, focused: {}, broadcast: {} };

let tabSeq = 0;
/** A tab key unique in this page and unlike any restored one (`tab-…` from another page load). */
export function nextTabKey(): string {
  tabSeq += 1;
  return `tab-${Date.now().toString(36)}-${tabSeq}`;
}

export function summaryLabel(t: Pick<TerminalSummary, 'title' | 'username' | 'host' | 'port'>): string {
  return t.title || `${t.username}@${t.host}${t.port === 22 ? '' : `:${t.port}`}`;
}

/**
 * What the broker stores: the tabs whose terminal exists (one still connecting is not saved: it
 * may never connect), in order, with their splits, and the active one when it is among them.
 */
export function toStoredWorkspace(
  tabs: readonly Tab[],
  activeKey: string | null,
  layouts: TabLayouts = NO_LAYOUTS,
): Workspace {
  const byKey = new Map(tabs.map((t) => [t.key, t]));
  const stored: WorkspaceTab[] = [];
  const seen = new Set<string>();
  for (const t of tabs) {
    if (t.parent) continue;
    let tree: SplitTree | null = layouts.splits[t.key] ?? { kind: 'pane', key: t.key };
    for (const key of treeKeys(tree)) {
      const id = byKey.get(key)?.terminalId;
      if (!id || seen.has(id)) tree = tree && removePane(tree, key);
      else seen.add(id);
    }
    if (!tree) continue;
    const idOf = (key: string) => byKey.get(key)?.terminalId as string;
    const focusedKey = layouts.focused[t.key];
    const keys = treeKeys(tree);
    stored.push({
      id: t.key,
      title: t.title,
      root: toPane(tree, idOf),
      focused: idOf(focusedKey && keys.includes(focusedKey) ? focusedKey : (keys[0] as string)),
      broadcast: (layouts.broadcast[t.key] ?? []).filter((k) => keys.includes(k)).map(idOf),
    });
  }
  return {
    tabs: stored,
    activeTabId: stored.some((t) => t.id === activeKey) ? activeKey : null,
  };
}

function toPane(tree: SplitTree, idOf: (key: string) => string): Pane {
  return tree.kind === 'pane'
    ? { kind: 'terminal', terminalId: idOf(tree.key) }
    : { ...tree, first: toPane(tree.first, idOf), second: toPane(tree.second, idOf) };
}

/**
 * The tabs to reopen after sign-in: each stored tab whose terminals the broker still knows, in
 * the stored order and split as stored, reattached (running) or shown as ended in their place;
 * a terminal the broker has forgotten is dropped (its split closes).
 */
export function tabsFromStored(
  workspace: Workspace,
  terminals: readonly TerminalSummary[],
): { tabs: Tab[]; activeKey: string | null; layouts: TabLayouts } {
  const byId = new Map(terminals.map((t) => [t.id, t]));
  const tabs: Tab[] = [];
  const layouts: TabLayouts = { splits: {}, focused: {}, broadcast: {} };
  let activeKey: string | null = null;
  for (const stored of workspace.tabs) {
    let n = 0;
    const keyOf = new Map<string, string>();
    const toTree = (pane: Pane): SplitTree | null => {
      if (pane.kind === 'split') {
        const first = toTree(pane.first);
        const second = toTree(pane.second);
        if (!first || !second) return first ?? second;
        return { kind: 'split', direction: pane.direction, ratio: pane.ratio, first, second };
      }
      const summary = byId.get(pane.terminalId);
      if (!summary) return null;
      const key = n === 0 ? stored.id : `${stored.id}-${n}`;
      n += 1;
      keyOf.set(pane.terminalId, key);
      const ended = summary.status === 'exited' || summary.status === 'lost';
      tabs.push({
        key,
        label: summaryLabel(summary),
        named: !!summary.title,
        title: key === stored.id ? stored.title : null,
        terminalId: pane.terminalId,
        status: ended ? 'exited' : 'connecting',
        ...(key === stored.id ? {} : { parent: stored.id }),
      });
      return { kind: 'pane', key };
    };
    const tree = toTree(stored.root);
    if (!tree) continue;
    if (tree.kind === 'split') layouts.splits[stored.id] = tree;
    const focused = stored.focused ? keyOf.get(stored.focused) : undefined;
    if (focused) layouts.focused[stored.id] = focused;
    const broadcast = stored.broadcast.map((id) => keyOf.get(id)).filter((k): k is string => !!k);
    if (broadcast.length > 0) layouts.broadcast[stored.id] = broadcast;
    if (stored.id === workspace.activeTabId) activeKey = stored.id;
  }
  const first = tabs.find((t) => !t.parent);
  return { tabs, activeKey: activeKey ?? first?.key ?? null, layouts };
}

/** Restored tabs first, then any opened meanwhile (a terminal in both stays where it was stored). */
export function mergeRestored(restored: readonly Tab[], current: readonly Tab[]): Tab[] {
  const restoredIds = new Set(restored.map((t) => t.terminalId));
  return [...restored, ...current.filter((t) => !t.terminalId || !restoredIds.has(t.terminalId))];
}

/** The tab list with `from` moved to `to` (indices; out-of-range moves change nothing). */
export function moveTab<T>(tabs: readonly T[], from: number, to: number): T[] {
  if (from === to || from < 0 || to < 0 || from >= tabs.length || to >= tabs.length) return [...tabs];
  const next = [...tabs];
  const [moved] = next.splice(from, 1);
  next.splice(to, 0, moved as T);
  return next;
}

/**
 * What a tab says: the user's name for it, else the saved connection's name, else the title the
 * remote program set, else user@host.
 */
export function tabName(t: Pick<Tab, 'title' | 'label' | 'named' | 'windowTitle'>): string {
  return t.title ?? (t.named ? t.label : t.windowTitle?.trim() || t.label);
}

/**
 * The names the tab strip shows: a name that several tabs share is numbered from its second
 * use, `db (2)`, `db (3)`, so two tabs on one host can be told apart.
 */
export function displayNames(
  tabs: ReadonlyArray<Pick<Tab, 'title' | 'label' | 'named' | 'windowTitle'>>,
): string[] {
  const count = new Map<string, number>();
  return tabs.map((t) => {
    const name = tabName(t);
    const n = (count.get(name) ?? 0) + 1;
    count.set(name, n);
    return n === 1 ? name : `${name} (${n})`;
  });
}

// ── split panes ──────────────────────────────────────────────────────────────
// A tab can hold several panes: its first pane is the tab (in the strip); the others are tabs
// with a `parent` (not in the strip), placed by the tab's split tree of pane keys.

/** A split tree of pane keys (the protocol's Pane, by the web app's keys). */
export type SplitTree =
  | { kind: 'pane'; key: string }
  | { kind: 'split'; direction: 'row' | 'column'; ratio: number; first: SplitTree; second: SplitTree };

/** The pane keys of a tree in reading order. */
export function treeKeys(tree: SplitTree): string[] {
  return tree.kind === 'pane' ? [tree.key] : [...treeKeys(tree.first), ...treeKeys(tree.second)];
}

/** `tree` with the pane `at` split in two: `at` first, `added` second. */
export function splitAt(tree: SplitTree, at: string, added: string, direction: 'row' | 'column'): SplitTree {
  if (tree.kind === 'pane')
    return tree.key === at
      ? { kind: 'split', direction, ratio: 0.5, first: tree, second: { kind: 'pane', key: added } }
      : tree;
  return {
    ...tree,
    first: splitAt(tree.first, at, added, direction),
    second: splitAt(tree.second, at, added, direction),
  };
}

/** `tree` without the pane `key` (its sibling takes the split's place); null when nothing is left. */
export function removePane(tree: SplitTree, key: string): SplitTree | null {
  if (tree.kind === 'pane') return tree.key === key ? null : tree;
  const first = removePane(tree.first, key);
  const second = removePane(tree.second, key);
  if (!first) return second;
  if (!second) return first;
  return { ...tree, first, second };
}

/** `tree` with the split at `path` (a string of `f`/`s` steps from the root) set to `ratio`. */
export function setRatio(tree: SplitTree, path: string, ratio: number): SplitTree {
  if (tree.kind === 'pane') return tree;
  const clamped = Math.min(0.9, Math.max(0.1, ratio));
  if (path === '') return { ...tree, ratio: clamped };
  const [step, rest] = [path[0], path.slice(1)];
  return step === 'f'
    ? { ...tree, first: setRatio(tree.first, rest, ratio) }
    : { ...tree, second: setRatio(tree.second, rest, ratio) };
}

/** A box in percent of the tab's area. */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * Where each pane sits (percent boxes), and each split's box with its path, for drawing panes
 * side by side without moving them in the DOM (a terminal is never remounted by a new split).
 */
export function layoutBoxes(
  tree: SplitTree,
  box: Box = { x: 0, y: 0, w: 100, h: 100 },
  path = '',
): {
  panes: Array<{ key: string; box: Box }>;
  splits: Array<{ path: string; direction: 'row' | 'column'; ratio: number; box: Box }>;
} {
  if (tree.kind === 'pane') return { panes: [{ key: tree.key, box }], splits: [] };
  const firstBox =
    tree.direction === 'row' ? { ...box, w: box.w * tree.ratio } : { ...box, h: box.h * tree.ratio };
  const secondBox =
    tree.direction === 'row'
      ? { ...box, x: box.x + firstBox.w, w: box.w - firstBox.w }
      : { ...box, y: box.y + firstBox.h, h: box.h - firstBox.h };
  const a = layoutBoxes(tree.first, firstBox, `${path}f`);
  const b = layoutBoxes(tree.second, secondBox, `${path}s`);
  return {
    panes: [...a.panes, ...b.panes],
    splits: [{ path, direction: tree.direction, ratio: tree.ratio, box }, ...a.splits, ...b.splits],
  };
}

/**
 * Closes one pane of a tab (its terminal keeps running). Closing a split tab's own pane hands the
 * tab (its place in the strip, its name, its splits) to the next pane.
 */
export function closePane(
  state: { tabs: readonly Tab[]; layouts: TabLayouts; activeKey: string | null },
  key: string,
): { tabs: Tab[]; layouts: TabLayouts; activeKey: string | null } {
  const pane = state.tabs.find((t) => t.key === key);
  if (!pane) return { ...state, tabs: [...state.tabs] };
  const tabKey = pane.parent ?? pane.key;
  const tree = state.layouts.splits[tabKey];
  const rest = tree ? removePane(tree, key) : null;
  const { [tabKey]: _s, ...splits } = state.layouts.splits;
  const { [tabKey]: focusedKey, ...focused } = state.layouts.focused;
  const { [tabKey]: cast = [], ...broadcast } = state.layouts.broadcast;
  if (!rest) {
    // The tab's last pane: the tab goes (at the place of the strip it had).
    const top = state.tabs.filter((t) => !t.parent);
    const i = top.findIndex((t) => t.key === tabKey);
    const left = top.filter((t) => t.key !== tabKey);
    const activeKey =
      state.activeKey === tabKey ? (left[Math.min(i, left.length - 1)]?.key ?? null) : state.activeKey;
    return {
      tabs: state.tabs.filter((t) => t.key !== key),
      layouts: { splits, focused, broadcast },
      activeKey,
    };
  }
  const keys = treeKeys(rest);
  const newTop = key === tabKey ? (keys[0] as string) : tabKey;
  const reKey = (k: string) => (k === tabKey ? newTop : k);
  const tabs = state.tabs
    .filter((t) => t.key !== key)
    .map((t) => {
      if (t.key === newTop && newTop !== tabKey) {
        const { parent: _p, ...top } = t;
        return { ...top, title: pane.title ?? t.title };
      }
      return t.parent === tabKey ? { ...t, parent: newTop } : t;
    });
  // The new tab's pane takes the old one's place in the strip.
  if (newTop !== tabKey) {
    const at = tabs.findIndex((t) => t.key === newTop);
    const [moved] = tabs.splice(at, 1);
    const origin = state.tabs.findIndex((t) => t.key === key);
    tabs.splice(Math.min(origin, tabs.length), 0, moved as Tab);
  }
  const nextFocus = focusedKey && focusedKey !== key ? focusedKey : keys[0];
  const nextCast = cast.filter((k) => k !== key);
  return {
    tabs,
    layouts: {
      splits: rest.kind === 'split' ? { ...splits, [newTop]: rest } : splits,
      focused: nextFocus ? { ...focused, [newTop]: reKey(nextFocus) } : focused,
      broadcast: nextCast.length > 0 ? { ...broadcast, [newTop]: nextCast.map(reKey) } : broadcast,
    },
    activeKey: state.activeKey === tabKey ? newTop : state.activeKey,
  };
}
