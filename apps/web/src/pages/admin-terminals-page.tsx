import type { AdminTerminal, AdminTerminalList } from '@tether/protocol';
import { useId, useState } from 'react';
import { ConfirmDialog } from '../components/confirm-dialog';
import { type Column, DataTable } from '../components/data-table';
import { Notice, type NoticeMessage } from '../components/notice';
import { absoluteTime, relativeTime } from '../lib/format';
import { errorText, useApiMutation, useApiQuery } from '../lib/queries';

const REFRESH_MS = 10_000;

function target(t: AdminTerminal): string {
  return `${t.username}@${t.host}${t.port === 22 ? '' : `:${t.port}`}`;
}

const live = (t: AdminTerminal) =>
  t.status === 'running' || t.status === 'connecting' || t.status === 'unreachable';

const COLUMNS: Column<AdminTerminal>[] = [
  {
    header: 'Owner',
    className: 'mono',
    cell: (t) => t.ownerUsername ?? <span className="muted">deleted user</span>,
  },
  { header: 'Target', className: 'mono', cell: target },
  { header: 'Title', cell: (t) => t.title ?? <span className="muted">—</span> },
  {
    header: 'Status',
    cell: (t) => (
      <>
        <span className={`pill pill-term-${t.status}`}>{t.status}</span>
        {!live(t) && t.endReason && <span className="muted small"> {t.endReason}</span>}
      </>
    ),
  },
  {
    header: 'Attached',
    cell: (t) =>
      !live(t) ? (
        '—'
      ) : !t.local ? (
        <span className="muted" title="Sockets are counted by the node that holds the terminal">
          on its node
        </span>
      ) : t.attached > 0 ? (
        t.attached
      ) : (
        <span className="muted">detached</span>
      ),
  },
  { header: 'Started', title: (t) => absoluteTime(t.createdAt), cell: (t) => relativeTime(t.createdAt) },
  {
    header: 'Last output',
    title: (t) => absoluteTime(t.lastOutputAt),
    cell: (t) => relativeTime(t.lastOutputAt) || '—',
  },
  {
    header: 'Node',
    className: 'mono small',
    title: (t) => t.nodeId,
    cell: (t) => (
      <>
        {t.nodeId.length > 12 ? `${t.nodeId.slice(0, 12)}…` : t.nodeId}
        {t.local && <span className="muted"> (this)</span>}
      </>
    ),
  },
];

/** Every user's terminals; an administrator can end any of them. */
export function AdminTerminalsPage() {
  const id = useId();
  const [show, setShow] = useState<'live' | 'all'>('live');
  const list = useApiQuery<AdminTerminalList>(`admin/terminals?status=${show}`, { pollMs: REFRESH_MS });
  const [message, setMessage] = useState<NoticeMessage>(null);
  const [ending, setEnding] = useState<AdminTerminal | null>(null);
  const endTerminal = useApiMutation(
    (api, t: AdminTerminal) => api.del(`admin/terminals/${t.id}`),
    ['admin/terminals'],
  );
  const busy = endTerminal.isPending;

  const end = async (t: AdminTerminal) => {
    try {
      await endTerminal.mutateAsync(t);
      setMessage({
        kind: 'ok',
        text: `Terminal ${target(t)} of ${t.ownerUsername ?? 'a deleted user'} ended.`,
      });
    } catch (err) {
      setMessage({ kind: 'error', text: errorText(err) });
    } finally {
      setEnding(null);
    }
  };

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
        <button type="button" className="btn btn-ghost btn-sm" onClick={() => void list.refetch()}>
          Refresh
        </button>
      </div>
      <p className="muted">
        Terminals of every user. Ending one closes its SSH session; its owner sees it as ended.
      </p>
      <Notice message={message} />
      <DataTable
        rows={list.data?.terminals}
        columns={COLUMNS}
        rowKey={(t) => t.id}
        rowProps={(t) => ({ 'data-terminal-id': t.id })}
        loading={list.isPending}
        error={list.error}
        empty={show === 'live' ? 'No running terminals.' : 'No terminals.'}
        actions={(t) =>
          live(t) && (
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
          )
        }
      />
      {ending && (
        <ConfirmDialog
          title={`End ${target(ending)}?`}
          confirmLabel="End terminal"
          onConfirm={() => end(ending)}
          onCancel={() => setEnding(null)}
        >
          <p>
            The SSH session of <strong className="mono">{ending.ownerUsername ?? 'a deleted user'}</strong>{' '}
            ends now; programs running in it are stopped.
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}
