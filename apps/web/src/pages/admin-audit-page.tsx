import { useInfiniteQuery } from '@tanstack/react-query';
import { type AdminUserList, type AuditEvent, type AuditPage, Permission } from '@tether/protocol';
import { type FormEvent, useId, useMemo, useState } from 'react';
import { useAuth } from '../auth/auth-context';
import { type Column, DataTable } from '../components/data-table';
import { ErrorNotice } from '../components/notice';
import { absoluteTime, relativeTime } from '../lib/format';
import { apiKey, useApiQuery } from '../lib/queries';

const PAGE_SIZE = 50;

/** Event types the broker writes (the filter matches exactly; others seen in results are added). */
const KNOWN_TYPES = [
  'auth.login',
  'auth.logout',
  'auth.lockout',
  'auth.password_change',
  'session.revoked',
  'user.registered',
  'terminal.opened',
  'terminal.open_failed',
  'terminal.ended',
  'terminal.terminated',
  'hostkey.forgotten',
  'admin.user_created',
  'admin.role_changed',
  'admin.user_disabled',
  'admin.user_enabled',
  'admin.user_unlocked',
  'admin.password_reset',
  'admin.session_revoked',
  'admin.terminal_ended',
  'credential.created',
  'credential.changed',
  'credential.deleted',
  'profiles.imported',
];

interface Filters {
  userId: string;
  type: string;
  from: string;
  to: string;
}

const EMPTY: Filters = { userId: '', type: '', from: '', to: '' };

/** `datetime-local` value (local time, no zone) → ISO 8601 with offset; '' when empty or invalid. */
function toIso(local: string): string {
  if (!local) return '';
  const t = new Date(local);
  return Number.isFinite(t.getTime()) ? t.toISOString() : '';
}

function queryString(f: Filters, cursor?: string): string {
  const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (f.userId) q.set('userId', f.userId);
  if (f.type.trim()) q.set('type', f.type.trim());
  const from = toIso(f.from);
  const to = toIso(f.to);
  if (from) q.set('from', from);
  if (to) q.set('to', to);
  if (cursor) q.set('cursor', cursor);
  return q.toString();
}

