import { LoginRequestSchema } from '@tether/protocol';
import { useEffect, useId, useState } from 'react';
import { Navigate, useLocation } from 'react-router';
import { useAuth } from '../auth/auth-context';
import { Field, useSchemaForm } from '../components/form';
import { isApiError } from '../lib/api-client';
import { loginErrorMessage, NETWORK_ERROR } from '../lib/messages';
import './login-page.css';

interface FromState {
  from?: string;
}

export function LoginPage() {
  const auth = useAuth();
  const location = useLocation();
  const id = useId();
  const form = useSchemaForm(LoginRequestSchema, { defaultValues: { username: '', password: '' } });
  const { errors, isSubmitting: busy } = form.formState;
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    document.title = 'Sign in · Tether';
  }, []);

  if (auth.session) {
    const from = (location.state as FromState | null)?.from;
    return <Navigate to={from && from !== '/login' ? from : '/terminals'} replace />;
  }

  const onSubmit = form.handleSubmit(async ({ username, password }) => {
    setError(null);
    try {
      await auth.login(username, password);
    } catch (err) {
      // One message for a wrong name or password (the broker does not say which).
      setError(loginErrorMessage(isApiError(err) ? err : { code: NETWORK_ERROR }));
      form.resetField('password');
      form.setFocus('password');
    }
  });

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
        <Field id={`${id}-user`} label="Username" error={errors.username}>
          {(a11y) => (
            <input
              {...a11y}
              autoComplete="username"
              autoCapitalize="none"
              spellCheck={false}
              autoFocus
              {...form.register('username')}
            />
          )}
        </Field>
        <Field id={`${id}-password`} label="Password" error={errors.password}>
          {(a11y) => (
            <input {...a11y} type="password" autoComplete="current-password" {...form.register('password')} />
          )}
        </Field>
        <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
