import { type AdminUser, type AdminUserList, PASSWORD_MIN_LENGTH, type Role } from '@tether/protocol';
import { type FormEvent, useId, useState } from 'react';
import { useAuth } from '../auth/auth-context';
import { Modal } from '../components/modal';
import { ErrorNotice, Notice, type NoticeMessage } from '../components/notice';
import { absoluteTime, relativeTime } from '../lib/format';
import { describeError, useApiData } from '../lib/use-api-data';

type UserStatus = 'active' | 'disabled' | 'locked';

function userStatus(u: AdminUser, now = Date.now()): UserStatus {
  if (u.disabledAt) return 'disabled';
  if (u.lockedUntil && Date.parse(u.lockedUntil) > now) return 'locked';
  return 'active';
}

export function AdminUsersPage() {
  const { api, user: me } = useAuth();
  const users = useApiData<AdminUserList>('admin/users');
  const [message, setMessage] = useState<NoticeMessage>(null);
  const [resetFor, setResetFor] = useState<AdminUser | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const mutate = async (id: string, action: () => Promise<unknown>, ok: string) => {
    setBusy(id);
    try {
      await action();
      setMessage({ kind: 'ok', text: ok });
      await users.reload();
    } catch (err) {
      setMessage({ kind: 'error', text: describeError(err) });
    } finally {
      setBusy(null);
    }
  };

  return (
    <div className="page-inner">
      <div className="page-head">
        <h1>Users</h1>
        <button type="button" className="btn btn-ghost btn-sm" onClick={() => void users.reload()}>
          Refresh
        </button>
      </div>
      <Notice message={message} />
      <ErrorNotice error={users.error} />
      <div className="table-wrap">
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Username</th>
              <th scope="col">Role</th>
              <th scope="col">Status</th>
              <th scope="col">Online</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {users.data?.users.map((u) => {
              const status = userStatus(u);
              const self = u.id === me?.id;
              return (
                <tr key={u.id} data-username={u.username}>
                  <th scope="row" className="mono">
                    {u.username}
                    {self && <span className="muted"> (you)</span>}
                  </th>
                  <td>
                    <label className="sr-only" htmlFor={`role-${u.id}`}>
                      Role for {u.username}
                    </label>
                    <select
                      id={`role-${u.id}`}
                      className="select-sm"
                      value={u.role}
                      disabled={self || busy === u.id}
                      onChange={(e) => {
                        const role = e.target.value as Role;
                        void mutate(
                          u.id,
                          () => api.patch(`admin/users/${u.id}`, { role }),
                          `${u.username} is now ${role}.`,
                        );
                      }}
                    >
                      <option value="user">user</option>
                      <option value="admin">admin</option>
                    </select>
                  </td>
                  <td>
                    <span className={`pill pill-${status}`}>{status}</span>
                    {status === 'locked' && u.lockedUntil && (
                      <span className="muted small">
                        {' '}
                        until {new Date(u.lockedUntil).toLocaleTimeString()}
                      </span>
                    )}
                  </td>
                  <td>
                    {u.online ? (
                      <span className="pill pill-online">online</span>
                    ) : (
                      <span className="muted">—</span>
                    )}
                  </td>
                  <td title={absoluteTime(u.createdAt)}>{relativeTime(u.createdAt)}</td>
                  <td className="row-actions">
                    {status === 'locked' && (
                      <button
                        type="button"
                        className="btn btn-sm"
                        disabled={busy === u.id}
                        onClick={() =>
                          void mutate(
                            u.id,
                            () => api.patch(`admin/users/${u.id}`, { unlock: true }),
                            `${u.username} unlocked.`,
                          )
                        }
                      >
                        Unlock
                      </button>
                    )}
                    <button
                      type="button"
                      className="btn btn-sm"
                      disabled={busy === u.id}
                      onClick={() => setResetFor(u)}
                    >
                      Reset password
                    </button>
                    {!self &&
                      (u.disabledAt ? (
                        <button
                          type="button"
                          className="btn btn-sm"
                          disabled={busy === u.id}
                          onClick={() =>
                            void mutate(
                              u.id,
                              () => api.patch(`admin/users/${u.id}`, { disabled: false }),
                              `${u.username} enabled.`,
                            )
                          }
                        >
                          Enable
                        </button>
                      ) : (
                        <button
                          type="button"
                          className="btn btn-sm btn-danger-ghost"
                          disabled={busy === u.id}
                          onClick={() =>
                            void mutate(
                              u.id,
                              () => api.patch(`admin/users/${u.id}`, { disabled: true }),
                              `${u.username} disabled.`,
                            )
                          }
                        >
                          Disable
                        </button>
                      ))}
                  </td>
                </tr>
              );
            })}
            {users.data && users.data.users.length === 0 && (
              <tr>
                <td colSpan={6} className="muted">
                  No users.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>

      <CreateUserForm
        onCreated={async (name) => {
          setMessage({ kind: 'ok', text: `User ${name} created.` });
          await users.reload();
        }}
      />

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

function CreateUserForm({ onCreated }: { onCreated: (username: string) => Promise<void> }) {
  const { api } = useAuth();
  const id = useId();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('user');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (password.length < PASSWORD_MIN_LENGTH) {
      setError(`The password must be at least ${PASSWORD_MIN_LENGTH} characters.`);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api.post('admin/users', { username: username.trim(), password, role });
      const name = username.trim();
      setUsername('');
      setPassword('');
      setRole('user');
      await onCreated(name);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Create user</h2>
      {error && (
        <div role="alert" className="notice notice-error">
          {error}
        </div>
      )}
      <form className="inline-form" onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor={`${id}-u`}>Username</label>
          <input
            id={`${id}-u`}
            autoComplete="off"
            spellCheck={false}
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            required
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-p`}>Password</label>
          <input
            id={`${id}-p`}
            type="password"
            autoComplete="new-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-r`}>Role</label>
          <select id={`${id}-r`} value={role} onChange={(e) => setRole(e.target.value as Role)}>
            <option value="user">user</option>
            <option value="admin">admin</option>
          </select>
        </div>
        <button type="submit" className="btn btn-primary" disabled={busy}>
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
  const { api } = useAuth();
  const id = useId();
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (password.length < PASSWORD_MIN_LENGTH) {
      setError(`The password must be at least ${PASSWORD_MIN_LENGTH} characters.`);
      return;
    }
    try {
      await api.post(`admin/users/${props.user.id}/password`, { password });
      props.onDone(`Password of ${props.user.username} reset.`);
    } catch (err) {
      setError(describeError(err));
    }
  };
  return (
    <Modal title={`Reset password for ${props.user.username}`} onCancel={props.onCancel}>
      <form className="form-stack" onSubmit={submit} noValidate>
        {error && (
          <div role="alert" className="notice notice-error">
            {error}
          </div>
        )}
        <div className="field">
          <label htmlFor={`${id}-np`}>New password</label>
          <input
            id={`${id}-np`}
            type="password"
            autoComplete="new-password"
            autoFocus
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </div>
        <div className="modal-actions">
          <button type="button" className="btn" onClick={props.onCancel}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary">
            Reset password
          </button>
        </div>
      </form>
    </Modal>
  );
}
