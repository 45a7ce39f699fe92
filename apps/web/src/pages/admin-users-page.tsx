import {
  type AdminUser,
  type AdminUserList,
  type CreateUserRequest,
  CreateUserRequestSchema,
  type ResetPasswordRequest,
  ResetPasswordRequestSchema,
  type Role,
} from '@tether/protocol';
import { useId, useState } from 'react';
import { useAuth } from '../auth/auth-context';
import { type Column, DataTable } from '../components/data-table';
import { Field, FormDialog, useSchemaForm, useSubmit } from '../components/form';
import { ErrorNotice, Notice, type NoticeMessage } from '../components/notice';
import { absoluteTime, relativeTime } from '../lib/format';
import { errorText, useApiMutation, useApiQuery } from '../lib/queries';

type UserStatus = 'active' | 'disabled' | 'locked';

function userStatus(u: AdminUser, now = Date.now()): UserStatus {
  if (u.disabledAt) return 'disabled';
  if (u.lockedUntil && Date.parse(u.lockedUntil) > now) return 'locked';
  return 'active';
}

export function AdminUsersPage() {
  const { user: me } = useAuth();
  const users = useApiQuery<AdminUserList>('admin/users');
  const [message, setMessage] = useState<NoticeMessage>(null);
  const [resetFor, setResetFor] = useState<AdminUser | null>(null);
  const update = useApiMutation(
    (api, { user, body }: { user: AdminUser; body: Record<string, unknown>; ok: string }) =>
      api.patch(`admin/users/${user.id}`, body),
    ['admin/users'],
  );
  const busy = (u: AdminUser) => update.isPending && update.variables?.user.id === u.id;

  const mutate = async (user: AdminUser, body: Record<string, unknown>, ok: string) => {
    try {
      await update.mutateAsync({ user, body, ok });
      setMessage({ kind: 'ok', text: ok });
    } catch (err) {
      setMessage({ kind: 'error', text: errorText(err) });
    }
  };

  const columns: Column<AdminUser>[] = [
    {
      header: 'Username',
      className: 'mono',
      cell: (u) => (
        <>
          {u.username}
          {u.id === me?.id && <span className="muted"> (you)</span>}
        </>
      ),
    },
    {
      header: 'Role',
      cell: (u) => (
        <>
          <label className="sr-only" htmlFor={`role-${u.id}`}>
            Role for {u.username}
          </label>
          <select
            id={`role-${u.id}`}
            className="select-sm"
            value={u.role}
            disabled={u.id === me?.id || busy(u)}
            onChange={(e) => {
              const role = e.target.value as Role;
              void mutate(u, { role }, `${u.username} is now ${role}.`);
            }}
          >
            <option value="user">user</option>
            <option value="admin">admin</option>
          </select>
        </>
      ),
    },
    {
      header: 'Status',
      cell: (u) => {
        const status = userStatus(u);
        return (
          <>
            <span className={`pill pill-${status}`}>{status}</span>
            {status === 'locked' && u.lockedUntil && (
              <span className="muted small"> until {new Date(u.lockedUntil).toLocaleTimeString()}</span>
            )}
          </>
        );
      },
    },
    {
      header: 'Online',
      cell: (u) =>
        u.online ? <span className="pill pill-online">online</span> : <span className="muted">—</span>,
    },
    { header: 'Created', title: (u) => absoluteTime(u.createdAt), cell: (u) => relativeTime(u.createdAt) },
  ];

  return (
    <div className="page-inner">
      <div className="page-head">
        <h1>Users</h1>
        <button type="button" className="btn btn-ghost btn-sm" onClick={() => void users.refetch()}>
          Refresh
        </button>
      </div>
      <Notice message={message} />
      <DataTable
        rows={users.data?.users}
        columns={columns}
        rowKey={(u) => u.id}
        rowProps={(u) => ({ 'data-username': u.username })}
        loading={users.isPending}
        error={users.error}
        empty="No users."
        actions={(u) => (
          <>
            {userStatus(u) === 'locked' && (
              <button
                type="button"
                className="btn btn-sm"
                disabled={busy(u)}
                onClick={() => void mutate(u, { unlock: true }, `${u.username} unlocked.`)}
              >
                Unlock
              </button>
            )}
            <button type="button" className="btn btn-sm" disabled={busy(u)} onClick={() => setResetFor(u)}>
              Reset password
            </button>
            {u.id !== me?.id &&
              (u.disabledAt ? (
                <button
                  type="button"
                  className="btn btn-sm"
                  disabled={busy(u)}
                  onClick={() => void mutate(u, { disabled: false }, `${u.username} enabled.`)}
                >
                  Enable
                </button>
              ) : (
                <button
                  type="button"
                  className="btn btn-sm btn-danger-ghost"
                  disabled={busy(u)}
                  onClick={() => void mutate(u, { disabled: true }, `${u.username} disabled.`)}
                >
                  Disable
                </button>
              ))}
          </>
        )}
      />

      <CreateUserForm onCreated={(name) => setMessage({ kind: 'ok', text: `User ${name} created.` })} />

      {resetFor && (
        <ResetPasswordDialog
          user={resetFor}
          onDone={(text) => {
            setResetFor(null);
            setMessage({ kind: 'ok', text });
          }}
          onCancel={() => setResetFor(null)}
        />
      )}
    </div>
  );
}

