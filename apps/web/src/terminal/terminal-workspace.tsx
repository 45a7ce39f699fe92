import {
  Permission,
  type Profile,
  type SshAuth,
  type TerminalList,
  type TerminalSummary,
} from '@tether/protocol';
import { type KeyboardEvent, useCallback, useEffect, useRef, useState } from 'react';
import { useAuth } from '../auth/auth-context';
import { ConnectionsPanel } from '../connections/connections-panel';
import { absoluteTime, relativeTime } from '../lib/format';
import { useApiQuery } from '../lib/queries';
import { type ConnectionDefaults, EMPTY_DEFAULTS, NewConnectionDialog } from './new-connection-dialog';
import type { OpenRequest, TerminalStatus } from './terminal-connection';
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

function summaryLabel(t: TerminalSummary): string {
  return t.title || `${t.username}@${t.host}${t.port === 22 ? '' : `:${t.port}`}`;
}

export function TerminalWorkspace({ visible }: { visible: boolean }) {
  const auth = useAuth();
  const [tabs, setTabs] = useState<Tab[]>([]);
  const [activeKey, setActiveKey] = useState<string | null>(null);
  const [dialogOpen, setDialogOpen] = useState(false);
  const [defaults, setDefaults] = useState<ConnectionDefaults>(EMPTY_DEFAULTS);
  const [confirmEnd, setConfirmEnd] = useState<string | null>(null);
  const tabRefs = useRef(new Map<string, HTMLButtonElement>());
  const canConnect = auth.hasPermission(Permission.SSH_CONNECT);
  const { api } = auth;

  // Polled while this page is visible and someone is around (useApiQuery), refetched after
  // every change made here.
  const terminalsQuery = useApiQuery<TerminalList>('terminals', { pollMs: POLL_MS, enabled: visible });
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

  const endFromList = async (t: TerminalSummary) => {
    setConfirmEnd(null);
    try {
      await api.del(`terminals/${t.id}`);
    } catch {
      // The list refresh below shows the truth.
    }
    void loadList();
  };

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
  const running = (list ?? []).filter(
    (t) => t.status === 'running' || t.status === 'connecting' || t.status === 'unreachable',
  );
  const ended = (list ?? []).filter((t) => t.status === 'exited' || t.status === 'lost');

  return (
    <div className="workspace" hidden={!visible}>
      <div className="sidebar">
        <ConnectionsPanel visible={visible} canConnect={canConnect} onOpen={openProfile} />
        <aside className="term-list" aria-label="My terminals">
          <div className="term-list-head">
            <h2>Terminals</h2>
            {canConnect && (
              <button
                type="button"
                className="btn btn-primary btn-sm"
                onClick={() => setDialogOpen(true)}
                title="Alt+Shift+N"
              >
                New connection
              </button>
            )}
          </div>
          {listError && (
            <p className="notice notice-error" role="alert">
              {listError}
            </p>
          )}
          {list === null && !listError && <p className="muted pad">Loading…</p>}
          {list !== null && list.length === 0 && <p className="muted pad">No terminals yet.</p>}
          {running.length > 0 && (
            <section aria-labelledby="tl-running">
              <h3 id="tl-running" className="term-list-section">
                Running
              </h3>
              <ul className="term-items">
                {running.map((t) => {
                  const here = openHere.has(t.id);
                  const unreachable = t.status === 'unreachable';
                  const state = unreachable
                    ? 'unreachable: its broker node is not answering'
                    : here
                      ? 'open here'
                      : t.attached > 0
                        ? `attached (${t.attached})`
                        : 'detached';
                  return (
                    <li
                      key={t.id}
                      className="term-item"
                      data-terminal-id={t.id}
                      data-state={
                        unreachable ? 'unreachable' : here ? 'open' : t.attached > 0 ? 'attached' : 'detached'
                      }
                    >
                      <div className="term-item-main">
                        <span
                          className={`status-dot ${unreachable ? 'status-error' : t.attached > 0 || here ? 'status-ready' : 'status-detached'}`}
                          aria-hidden="true"
                        />
                        <span className="term-item-title">{summaryLabel(t)}</span>
                      </div>
                      <div className="term-item-sub" title={`Started ${absoluteTime(t.createdAt)}`}>
                        {state} · {t.cols}×{t.rows} · {relativeTime(t.lastOutputAt ?? t.createdAt)}
                      </div>
                      <div className="term-item-actions">
                        <button
                          type="button"
                          className="btn btn-sm"
                          onClick={() => attach(t)}
                          disabled={unreachable}
                          aria-label={`${here ? 'Open' : 'Reattach'} ${summaryLabel(t)}`}
                        >
                          {here ? 'Open' : 'Reattach'}
                        </button>
                        {confirmEnd === t.id ? (
                          <>
                            <button
                              type="button"
                              className="btn btn-danger btn-sm"
                              onClick={() => void endFromList(t)}
                            >
                              Confirm end
                            </button>
                            <button
                              type="button"
                              className="btn btn-ghost btn-sm"
                              onClick={() => setConfirmEnd(null)}
                            >
                              Keep
                            </button>
                          </>
                        ) : (
                          <button
                            type="button"
                            className="btn btn-ghost btn-sm"
                            onClick={() => setConfirmEnd(t.id)}
                            disabled={unreachable}
                            title={unreachable ? 'Its broker node is not answering' : undefined}
                            aria-label={`End ${summaryLabel(t)}`}
                          >
                            End
                          </button>
                        )}
                      </div>
                    </li>
                  );
                })}
              </ul>
            </section>
          )}
          {ended.length > 0 && (
            <section aria-labelledby="tl-ended">
              <h3 id="tl-ended" className="term-list-section">
                Ended
              </h3>
              <ul className="term-items">
                {ended.map((t) => (
                  <li
                    key={t.id}
                    className="term-item term-item-ended"
                    data-terminal-id={t.id}
                    data-state="ended"
                  >
                    <div className="term-item-main">
                      <span
                        className={`status-dot ${t.status === 'lost' ? 'status-error' : 'status-exited'}`}
                        aria-hidden="true"
                      />
                      <span className="term-item-title">{summaryLabel(t)}</span>
                    </div>
                    <div className="term-item-sub" title={absoluteTime(t.endedAt)}>
                      {endText(t)} · {relativeTime(t.endedAt ?? t.createdAt)}
                    </div>
                  </li>
                ))}
              </ul>
            </section>
          )}
        </aside>
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

function endText(t: TerminalSummary): string {
  if (t.status === 'lost') return t.endReason ? `lost: ${t.endReason}` : 'lost';
  if (t.exitCode !== null) return `exited with code ${t.exitCode}${t.endReason ? ` (${t.endReason})` : ''}`;
  if (t.exitSignal) return `killed by ${t.exitSignal}`;
  return t.endReason ?? 'ended';
}