function detailText(d: AuditEvent['detail']): string {
  if (!d) return '';
  return Object.entries(d)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

const AUDIT_COLUMNS: Column<AuditEvent>[] = [
  {
    header: 'Time',
    className: 'nowrap',
    title: (e) => absoluteTime(e.at),
    cell: (e) => new Date(e.at).toLocaleString(),
  },
  { header: 'User', className: 'mono', cell: (e) => e.username ?? <span className="muted">—</span> },
  { header: 'Type', className: 'mono', cell: (e) => e.type },
  {
    header: 'Outcome',
    cell: (e) => (
      <span className={`pill ${e.outcome === 'success' ? 'pill-active' : 'pill-failure'}`}>{e.outcome}</span>
    ),
  },
  {
    header: 'Target',
    className: 'mono cell-clip',
    title: (e) => e.target ?? '',
    cell: (e) => e.target ?? '',
  },
  { header: 'IP', className: 'mono', cell: (e) => e.ip ?? '' },
  {
    header: 'Detail',
    className: 'mono small cell-clip',
    title: (e) => detailText(e.detail),
    cell: (e) => detailText(e.detail),
  },
];

export function AdminAuditPage() {
  const { api, hasPermission } = useAuth();
  const id = useId();
  const canListUsers = hasPermission(Permission.USERS_MANAGE);
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [applied, setApplied] = useState<Filters>(EMPTY);
  const [rangeError, setRangeError] = useState<string | null>(null);
  const pages = useInfiniteQuery({
    queryKey: [...apiKey('admin/audit'), applied],
    queryFn: ({ pageParam, signal }) =>
      api.get<AuditPage>(`admin/audit?${queryString(applied, pageParam ?? undefined)}`, { signal }),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
  });
  const events = useMemo(() => pages.data?.pages.flatMap((p) => p.events) ?? [], [pages.data]);
  const nextCursor = pages.hasNextPage;
  const loading = pages.isFetching;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const from = toIso(draft.from);
    const to = toIso(draft.to);
    if (from && to && from > to) {
      setRangeError('From must be before To.');
      return;
    }
    setRangeError(null);
    setApplied({ ...draft });
  };

  const reset = () => {
    setDraft(EMPTY);
    setRangeError(null);
    setApplied(EMPTY);
  };

  const types = useMemo(() => [...new Set([...KNOWN_TYPES, ...events.map((e) => e.type)])].sort(), [events]);
  const filtered = applied.userId || applied.type || applied.from || applied.to;

  return (
    <div className="page-inner page-wide">
      <div className="page-head">
        <h1>Audit log</h1>
        <span className="spacer" />
        <button type="button" className="btn btn-ghost btn-sm" onClick={() => void pages.refetch()}>
          Refresh
        </button>
      </div>
      <form className="inline-form filters" onSubmit={submit} noValidate aria-label="Filter events">
        <div className="field">
          <label htmlFor={`${id}-user`}>User</label>
          {canListUsers ? (
            <UserSelect
              id={`${id}-user`}
              value={draft.userId}
              onChange={(userId) => setDraft({ ...draft, userId })}
            />
          ) : (
            <input
              id={`${id}-user`}
              value={draft.userId}
              placeholder="User id"
              spellCheck={false}
              onChange={(e) => setDraft({ ...draft, userId: e.target.value.trim() })}
            />
          )}
        </div>
        <div className="field">
          <label htmlFor={`${id}-type`}>Type</label>
          <input
            id={`${id}-type`}
            list={`${id}-types`}
            value={draft.type}
            placeholder="Any"
            spellCheck={false}
            onChange={(e) => setDraft({ ...draft, type: e.target.value })}
          />
          <datalist id={`${id}-types`}>
            {types.map((t) => (
              <option key={t} value={t} />
            ))}
          </datalist>
        </div>
        <div className="field">
          <label htmlFor={`${id}-from`}>From</label>
          <input
            id={`${id}-from`}
            type="datetime-local"
            value={draft.from}
            aria-invalid={rangeError ? true : undefined}
            onChange={(e) => setDraft({ ...draft, from: e.target.value })}
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-to`}>To</label>
          <input
            id={`${id}-to`}
            type="datetime-local"
            value={draft.to}
            aria-invalid={rangeError ? true : undefined}
            onChange={(e) => setDraft({ ...draft, to: e.target.value })}
          />
        </div>
        <button type="submit" className="btn btn-primary">
          Apply filters
        </button>
        <button type="button" className="btn" onClick={reset} disabled={!filtered && draft === EMPTY}>
          Reset
        </button>
      </form>
      <ErrorNotice error={rangeError} />
      <DataTable
        label="Audit events"
        rowHeader={false}
        rows={pages.data ? events : undefined}
        columns={AUDIT_COLUMNS}
        rowKey={(e) => e.id}
        rowProps={(e) => ({ 'data-event-type': e.type })}
        loading={pages.isPending}
        error={pages.error}
        empty={filtered ? 'No events match these filters.' : 'No events.'}
      />
      <div className="pager">
        <span className="muted small" role="status">
          {loading
            ? 'Loading…'
            : `${events.length} ${events.length === 1 ? 'event' : 'events'}${nextCursor ? ' shown, more available' : ''}` +
              (events[0] ? ` · newest ${relativeTime(events[0].at)}` : '')}
        </span>
        {nextCursor && (
          <button
            type="button"
            className="btn btn-sm"
            disabled={loading}
            onClick={() => void pages.fetchNextPage()}
          >
            Load more
          </button>
        )}
      </div>
    </div>
  );
}

function UserSelect(props: { id: string; value: string; onChange: (userId: string) => void }) {
  const users = useApiQuery<AdminUserList>('admin/users');
  const sorted = [...(users.data?.users ?? [])].sort((a, b) => a.username.localeCompare(b.username));
  return (
    <select id={props.id} value={props.value} onChange={(e) => props.onChange(e.target.value)}>
      <option value="">Anyone</option>
      {sorted.map((u) => (
        <option key={u.id} value={u.id}>
          {u.username}
        </option>
      ))}
    </select>
  );
}
