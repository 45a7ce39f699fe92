import {
  type ChangePasswordRequest,
  ChangePasswordRequestSchema,
  type KnownHost,
  type KnownHostList,
  type MeResponse,
} from '@tether/protocol';
import { useId, useState } from 'react';
import { z } from 'zod';
import { useAuth } from '../auth/auth-context';
import { type Column, DataTable } from '../components/data-table';
import { Field, serverErrors, useSchemaForm } from '../components/form';
import { ErrorNotice, Notice, type NoticeMessage } from '../components/notice';
import { isApiError } from '../lib/api-client';
import { absoluteTime, relativeTime } from '../lib/format';
import { useApiMutation, useApiQuery } from '../lib/queries';

export function AccountPage() {
  const auth = useAuth();
  // Fresh from the server: the in-memory copy dates from sign-in.
  const me = useApiQuery<MeResponse>('auth/me');
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

/** The protocol's request, and the confirmation only the form has. */
const ChangePasswordFormSchema = ChangePasswordRequestSchema.extend({ confirm: z.string() }).refine(
  (v) => v.newPassword === v.confirm,
  { path: ['confirm'], message: 'does not match the new password' },
);

function ChangePasswordForm() {
  const id = useId();
  const [result, setResult] = useState<NoticeMessage>(null);
  const form = useSchemaForm(ChangePasswordFormSchema, {
    defaultValues: { currentPassword: '', newPassword: '', confirm: '' },
  });
  const { errors, isSubmitting } = form.formState;
  const change = useApiMutation(
    (api, body: ChangePasswordRequest) => api.post('auth/password', body),
    ['auth/me'],
  );

  const submit = form.handleSubmit(async ({ currentPassword, newPassword }) => {
    setResult(null);
    try {
      await change.mutateAsync({ currentPassword, newPassword });
      form.reset();
      setResult({ kind: 'ok', text: 'Password changed. Your other sessions were signed out.' });
    } catch (err) {
      if (isApiError(err) && err.code === 'INVALID_CREDENTIALS') {
        form.setError('currentPassword', { type: 'server', message: 'is wrong' });
        return;
      }
      const text = serverErrors(err, form);
      if (text) setResult({ kind: 'error', text });
    }
  });

  return (
    <section className="card" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Change password</h2>
      <Notice message={result} />
      <form className="form-stack narrow" onSubmit={submit} noValidate>
        <input type="text" name="username" autoComplete="username" hidden readOnly value="" />
        <Field id={`${id}-c`} label="Current password" error={errors.currentPassword}>
          {(a11y) => (
            <input
              {...a11y}
              type="password"
              autoComplete="current-password"
              {...form.register('currentPassword')}
            />
          )}
        </Field>
        <Field id={`${id}-n`} label="New password" error={errors.newPassword}>
          {(a11y) => (
            <input {...a11y} type="password" autoComplete="new-password" {...form.register('newPassword')} />
          )}
        </Field>
        <Field id={`${id}-k`} label="Confirm new password" error={errors.confirm}>
          {(a11y) => (
            <input {...a11y} type="password" autoComplete="new-password" {...form.register('confirm')} />
          )}
        </Field>
        <div>
          <button type="submit" className="btn btn-primary" disabled={isSubmitting}>
            Change password
          </button>
        </div>
      </form>
    </section>
  );
}

const KNOWN_HOST_COLUMNS: Column<KnownHost>[] = [
  {
    header: 'Host',
    className: 'mono',
    cell: (h) => (
      <>
        {h.host}:{h.port}
      </>
    ),
  },
  { header: 'Key type', className: 'mono', cell: (h) => h.keyType },
  { header: 'Fingerprint', className: 'mono fingerprint', cell: (h) => h.fingerprint },
  { header: 'Added', title: (h) => absoluteTime(h.createdAt), cell: (h) => relativeTime(h.createdAt) },
];

function KnownHosts() {
  const hosts = useApiQuery<KnownHostList>('known-hosts');
  const forget = useApiMutation((api, h: KnownHost) => api.del(`known-hosts/${h.id}`), ['known-hosts']);
  const id = useId();

  return (
    <section className="card" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Known hosts</h2>
      <p className="muted">Host keys you accepted. Forget one if its server was legitimately reinstalled.</p>
      <ErrorNotice error={forget.error} />
      <DataTable
        rows={hosts.data?.knownHosts}
        columns={KNOWN_HOST_COLUMNS}
        rowKey={(h) => h.id}
        loading={hosts.isPending}
        error={hosts.error}
        empty="No known hosts yet."
        actions={(h) => (
          <button
            type="button"
            className="btn btn-sm btn-danger-ghost"
            onClick={() => forget.mutate(h)}
            aria-label={`Forget ${h.host}:${h.port}`}
          >
            Forget
          </button>
        )}
      />
    </section>
  );
}
