import { type KnownHost, type KnownHostList, type MeResponse, PASSWORD_MIN_LENGTH } from '@tether/protocol';
import { type FormEvent, useId, useState } from 'react';
import { useAuth } from '../auth/auth-context';
import { isApiError } from '../lib/api-client';
import { absoluteTime, relativeTime } from '../lib/format';
import { describeError, useApiData } from '../lib/use-api-data';

export function AccountPage() {
  const auth = useAuth();
  // Fresh from the server: the in-memory copy dates from sign-in.
  const me = useApiData<MeResponse>('auth/me');
  const user = me.data?.user ?? auth.user;
  return (
    <div className="page-inner">
      <div className="page-head">
        <h1>Account</h1>
      </div>
      <p className="muted">
        Signed in as <strong className="mono">{user?.username}</strong> ({user?.role}).
        {user?.passwordChangedAt && (
          <span title={absoluteTime(user.passwordChangedAt)}>
            {' '}
            Password changed {relativeTime(user.passwordChangedAt)}.
          </span>
        )}
      </p>
      <ChangePasswordForm />
      <KnownHosts />
    </div>
  );
}

function ChangePasswordForm() {
  const { api } = useAuth();
  const id = useId();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [result, setResult] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (next.length < PASSWORD_MIN_LENGTH) {
      setResult({
        kind: 'error',
        text: `The new password must be at least ${PASSWORD_MIN_LENGTH} characters.`,
      });
      return;
    }
    if (next !== confirm) {
      setResult({ kind: 'error', text: 'The new passwords do not match.' });
      return;
    }
    setBusy(true);
    try {
      await api.post('auth/password', { currentPassword: current, newPassword: next }, {});
      setCurrent('');
      setNext('');
      setConfirm('');
      setResult({ kind: 'ok', text: 'Password changed. Your other sessions were signed out.' });
    } catch (err) {
      setResult({
        kind: 'error',
        text:
          isApiError(err) && err.code === 'INVALID_CREDENTIALS'
            ? 'The current password is wrong.'
            : describeError(err),
      });
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Change password</h2>
      {result && (
        <div
          role={result.kind === 'error' ? 'alert' : 'status'}
          className={`notice notice-${result.kind === 'error' ? 'error' : 'ok'}`}
        >
          {result.text}
        </div>
      )}
      <form className="form-stack narrow" onSubmit={submit} noValidate>
        <input type="text" name="username" autoComplete="username" hidden readOnly value="" />
        <div className="field">
          <label htmlFor={`${id}-c`}>Current password</label>
          <input
            id={`${id}-c`}
            type="password"
            autoComplete="current-password"
            value={current}
            onChange={(e) => setCurrent(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-n`}>New password</label>
          <input
            id={`${id}-n`}
            type="password"
            autoComplete="new-password"
            value={next}
            onChange={(e) => setNext(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-k`}>Confirm new password</label>
          <input
            id={`${id}-k`}
            type="password"
            autoComplete="new-password"
            value={confirm}
            onChange={(e) => setConfirm(e.target.value)}
          />
        </div>
        <div>
          <button type="submit" className="btn btn-primary" disabled={busy}>
            Change password
          </button>
        </div>
      </form>
    </section>
  );
}

function KnownHosts() {
  const { api } = useAuth();
  const hosts = useApiData<KnownHostList>('known-hosts');
  const [error, setError] = useState<string | null>(null);
  const id = useId();

  const forget = async (h: KnownHost) => {
    try {
      await api.del(`known-hosts/${h.id}`);
      setError(null);
      await hosts.reload();
    } catch (err) {
      setError(describeError(err));
    }
  };

  return (
    <section className="card" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Known hosts</h2>
      <p className="muted">Host keys you accepted. Forget one if its server was legitimately reinstalled.</p>
      {(error ?? hosts.error) && (
        <div role="alert" className="notice notice-error">
          {error ?? hosts.error}
        </div>
      )}
      <div className="table-wrap">
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Host</th>
              <th scope="col">Key type</th>
              <th scope="col">Fingerprint</th>
              <th scope="col">Added</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {hosts.data?.knownHosts.map((h) => (
              <tr key={h.id}>
                <th scope="row" className="mono">
                  {h.host}:{h.port}
                </th>
                <td className="mono">{h.keyType}</td>
                <td className="mono fingerprint">{h.fingerprint}</td>
                <td title={absoluteTime(h.createdAt)}>{relativeTime(h.createdAt)}</td>
                <td className="row-actions">
                  <button
                    type="button"
                    className="btn btn-sm btn-danger-ghost"
                    onClick={() => void forget(h)}
                    aria-label={`Forget ${h.host}:${h.port}`}
                  >
                    Forget
                  </button>
                </td>
              </tr>
            ))}
            {hosts.data && hosts.data.knownHosts.length === 0 && (
              <tr>
                <td colSpan={5} className="muted">
                  No known hosts yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
