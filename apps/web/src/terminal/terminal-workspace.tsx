import {
  Permission,
  type Profile,
  type SshAuth,
  type TerminalList as TerminalListBody,
  type TerminalSummary,
} from '@tether/protocol';
import { useCallback, useEffect, useState } from 'react';
import { useAuth } from '../auth/auth-context';
import { ConnectionsPanel } from '../connections/connections-panel';
import { useApiMutation, useApiQuery } from '../lib/queries';
import {
  type ConnectionDefaults,
  EMPTY_DEFAULTS,
  editValues,
  NewConnectionDialog,
} from './new-connection-dialog';
import { TabStrip } from './tab-strip';
import type { OpenRequest } from './terminal-connection';
import { TerminalList } from './terminal-list';
import { TerminalView } from './terminal-view';
import { useWorkspaceSync } from './use-workspace-sync';
import { moveTab, nextTabKey, summaryLabel, type Tab, tabName } from './workspace-layout';
import './terminal-workspace.css';

const POLL_MS = 10_000;

export function TerminalWorkspace({ visible }: { visible: boolean }) {
  const auth = useAuth();
  const [tabs, setTabs] = useState<Tab[]>([]);
  const [activeKey, setActiveKey] = useState<string | null>(null);
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

  useWorkspaceSync({ tabs, activeKey, terminals: list, setTabs, setActiveKey });

  const updateTab = useCallback((key: string, patch: Partial<Tab> | ((t: Tab) => Partial<Tab>)) => {
    setTabs((ts) =>
      ts.map((t) => (t.key === key ? { ...t, ...(typeof patch === 'function' ? patch(t) : patch) } : t)),
    );
  }, []);

  /** Every new terminal goes through here: the New connection dialog and saved connections. */
  const openTab = (request: OpenRequest, label: string) => {
    const key = nextTabKey();
    setTabs((ts) => [
      ...ts,
      { key, label, title: null, terminalId: null, open: request, status: 'connecting' },
    ]);
    setActiveKey(key);
    setSheetOpen(false);
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
    openTab({ profileId: profile.id, ...(sshAuth ? { auth: sshAuth } : {}) }, profile.name);
  };

  const attach = (t: TerminalSummary) => {
    const existing = tabs.find(
      (tab) => tab.terminalId === t.id && tab.status !== 'error' && tab.status !== 'exited',
    );
    setSheetOpen(false);
    if (existing) {
      setActiveKey(existing.key);
      return;
    }
    const key = nextTabKey();
    setTabs((ts) => [
      ...ts.filter((tab) => tab.terminalId !== t.id),
      { key, label: summaryLabel(t), title: null, terminalId: t.id, status: 'connecting' },
    ]);
    setActiveKey(key);
  };

  const closeTab = (key: string) => {
    const i = tabs.findIndex((t) => t.key === key);
    const rest = tabs.filter((t) => t.key !== key);
    if (activeKey === key) setActiveKey(rest[Math.min(i, rest.length - 1)]?.key ?? null);
    setTabs((ts) => ts.filter((t) => t.key !== key));
    void loadList();
  };

  const endTerminal = useApiMutation((api, id: string) => api.del(`terminals/${id}`));
  // A failure needs no message of its own: the list, refetched either way, shows the truth.
  const endFromList = (t: TerminalSummary) => endTerminal.mutate(t.id, { onSettled: () => void loadList() });
  // Alt+Shift+N opens the dialog from anywhere in the workspace (terminals keep Ctrl shortcuts).
  useEffect(() => {
    if (!visible || !canConnect) return;
    const onKey = (e: globalThis.KeyboardEvent) => {
      if (e.altKey && e.shiftKey && !e.ctrlKey && !e.metaKey && e.code === 'KeyN') {
        // Captured before xterm sees it: the shortcut must not also send ESC N to the remote.
        e.preventDefault();
        e.stopPropagation();
        setDialogOpen(true);
      }
    };
    window.addEventListener('keydown', onKey, true);
    return () => window.removeEventListener('keydown', onKey, true);
  }, [visible, canConnect]);

  const openHere = new Set(tabs.filter((t) => t.terminalId).map((t) => t.terminalId));

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
            tabs={tabs}
            activeKey={activeKey}
            onSelect={setActiveKey}
            onClose={closeTab}
            onMove={(from, to) => setTabs((ts) => moveTab(ts, from, to))}
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
        {tabs.map((t) => (
          <div
            key={`${t.key}:${t.attempt ?? 0}`}
            id={`${t.key}-panel`}
            role="tabpanel"
            aria-labelledby={`${t.key}-tab`}
            className="tab-panel"
            hidden={t.key !== activeKey}
          >
            <TerminalView
              request={
                t.terminalId && !t.open ? { terminalId: t.terminalId } : t.open ? { open: t.open } : {}
              }
              label={tabName(t)}
              active={visible && t.key === activeKey}
              focusSeq={focusSeq}
              onStatus={(status) => updateTab(t.key, { status })}
              onReady={(info) => {
                updateTab(t.key, { terminalId: info.terminalId, open: undefined });
                void loadList();
              }}
              onEnded={() => void loadList()}
              onClose={() => closeTab(t.key)}
              onRetry={() => retry(t.key)}
              onEdit={t.open && 'target' in t.open ? () => setEditingKey(t.key) : undefined}
            />
          </div>
        ))}
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
