import { paneTerminals, type TerminalSummary, type Workspace, type WorkspaceTab } from '@tether/protocol';
import type { OpenRequest, TerminalStatus } from './terminal-connection';

/** One open tab of the workspace: a terminal (being opened, running, or ended). */
export interface Tab {
  key: string;
  /** What the tab says unless the user named it: the connection's name, or user@host. */
  label: string;
  /** The name the user gave the tab (null: `label`). */
  title: string | null;
  terminalId: string | null;
  /** Credentials are dropped from here once the terminal is running (see onReady). */
  open?: OpenRequest;
  status: TerminalStatus;
  /** Counts Retry/Edit: a new attempt mounts a fresh terminal view. */
  attempt?: number;
}

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
 * may never connect), in order, and the active one when it is among them.
 */
export function toStoredWorkspace(tabs: readonly Tab[], activeKey: string | null): Workspace {
  const stored: WorkspaceTab[] = [];
  const seen = new Set<string>();
  for (const t of tabs) {
    if (!t.terminalId || seen.has(t.terminalId)) continue;
    seen.add(t.terminalId);
    stored.push({
      id: t.key,
      title: t.title,
      root: { kind: 'terminal', terminalId: t.terminalId },
      focused: t.terminalId,
      broadcast: [],
    });
  }
  return {
    tabs: stored,
    activeTabId: stored.some((t) => t.id === activeKey) ? activeKey : null,
  };
}

/**
 * The tabs to reopen after sign-in: each stored tab whose terminal the broker still knows, in
 * the stored order, reattached (running) or shown as ended in its place; a terminal the broker
 * has forgotten is dropped. A stored split (from a later release) opens its panes as tabs, in
 * reading order.
 */
export function tabsFromStored(
  workspace: Workspace,
  terminals: readonly TerminalSummary[],
): { tabs: Tab[]; activeKey: string | null } {
  const byId = new Map(terminals.map((t) => [t.id, t]));
  const tabs: Tab[] = [];
  let activeKey: string | null = null;
  for (const stored of workspace.tabs) {
    const ids = paneTerminals(stored.root);
    ids.forEach((terminalId, i) => {
      const summary = byId.get(terminalId);
      if (!summary) return;
      const key = i === 0 ? stored.id : `${stored.id}-${i}`;
      const ended = summary.status === 'exited' || summary.status === 'lost';
      tabs.push({
        key,
        label: summaryLabel(summary),
        title: i === 0 ? stored.title : null,
        terminalId,
        status: ended ? 'exited' : 'connecting',
      });
      if (stored.id === workspace.activeTabId && activeKey === null) activeKey = key;
    });
  }
  return { tabs, activeKey: activeKey ?? tabs[0]?.key ?? null };
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

/** What a tab says: the user's name for it, else its label. */
export function tabName(t: Pick<Tab, 'title' | 'label'>): string {
  return t.title ?? t.label;
}

/**
 * The names the tab strip shows: a name that several tabs share is numbered from its second
 * use, `db (2)`, `db (3)`, so two tabs on one host can be told apart.
 */
export function displayNames(tabs: ReadonlyArray<Pick<Tab, 'title' | 'label'>>): string[] {
  const count = new Map<string, number>();
  return tabs.map((t) => {
    const name = tabName(t);
    const n = (count.get(name) ?? 0) + 1;
    count.set(name, n);
    return n === 1 ? name : `${name} (${n})`;
  });
}
