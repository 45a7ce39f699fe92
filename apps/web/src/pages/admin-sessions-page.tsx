import type { AdminSession, AdminSessionList } from '@tether/protocol';
import { useState } from 'react';
import { useAuth } from '../auth/auth-context';
import { ErrorNotice, Notice, type NoticeMessage } from '../components/notice';
import { absoluteTime, relativeTime } from '../lib/format';
import { describeError, useApiData } from '../lib/use-api-data';

export function AdminSessionsPage() {
  const { api } = useAuth();
  const sessions = useApiData<AdminSessionList>('admin/sessions');
  const [message, setMessage] = useState<NoticeMessage>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const revoke = async (s: AdminSession) => {
    setBusy(s.id);
    try {
      await api.del(`admin/sessions/${s.id}`);
      setMessage({ kind: 'ok', text: `Session of ${s.username} revoked.` });
      await sessions.reload();
    } catch (err) {
      setMessage({ kind: 'error', text: describeError(err) });
    } finally {
      setBusy(null);
    }
  };

  return (
    <div className="page-inner">
      <div className="page-head">
        <h1>Sessions</h1>
        <button type="button" className="btn btn-ghost btn-sm" onClick={() => void sessions.reload()}>
          Refresh
        </button>
      </div>
      <p className="muted">
        Live web sessions. Revoking one signs that browser out and detaches its terminals; the terminals keep
        running.
      </p>
      <Notice message={message} />
      <ErrorNotice error={sessions.error} />
      <div className="table-wrap">
        <table className="table">
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">IP</th>
              <th scope="col">User agent</th>
              <th scope="col">Created</th>
              <th scope="col">Last activity</th>
              <th scope="col">Expires</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {sessions.data?.sessions.map((s) => (
              <tr key={s.id} data-session-id={s.id}>
                <th scope="row" className="mono">
                  {s.username}
                  {s.current && <span className="muted"> (this session)</span>}
                </th>
                <td className="mono">{s.ip ?? '—'}</td>
                <td className="ua" title={s.userAgent ?? ''}>
                  {shortAgent(s.userAgent)}
                </td>
                <td title={absoluteTime(s.createdAt)}>{relativeTime(s.createdAt)}</td>
                <td title={absoluteTime(s.lastActivityAt)}>{relativeTime(s.lastActivityAt)}</td>
                <td title={absoluteTime(s.expiresAt)}>{relativeTime(s.expiresAt)}</td>
                <td className="row-actions">
                  <button
                    type="button"
                    className="btn btn-sm btn-danger-ghost"
                    disabled={s.current || busy === s.id}
                    title={s.current ? 'Use Sign out for your own session' : undefined}
                    onClick={() => void revoke(s)}
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
            {sessions.data && sessions.data.sessions.length === 0 && (
              <tr>
                <td colSpan={7} className="muted">
                  No live sessions.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
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
