import type { AdminTerminal, AdminTerminalList } from '@tether/protocol';
import { useId, useState } from 'react';
import { useAuth } from '../auth/auth-context';
import { Modal } from '../components/modal';
import { ErrorNotice, Notice, type NoticeMessage } from '../components/notice';
import { absoluteTime, relativeTime } from '../lib/format';
import { describeError, useApiData } from '../lib/use-api-data';
import { usePolling } from '../lib/use-polling';

const REFRESH_MS = 10_000;

function target(t: AdminTerminal): string {
  return `${t.username}@${t.host}${t.port === 22 ? '' : `:${t.port}`}`;
}

/** Every user's terminals; an administrator can end any of them. */
export function AdminTerminalsPage() {
  const { api } = useAuth();
  const id = useId();
  const [show, setShow] = useState<'live' | 'all'>('live');
  const list = useApiData<AdminTerminalList>(`admin/terminals?status=${show}`);
  const [message, setMessage] = useState<NoticeMessage>(null);
  const [ending, setEnding] = useState<AdminTerminal | null>(null);
  const [busy, setBusy] = useState(false);
  usePolling(() => list.reload(), REFRESH_MS);

  const end = async (t: AdminTerminal) => {
    setBusy(true);
    try {
      await api.del(`admin/terminals/${t.id}`);
      setMessage({
        kind: 'ok',
        text: `Terminal ${target(t)} of ${t.ownerUsername ?? 'a deleted user'} ended.`,
      });
      setEnding(null);
      await list.reload();
    } catch (err) {
      setMessage({ kind: 'error', text: describeError(err) });
      setEnding(null);
    } finally {
      setBusy(false);
    }
  };

  const terminals = list.data?.terminals ?? [];
  const live = (t: AdminTerminal) =>
    t.status === 'running' || t.status === 'connecting' || t.status === 'unreachable';

  return (
    <div className="page-inner page-wide">
      <div className="page-head">
        <h1>All terminals</h1>
        <div className="field-inline">
          <label htmlFor={`${id}-show`}>Show</label>
          <select
            id={`${id}-show`}
            className="select-sm"
            value={show}
            onChange={(e) => setShow(e.target.value === 'all' ? 'all' : 'live')}
          >
            <option value="live">Running</option>
            <option value="all">Running and ended</option>
          </select>
        </div>
        <span className="spacer" />
        <button type="button" className="btn btn-ghost btn-sm" onClick={() => void list.reload()}>
          Refresh
        </button>
      </div>
      <p className="muted">
        Terminals of every user. Ending one closes its SSH session; its owner sees it as ended.
      </p>
      <Notice message={message} />
      <ErrorNotice error={list.error} />
      <div className="table-wrap">
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Owner</th>
              <th scope="col">Target</th>
              <th scope="col">Title</th>
              <th scope="col">Status</th>
              <th scope="col">Attached</th>
              <th scope="col">Started</th>
              <th scope="col">Last output</th>
              <th scope="col">Node</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {terminals.map((t) => (
              <tr key={t.id} data-terminal-id={t.id}>
                <th scope="row" className="mono">
                  {t.ownerUsername ?? <span className="muted">deleted user</span>}
                </th>
                <td className="mono">{target(t)}</td>
                <td>{t.title ?? <span className="muted">—</span>}</td>
                <td>
                  <span className={`pill pill-term-${t.status}`}>{t.status}</span>
                  {!live(t) && t.endReason && <span className="muted small"> {t.endReason}</span>}
                </td>
                <td>
                  {!live(t) ? (
                    '—'
                  ) : !t.local ? (
                    <span className="muted" title="Sockets are counted by the node that holds the terminal">
                      on its node
                    </span>
                  ) : t.attached > 0 ? (
                    t.attached
                  ) : (
                    <span className="muted">detached</span>
                  )}
                </td>
                <td title={absoluteTime(t.createdAt)}>{relativeTime(t.createdAt)}</td>
                <td title={absoluteTime(t.lastOutputAt)}>{relativeTime(t.lastOutputAt) || '—'}</td>
                <td className="mono small" title={t.nodeId}>
                  {t.nodeId.length > 12 ? `${t.nodeId.slice(0, 12)}…` : t.nodeId}
                  {t.local && <span className="muted"> (this)</span>}
                </td>
                <td className="row-actions">
                  {live(t) && (
                    <button
                      type="button"
                      className="btn btn-sm btn-danger-ghost"
                      disabled={t.status === 'unreachable' || busy}
                      title={t.status === 'unreachable' ? 'Its broker node is not answering' : undefined}
                      aria-label={`End ${target(t)} of ${t.ownerUsername ?? 'deleted user'}`}
                      onClick={() => setEnding(t)}
                    >
                      End
                    </button>
                  )}
                </td>
              </tr>
            ))}
            {list.data && terminals.length === 0 && (
              <tr>
                <td colSpan={9} className="muted">
                  {show === 'live' ? 'No running terminals.' : 'No terminals.'}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {ending && (
        <Modal title={`End ${target(ending)}?`} onCancel={() => setEnding(null)} tone="warning">
          <p>
            The SSH session of <strong className="mono">{ending.ownerUsername ?? 'a deleted user'}</strong>{' '}
            ends now; programs running in it are stopped.
          </p>
          <div className="modal-actions">
            <button type="button" className="btn" autoFocus onClick={() => setEnding(null)}>
              Cancel
            </button>
            <button type="button" className="btn btn-danger" disabled={busy} onClick={() => void end(ending)}>
              End terminal
            </button>
          </div>
        </Modal>
      )}
    </div>
  );
}
