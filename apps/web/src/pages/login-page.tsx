import { type FormEvent, useEffect, useRef, useState } from 'react';
import { Navigate, useLocation } from 'react-router';
import { useAuth } from '../auth/auth-context';
import { isApiError } from '../lib/api-client';
import { loginErrorMessage, NETWORK_ERROR } from '../lib/messages';
import './login-page.css';

interface FromState {
  from?: string;
}

export function LoginPage() {
  const auth = useAuth();
  const location = useLocation();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const userRef = useRef<HTMLInputElement>(null);
  const passRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    document.title = 'Sign in · Tether';
  }, []);

  if (auth.session) {
    const from = (location.state as FromState | null)?.from;
    return <Navigate to={from && from !== '/login' ? from : '/terminals'} replace />;
  }

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    if (!username.trim()) {
      setError('Enter your username.');
      userRef.current?.focus();
      return;
    }
    if (!password) {
      setError('Enter your password.');
      passRef.current?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await auth.login(username.trim(), password);
    } catch (err) {
      setError(loginErrorMessage(isApiError(err) ? err : { code: NETWORK_ERROR }));
      setPassword('');
      passRef.current?.focus();
    } finally {
      setBusy(false);
    }
  };

  const notice = error ?? auth.endReason;

  return (
    <main className="login">
      <form className="login-card" onSubmit={onSubmit} noValidate aria-labelledby="login-title">
        <div className="brand brand-lg" aria-hidden="true">
          <span className="brand-mark">&gt;_</span> Tether
        </div>
        <h1 id="login-title" className="login-title">
          Sign in
        </h1>
        {notice && (
          <div role="alert" className={error ? 'notice notice-error' : 'notice notice-info'}>
            {notice}
          </div>
        )}
        <label className="field">
          <span>Username</span>
          <input
            ref={userRef}
            name="username"
            autoComplete="username"
            autoCapitalize="none"
            spellCheck={false}
            autoFocus
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
        </label>
        <label className="field">
          <span>Password</span>
          <input
            ref={passRef}
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
