import {
  Permission,
  type Profile,
  type SshAuth,
  type TerminalList as TerminalListBody,
  type TerminalSummary,
} from '@tether/protocol';
import { useCallback, useEffect, useRef, useState } from 'react';
import { useAuth } from '../auth/auth-context';
import { ConnectionsPanel } from '../connections/connections-panel';
import { useApiMutation, useApiQuery } from '../lib/queries';
import { CloseTabDialog } from './close-tab-dialog';
import {
  type ConnectionDefaults,
  EMPTY_DEFAULTS,
  editValues,
  NewConnectionDialog,
} from './new-connection-dialog';
import { SplitView } from './split-view';
import { TabStrip } from './tab-strip';
import type { OpenRequest } from './terminal-connection';
import { TerminalList } from './terminal-list';
import { TerminalView } from './terminal-view';
import { useWorkspaceSync } from './use-workspace-sync';
import {
  closePane,
  displayNames,
  moveTab,
  NO_LAYOUTS,
  nextTabKey,
  type SplitTree,
  setRatio,
  splitAt,
  summaryLabel,
  type Tab,
  type TabLayouts,
  tabName,
} from './workspace-layout';
import './terminal-workspace.css';

const POLL_MS = 10_000;

export function TerminalWorkspace({ visible }: { visible: boolean }) {
  const auth = useAuth();
  const [tabs, setTabs] = useState<Tab[]>([]);
  const [activeKey, setActiveKey] = useState<string | null>(null);
  const [layouts, setLayouts] = useState<TabLayouts>(NO_LAYOUTS);
  // A split waiting for its new terminal (the New connection dialog is open for it).
  const [pendingSplit, setPendingSplit] = useState<{
    tabKey: string;
    paneKey: string;
    direction: 'row' | 'column';
  } | null>(null);
  // Each pane's way to be typed into (broadcast input).
  const inputs = useRef(new Map<string, (data: string) => void>());
  const [dialogOpen, setDialogOpen] = useState(false);
  // The tab whose failed attempt is being edited (its form again, as typed).
  const [editingKey, setEditingKey] = useState<string | null>(null);
  // Phones: the sidebar (connections, terminal list) is a sheet over the terminal.
  const [sheetOpen, setSheetOpen] = useState(false);
  // Bumped when a dialog of the workspace closes: the active terminal takes the keyboard back.
  const [focusSeq, setFocusSeq] = useState(0);
  const closeDialog = () => {
    setDialogOpen(false);
    setEditingKey(null);
    setPendingSplit(null);
    setFocusSeq((n) => n + 1);
  };
  const [defaults, setDefaults] = useState<ConnectionDefaults>(EMPTY_DEFAULTS);
  const canConnect = auth.hasPermission(Permission.SSH_CONNECT);

  // Polled while this page is visible and someone is around (useApiQuery), refetched after
  // every change made here.
  const terminalsQuery = useApiQuery<TerminalListBody>('terminals', { pollMs: POLL_MS, enabled: visible });
  const list = terminalsQuery.data?.terminals ?? null;
  const listError = terminalsQuery.error ? 'Could not load terminals.' : null;
  const { refetch } = terminalsQuery;
  const loadList = useCallback(() => refetch(), [refetch]);

  useWorkspaceSync({ tabs, activeKey, layouts, terminals: list, setTabs, setActiveKey, setLayouts });

  const updateTab = useCallback((key: string, patch: Partial<Tab> | ((t: Tab) => Partial<Tab>)) => {
    setTabs((ts) =>
      ts.map((t) => (t.key === key ? { ...t, ...(typeof patch === 'function' ? patch(t) : patch) } : t)),
    );
  }, []);

  /** Every new terminal goes through here: the New connection dialog and saved connections. */
  const openTab = (request: OpenRequest, label: string, named = false) => {
    const key = nextTabKey();
    setSheetOpen(false);
    if (pendingSplit) {
      // A split: the new terminal joins the tab beside (or below) the pane it was split from.
      const { tabKey, paneKey, direction } = pendingSplit;
      setPendingSplit(null);
      setTabs((ts) => [
        ...ts,
        {
          key,
          label,
          named,
          title: null,
          terminalId: null,
          open: request,
          status: 'connecting',
          parent: tabKey,
        },
      ]);
      setLayouts((l) => ({
        ...l,
        splits: {
          ...l.splits,
          [tabKey]: splitAt(l.splits[tabKey] ?? { kind: 'pane', key: tabKey }, paneKey, key, direction),
        },
        focused: { ...l.focused, [tabKey]: key },
      }));
      setActiveKey(tabKey);
      return;
    }
    setTabs((ts) => [
      ...ts,
      { key, label, named, title: null, terminalId: null, open: request, status: 'connecting' },
    ]);
    setActiveKey(key);
  };

  const openNew = (request: OpenRequest, remembered: ConnectionDefaults) => {
    setDefaults(remembered);
    setDialogOpen(false);
    const label =
      'target' in request
        ? `${request.target.username}@${request.target.host}${request.target.port === 22 ? '' : `:${request.target.port}`}`
        : 'profile';
    if (editingKey) {
      // The edited attempt goes again in its own tab.
      updateTab(editingKey, (t) => ({
        open: request,
        label,
        status: 'connecting',
        attempt: (t.attempt ?? 0) + 1,
      }));
      setActiveKey(editingKey);
      setEditingKey(null);
      return;
    }
    openTab(request, label);
  };

  const retry = (key: string) =>
    updateTab(key, (t) => ({ status: 'connecting', attempt: (t.attempt ?? 0) + 1 }));
  const editing = tabs.find((t) => t.key === editingKey)?.open;

  const openProfile = (profile: Profile, sshAuth: SshAuth | undefined) => {
    openTab({ profileId: profile.id, ...(sshAuth ? { auth: sshAuth } : {}) }, profile.name, true);
  };

  const attach = (t: TerminalSummary) => {
    const existing = tabs.find(
      (tab) => tab.terminalId === t.id && tab.status !== 'error' && tab.status !== 'exited',
    );
    setSheetOpen(false);
    if (existing) {
      const tabKey = existing.parent ?? existing.key;
      setActiveKey(tabKey);
      if (existing.parent) setLayouts((l) => ({ ...l, focused: { ...l.focused, [tabKey]: existing.key } }));
      return;
    }
    const key = nextTabKey();
    setTabs((ts) => [
      ...ts.filter((tab) => tab.terminalId !== t.id),
      {
        key,
        label: summaryLabel(t),
        named: !!t.title,
        title: null,
        terminalId: t.id,
        status: 'connecting',
      },
    ]);
    setActiveKey(key);
  };

  /** Closes a tab with all its panes (the terminals keep running). */
  const closeTab = (key: string) => {
    const top = tabs.filter((t) => !t.parent);
    const i = top.findIndex((t) => t.key === key);
    const rest = top.filter((t) => t.key !== key);
    if (activeKey === key) setActiveKey(rest[Math.min(i, rest.length - 1)]?.key ?? null);
    setTabs((ts) => ts.filter((t) => t.key !== key && t.parent !== key));
    setLayouts((l) => {
      const { [key]: _a, ...splits } = l.splits;
      const { [key]: _b, ...focused } = l.focused;
      const { [key]: _c, ...broadcast } = l.broadcast;
      return { splits, focused, broadcast };
    });
    void loadList();
  };

  // A tab or pane with a running terminal asks before it closes (CloseTabDialog).
  const [closing, setClosing] = useState<{ key: string; pane: boolean } | null>(null);
  /** The running terminals a close would leave: the pane's, or every pane's of the tab. */
  const runningIn = (key: string, pane: boolean) =>
    tabs.filter(
      (t) =>
        (t.key === key || (!pane && t.parent === key)) &&
        t.terminalId &&
        t.status !== 'exited' &&
        t.status !== 'error',
    );
  const askClose = (key: string, pane: boolean) => {
    if (runningIn(key, pane).length > 0) setClosing({ key, pane });
    else if (pane) closeOne(key);
    else closeTab(key);
  };
  /** As the strip shows it (numbered) for a tab; its own name for a pane. */
  const closingName = ({ key, pane }: { key: string; pane: boolean }) => {
    if (!pane) return displayNames(stripTabs)[stripTabs.findIndex((t) => t.key === key)] ?? '';
    const t = tabs.find((x) => x.key === key);
    return t ? tabName(t) : '';
  };
  const closeAsked = () => {
    setClosing(null);
    setFocusSeq((n) => n + 1);
  };

  /** Closes one pane: a split pane, or (a tab of one pane) its tab. */
  const closeOne = (key: string) => {
    const next = closePane({ tabs, layouts, activeKey }, key);
    setTabs(next.tabs);
    setLayouts(next.layouts);
    setActiveKey(next.activeKey);
    void loadList();
  };

  const startSplit = (tabKey: string, paneKey: string, direction: 'row' | 'column') => {
    setPendingSplit({ tabKey, paneKey, direction });
    setDialogOpen(true);
  };

  const toggleBroadcast = (tabKey: string, paneKey: string) =>
    setLayouts((l) => {
      const now = l.broadcast[tabKey] ?? [];
      const next = now.includes(paneKey) ? now.filter((k) => k !== paneKey) : [...now, paneKey];
      const { [tabKey]: _, ...others } = l.broadcast;
      return { ...l, broadcast: next.length > 0 ? { ...others, [tabKey]: next } : others };
    });

  /** Typed into a broadcasting pane: the same keys to the tab's other broadcasting panes. */
  const broadcastFrom = (tabKey: string, paneKey: string, data: string) => {
    for (const k of layouts.broadcast[tabKey] ?? []) if (k !== paneKey) inputs.current.get(k)?.(data);
  };

  const endTerminal = useApiMutation((api, id: string) => api.del(`terminals/${id}`));
  // A failure needs no message of its own: the list, refetched either way, shows the truth.
  const endFromList = (t: TerminalSummary) => endTerminal.mutate(t.id, { onSettled: () => void loadList() });
  // Alt+Shift+N opens the dialog from anywhere in the workspace (terminals keep Ctrl shortcuts).
  useEffect(() => {
    if (!visible || !canConnect) return;
    const onKey = (e: globalThis.KeyboardEvent) => {
      if (!(e.altKey && e.shiftKey && !e.ctrlKey && !e.metaKey)) return;
      if (e.code === 'KeyN') {
        // Captured before xterm sees it: the shortcut must not also send ESC N to the remote.
        e.preventDefault();
        e.stopPropagation();
        setDialogOpen(true);
      } else if (e.key.startsWith('Arrow')) {
        // Alt+Shift+arrow: the keyboard to the next pane that way (nothing reaches the remote).
        e.preventDefault();
        e.stopPropagation();
        focusNeighbour(e.key);
      }
    };
    window.addEventListener('keydown', onKey, true);
    return () => window.removeEventListener('keydown', onKey, true);
  });

  /** The pane beside the focused one in the direction of `arrow`, by where they are drawn. */
  const focusNeighbour = (arrow: string) => {
    if (!activeKey) return;
    const from = layouts.focused[activeKey] ?? activeKey;
    const boxes = [
      ...document.querySelectorAll<HTMLElement>(`[data-tab-key="${CSS.escape(activeKey)}"] .split-pane`),
    ].map((el) => ({ key: el.dataset.paneKey ?? '', r: el.getBoundingClientRect() }));
    const here = boxes.find((b) => b.key === from)?.r;
    if (!here) return;
    const cx = (r: DOMRect) => r.left + r.width / 2;
    const cy = (r: DOMRect) => r.top + r.height / 2;
    const ahead = boxes.filter(({ key, r }) => {
      if (key === from) return false;
      if (arrow === 'ArrowRight') return r.left >= here.right - 1;
      if (arrow === 'ArrowLeft') return r.right <= here.left + 1;
      if (arrow === 'ArrowDown') return r.top >= here.bottom - 1;
      return r.bottom <= here.top + 1;
    });
    const dist = (r: DOMRect) => Math.hypot(cx(r) - cx(here), cy(r) - cy(here));
    const best = ahead.sort((a, b) => dist(a.r) - dist(b.r))[0];
    if (best) {
      setLayouts((l) => ({ ...l, focused: { ...l.focused, [activeKey]: best.key } }));
      setFocusSeq((n) => n + 1);
    }
  };

  const openHere = new Set(tabs.filter((t) => t.terminalId).map((t) => t.terminalId));
  const stripTabs = tabs.filter((t) => !t.parent);

  return (
    <div className={`workspace ${sheetOpen ? 'sheet-open' : ''}`} hidden={!visible}>
      <div className="sidebar" id="workspace-sidebar">
        <ConnectionsPanel visible={visible} canConnect={canConnect} onOpen={openProfile} />
        <TerminalList
          terminals={list}
          error={listError}
          openHere={openHere}
          canConnect={canConnect}
          onNew={() => setDialogOpen(true)}
          onAttach={attach}
          onEnd={endFromList}
        />
      </div>

      <section className="term-main" aria-label="Open terminals">
        {tabs.length > 0 && (
          <TabStrip
            tabs={stripTabs}
            activeKey={activeKey}
            onSelect={setActiveKey}
            onClose={(key) => askClose(key, false)}
            onMove={(from, to) =>
              setTabs((ts) => {
                const moved = moveTab(
                  ts.filter((t) => !t.parent),
                  from,
                  to,
                );
                return moved.flatMap((t) => [t, ...ts.filter((c) => c.parent === t.key)]);
              })
            }
            onRename={(key, title) => updateTab(key, { title })}
          />
        )}
        {tabs.length === 0 && (
          <div className="empty">
            <p>No terminal open.</p>
            <p className="muted">
              {canConnect
                ? 'Start a new connection, or reattach a running terminal from the list.'
                : 'You are not allowed to open terminals.'}
            </p>
            {canConnect && (
              <button type="button" className="btn btn-primary" onClick={() => setDialogOpen(true)}>
                New connection
              </button>
            )}
          </div>
        )}
        {stripTabs.map((tab) => {
          const tree: SplitTree = layouts.splits[tab.key] ?? { kind: 'pane', key: tab.key };
          const split = tree.kind === 'split';
          const focusedKey = layouts.focused[tab.key] ?? tab.key;
          const cast = layouts.broadcast[tab.key] ?? [];
          return (
            <div
              key={tab.key}
              id={`${tab.key}-panel`}
              role="tabpanel"
              aria-labelledby={`${tab.key}-tab`}
              className="tab-panel"
              data-tab-key={tab.key}
              hidden={tab.key !== activeKey}
            >
              <SplitView
                tree={tree}
                focused={focusedKey}
                onRatio={(path, ratio) =>
                  setLayouts((l) => ({
                    ...l,
                    splits: { ...l.splits, [tab.key]: setRatio(l.splits[tab.key] ?? tree, path, ratio) },
                  }))
                }
                renderPane={(paneKey) => {
                  const t = tabs.find((x) => x.key === paneKey);
                  if (!t) return null;
                  return (
                    <TerminalView
                      key={`${t.key}:${t.attempt ?? 0}`}
                      request={
                        t.terminalId && !t.open
                          ? { terminalId: t.terminalId }
                          : t.open
                            ? { open: t.open }
                            : {}
                      }
                      label={tabName(t)}
                      active={visible && tab.key === activeKey && focusedKey === t.key}
                      focusSeq={focusSeq}
                      onStatus={(status) => updateTab(t.key, { status })}
                      onReady={(info) => {
                        updateTab(t.key, { terminalId: info.terminalId, open: undefined });
                        void loadList();
                      }}
                      onEnded={() => void loadList()}
                      onDetached={() => void loadList()}
                      onWindowTitle={(windowTitle) => updateTab(t.key, { windowTitle })}
                      onClose={() => closeOne(t.key)}
                      onRetry={() => retry(t.key)}
                      onEdit={t.open && 'target' in t.open ? () => setEditingKey(t.key) : undefined}
                      onFocus={() => {
                        if (focusedKey !== t.key)
                          setLayouts((l) => ({ ...l, focused: { ...l.focused, [tab.key]: t.key } }));
                      }}
                      onSplit={canConnect ? (direction) => startSplit(tab.key, t.key, direction) : undefined}
                      onClosePane={split ? () => askClose(t.key, true) : undefined}
                      broadcasting={split && cast.includes(t.key)}
                      onToggleBroadcast={split ? () => toggleBroadcast(tab.key, t.key) : undefined}
                      onBroadcastInput={(data) => broadcastFrom(tab.key, t.key, data)}
                      registerInput={(send) => {
                        if (send) inputs.current.set(t.key, send);
                        else inputs.current.delete(t.key);
                      }}
                    />
                  );
                }}
              />
            </div>
          );
        })}
      </section>

      <nav className="workspace-bar" aria-label="Workspace">
        <button
          type="button"
          className="btn btn-ghost"
          aria-expanded={sheetOpen}
          aria-controls="workspace-sidebar"
          onClick={() => setSheetOpen((o) => !o)}
        >
          {sheetOpen ? 'Close' : 'Connections'}
        </button>
        {canConnect && (
          <button
            type="button"
            className="btn btn-primary"
            onClick={() => {
              setSheetOpen(false);
              setDialogOpen(true);
            }}
          >
            New connection
          </button>
        )}
      </nav>

      {closing && (
        <CloseTabDialog
          name={closingName(closing)}
          pane={closing.pane}
          running={runningIn(closing.key, closing.pane).length}
          onClose={() => {
            if (closing.pane) closeOne(closing.key);
            else closeTab(closing.key);
            closeAsked();
          }}
          onEnd={async () => {
            for (const t of runningIn(closing.key, closing.pane))
              if (t.terminalId) await endTerminal.mutateAsync(t.terminalId);
            if (closing.pane) closeOne(closing.key);
            else closeTab(closing.key);
            closeAsked();
          }}
          onCancel={closeAsked}
        />
      )}

      {(dialogOpen || editing) && (
        <NewConnectionDialog
          defaults={defaults}
          editing={editing ? (editValues(editing) ?? undefined) : undefined}
          onConnect={openNew}
          onCancel={closeDialog}
        />
      )}
    </div>
  );
}
