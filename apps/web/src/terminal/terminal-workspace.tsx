import {
  Permission,
  type Profile,
  type SshAuth,
  type TerminalList as TerminalListBody,
  type TerminalSummary,
} from '@tether/protocol';
import { type KeyboardEvent, useCallback, useEffect, useRef, useState } from 'react';
import { useAuth } from '../auth/auth-context';
import { ConnectionsPanel } from '../connections/connections-panel';
import { useApiMutation, useApiQuery } from '../lib/queries';
import { type ConnectionDefaults, EMPTY_DEFAULTS, NewConnectionDialog } from './new-connection-dialog';
import type { OpenRequest, TerminalStatus } from './terminal-connection';
import { summaryLabel, TerminalList } from './terminal-list';
import { TerminalView } from './terminal-view';
import './terminal-workspace.css';

interface Tab {
  key: string;
  label: string;
  terminalId: string | null;
  /** Credentials are dropped from here once the terminal is running (see onReady). */
  open?: OpenRequest;
  status: TerminalStatus;
}

const POLL_MS = 10_000;

let tabSeq = 0;
function nextKey(): string {
  tabSeq += 1;
  return `tab-${tabSeq}`;
}

export function TerminalWorkspace({ visible }: { visible: boolean }) {
  const auth = useAuth();
  const [tabs, setTabs] = useState<Tab[]>([]);
  const [activeKey, setActiveKey] = useState<string | null>(null);
  const [dialogOpen, setDialogOpen] = useState(false);
  const [defaults, setDefaults] = useState<ConnectionDefaults>(EMPTY_DEFAULTS);
  const tabRefs = useRef(new Map<string, HTMLButtonElement>());
  const canConnect = auth.hasPermission(Permission.SSH_CONNECT);

  // Polled while this page is visible and someone is around (useApiQuery), refetched after
  // every change made here.
  const terminalsQuery = useApiQuery<TerminalListBody>('terminals', { pollMs: POLL_MS, enabled: visible });
  const list = terminalsQuery.data?.terminals ?? null;
  const listError = terminalsQuery.error ? 'Could not load terminals.' : null;
  const { refetch } = terminalsQuery;
  const loadList = useCallback(() => refetch(), [refetch]);

  const updateTab = useCallback((key: string, patch: Partial<Tab> | ((t: Tab) => Partial<Tab>)) => {
    setTabs((ts) =>
      ts.map((t) => (t.key === key ? { ...t, ...(typeof patch === 'function' ? patch(t) : patch) } : t)),
    );
  }, []);

  /** Every new terminal goes through here: the New connection dialog and saved connections. */
  const openTab = (request: OpenRequest, label: string) => {
    const key = nextKey();
    setTabs((ts) => [...ts, { key, label, terminalId: null, open: request, status: 'connecting' }]);
    setActiveKey(key);
  };

  const openNew = (request: OpenRequest, remembered: ConnectionDefaults) => {
    setDefaults(remembered);
    setDialogOpen(false);
    const label =
      'target' in request
        ? `${request.target.username}@${request.target.host}${request.target.port === 22 ? '' : `:${request.target.port}`}`
        : 'profile';
    openTab(request, label);
  };

  const openProfile = (profile: Profile, sshAuth: SshAuth | undefined) => {
    openTab({ profileId: profile.id, ...(sshAuth ? { auth: sshAuth } : {}) }, profile.name);
  };

  const attach = (t: TerminalSummary) => {
    const existing = tabs.find(
      (tab) => tab.terminalId === t.id && tab.status !== 'error' && tab.status !== 'exited',
    );
    if (existing) {
      setActiveKey(existing.key);
      return;
    }
    const key = nextKey();
    setTabs((ts) => [
      ...ts.filter((tab) => tab.terminalId !== t.id),
      { key, label: summaryLabel(t), terminalId: t.id, status: 'connecting' },
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
  const onTabKey = (e: KeyboardEvent<HTMLButtonElement>, index: number) => {
    let next = -1;
    if (e.key === 'ArrowRight') next = (index + 1) % tabs.length;
    else if (e.key === 'ArrowLeft') next = (index - 1 + tabs.length) % tabs.length;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = tabs.length - 1;
    else if (e.key === 'Delete') {
      e.preventDefault();
      const t = tabs[index];
      if (t) closeTab(t.key);
      return;
    }
    if (next < 0) return;
    e.preventDefault();
    const t = tabs[next];
    if (!t) return;
    setActiveKey(t.key);
    tabRefs.current.get(t.key)?.focus();
  };

  // Alt+Shift+N opens the dialog from anywhere in the workspace (terminals keep Ctrl shortcuts).
  useEffect(() => {
    if (!visible || !canConnect) return;
    const onKey = (e: globalThis.KeyboardEvent) => {
      if (e.altKey && e.shiftKey && !e.ctrlKey && !e.metaKey && e.code === 'KeyN') {
        e.preventDefault();
        setDialogOpen(true);
      }
    };
    window.addEventListener('keydown', onKey, true);
    return () => window.removeEventListener('keydown', onKey, true);
  }, [visible, canConnect]);

  const openHere = new Set(tabs.filter((t) => t.terminalId).map((t) => t.terminalId));

  return (
    <div className="workspace" hidden={!visible}>
      <div className="sidebar">
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
          <div className="tabs" role="tablist" aria-label="Open terminals">
            {tabs.map((t, i) => (
              <div
                key={t.key}
                className={`tab ${t.key === activeKey ? 'tab-active' : ''}`}
                role="presentation"
              >
                <button
                  ref={(el) => {
                    if (el) tabRefs.current.set(t.key, el);
                    else tabRefs.current.delete(t.key);
                  }}
                  type="button"
                  role="tab"
                  id={`${t.key}-tab`}
                  aria-selected={t.key === activeKey}
                  aria-controls={`${t.key}-panel`}
                  tabIndex={t.key === activeKey ? 0 : -1}
                  className="tab-button"
                  data-status={t.status}
                  onClick={() => setActiveKey(t.key)}
                  onKeyDown={(e) => onTabKey(e, i)}
                >
                  <span className={`status-dot status-${t.status}`} aria-hidden="true" />
                  {t.label}
                </button>
                <button
                  type="button"
                  className="tab-close"
                  aria-label={`Close ${t.label}`}
                  title="Close tab (the terminal keeps running)"
                  onClick={() => closeTab(t.key)}
                >
                  ×
                </button>
              </div>
            ))}
          </div>
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
            key={t.key}
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
              label={t.label}
              active={visible && t.key === activeKey}
              onStatus={(status) => updateTab(t.key, { status })}
              onReady={(info) => {
                updateTab(t.key, { terminalId: info.terminalId, open: undefined });
                void loadList();
              }}
              onEnded={() => void loadList()}
              onClose={() => closeTab(t.key)}
            />
          </div>
        ))}
      </section>

      {dialogOpen && (
        <NewConnectionDialog defaults={defaults} onConnect={openNew} onCancel={() => setDialogOpen(false)} />
      )}
    </div>
  );
}
