import type { AdminSession, AdminSessionList } from '@tether/protocol';
import { useState } from 'react';
import { type Column, DataTable } from '../components/data-table';
import { Notice, type NoticeMessage } from '../components/notice';
import { absoluteTime, relativeTime } from '../lib/format';
import { errorText, useApiMutation, useApiQuery } from '../lib/queries';

const COLUMNS: Column<AdminSession>[] = [
  {
    header: 'User',
    className: 'mono',
    cell: (s) => (
      <>
        {s.username}
        {s.current && <span className="muted"> (this session)</span>}
      </>
    ),
  },
  { header: 'IP', className: 'mono', cell: (s) => s.ip ?? '—' },
  {
    header: 'User agent',
    className: 'ua',
    title: (s) => s.userAgent ?? '',
    cell: (s) => shortAgent(s.userAgent),
  },
  { header: 'Created', title: (s) => absoluteTime(s.createdAt), cell: (s) => relativeTime(s.createdAt) },
  {
    header: 'Last activity',
    title: (s) => absoluteTime(s.lastActivityAt),
    cell: (s) => relativeTime(s.lastActivityAt),
  },
  { header: 'Expires', title: (s) => absoluteTime(s.expiresAt), cell: (s) => relativeTime(s.expiresAt) },
];

export function AdminSessionsPage() {
  const sessions = useApiQuery<AdminSessionList>('admin/sessions');
  const [message, setMessage] = useState<NoticeMessage>(null);
  const revokeSession = useApiMutation(
    (api, s: AdminSession) => api.del(`admin/sessions/${s.id}`),
    ['admin/sessions'],
  );

  const revoke = async (s: AdminSession) => {
    try {
      await revokeSession.mutateAsync(s);
      setMessage({ kind: 'ok', text: `Session of ${s.username} revoked.` });
    } catch (err) {
      setMessage({ kind: 'error', text: errorText(err) });
    }
  };

  return (
    <div className="page-inner">
      <div className="page-head">
        <h1>Sessions</h1>
        <button type="button" className="btn btn-ghost btn-sm" onClick={() => void sessions.refetch()}>
          Refresh
        </button>
      </div>
      <p className="muted">
        Live web sessions. Revoking one signs that browser out and detaches its terminals; the terminals keep
        running.
      </p>
      <Notice message={message} />
      <DataTable
        rows={sessions.data?.sessions}
        columns={COLUMNS}
        rowKey={(s) => s.id}
        rowProps={(s) => ({ 'data-session-id': s.id })}
        loading={sessions.isPending}
        error={sessions.error}
        empty="No live sessions."
        actions={(s) => (
          <button
            type="button"
            className="btn btn-sm btn-danger-ghost"
            disabled={s.current || (revokeSession.isPending && revokeSession.variables?.id === s.id)}
            title={s.current ? 'Use Sign out for your own session' : undefined}
            onClick={() => void revoke(s)}
          >
            Revoke
          </button>
        )}
      />
    </div>
  );
}

/** "Chrome 126 on Linux" style summary; the full string stays in the title. */
function shortAgent(ua: string | null): string {
  if (!ua) return '—';
  const browser =
    /Edg\/(\d+)/.exec(ua)?.[1] !== undefined
      ? `Edge ${/Edg\/(\d+)/.exec(ua)?.[1]}`
      : /Firefox\/(\d+)/.exec(ua)
        ? `Firefox ${/Firefox\/(\d+)/.exec(ua)?.[1]}`
        : /(?:Chrome|Chromium)\/(\d+)/.exec(ua)
          ? `Chrome ${/(?:Chrome|Chromium)\/(\d+)/.exec(ua)?.[1]}`
          : /Version\/(\d+).*Safari/.exec(ua)
            ? `Safari ${/Version\/(\d+)/.exec(ua)?.[1]}`
            : null;
  const os = /Windows/.test(ua)
    ? 'Windows'
    : /Mac OS X/.test(ua)
      ? 'macOS'
      : /Android/.test(ua)
        ? 'Android'
        : /iPhone|iPad/.test(ua)
          ? 'iOS'
          : /Linux/.test(ua)
            ? 'Linux'
            : null;
  if (browser && os) return `${browser} on ${os}`;
  return browser ?? (ua.length > 60 ? `${ua.slice(0, 57)}…` : ua);
}