function CreateUserForm({ onCreated }: { onCreated: (username: string) => void }) {
  const id = useId();
  const form = useSchemaForm(CreateUserRequestSchema, {
    defaultValues: { username: '', password: '', role: 'user' },
  });
  const { errors, isSubmitting } = form.formState;
  const create = useApiMutation(
    (api, body: CreateUserRequest) => api.post('admin/users', body),
    ['admin/users'],
  );

  const { submit, error } = useSubmit(form, async (body) => {
    await create.mutateAsync(body);
    form.reset();
    onCreated(body.username);
  });

  return (
    <section className="card" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Create user</h2>
      <ErrorNotice error={error} />
      <form className="inline-form" onSubmit={submit} noValidate>
        <Field id={`${id}-u`} label="Username" error={errors.username}>
          {(a11y) => <input {...a11y} autoComplete="off" spellCheck={false} {...form.register('username')} />}
        </Field>
        <Field id={`${id}-p`} label="Password" error={errors.password}>
          {(a11y) => (
            <input {...a11y} type="password" autoComplete="new-password" {...form.register('password')} />
          )}
        </Field>
        <Field id={`${id}-r`} label="Role" error={errors.role}>
          {(a11y) => (
            <select {...a11y} {...form.register('role')}>
              <option value="user">user</option>
              <option value="admin">admin</option>
            </select>
          )}
        </Field>
        <button type="submit" className="btn btn-primary" disabled={isSubmitting}>
          Create user
        </button>
      </form>
    </section>
  );
}

function ResetPasswordDialog(props: {
  user: AdminUser;
  onDone: (message: string) => void;
  onCancel: () => void;
}) {
  const id = useId();
  const form = useSchemaForm(ResetPasswordRequestSchema, { defaultValues: { password: '' } });
  const { errors, isSubmitting } = form.formState;
  const reset = useApiMutation(
    (api, body: ResetPasswordRequest) => api.post(`admin/users/${props.user.id}/password`, body),
    ['admin/users'],
  );
  const { submit, error } = useSubmit(form, async (body) => {
    await reset.mutateAsync(body);
    props.onDone(`Password of ${props.user.username} reset.`);
  });
  return (
    <FormDialog
      title={`Reset password for ${props.user.username}`}
      onCancel={props.onCancel}
      onSubmit={submit}
      submitLabel="Reset password"
      busy={isSubmitting}
      error={error}
    >
      <Field id={`${id}-np`} label="New password" error={errors.password}>
        {(a11y) => (
          <input
            {...a11y}
            type="password"
            autoComplete="new-password"
            autoFocus
            {...form.register('password')}
          />
        )}
      </Field>
    </FormDialog>
  );
}
