import {
  type CreateCredentialRequest,
  type Credential,
  type CredentialKind,
  CredentialKindSchema,
  type CredentialList,
  DisplayNameSchema,
  ErrorCode,
  Permission,
  type Profile,
  type ProfileList,
  type ProfileSecret,
  type UpdateCredentialRequest,
} from '@tether/protocol';
import { useId, useState } from 'react';
import type { UseFormReturn } from 'react-hook-form';
import { z } from 'zod';
import { useAuth } from '../auth/auth-context';
import { ConfirmDialog } from '../components/confirm-dialog';
import { type Column, DataTable } from '../components/data-table';
import { Field, FormDialog, useSchemaForm, useSubmit } from '../components/form';
import { ErrorNotice, Notice, type NoticeMessage } from '../components/notice';
import { checkKeyFields, PrivateKeyFormFields } from '../components/private-key-fields';
import { hostLabel } from '../connections/saved-connections';
import { isApiError } from '../lib/api-client';
import { absoluteTime, relativeTime } from '../lib/format';
import { errorText, useApiFetch, useApiMutation, useApiQuery } from '../lib/queries';

const CREDENTIAL_COLUMNS: Column<Credential>[] = [
  { header: 'Name', cell: (c) => c.name },
  {
    header: 'Kind',
    cell: (c) => (
      <>
        {c.kind === 'password' ? 'Password' : 'Private key'}
        {c.kind === 'privateKey' && c.hasPassphrase && <span className="muted"> + passphrase</span>}
      </>
    ),
  },
  { header: 'Username', className: 'mono', cell: (c) => c.username ?? <span className="muted">—</span> },
  {
    header: 'Used by',
    cell: (c) =>
      c.usedBy === 0 ? (
        <span className="muted">unused</span>
      ) : (
        `${c.usedBy} ${c.usedBy === 1 ? 'connection' : 'connections'}`
      ),
  },
  { header: 'Updated', title: (c) => absoluteTime(c.updatedAt), cell: (c) => relativeTime(c.updatedAt) },
];

/**
 * Credential sets: a named username + password or private key, encrypted at rest, linked from
 * saved connections. Secrets are write-only: the API never returns them, so they are never shown.
 */
export function CredentialsPage() {
  const { hasPermission } = useAuth();
  const canWrite = hasPermission(Permission.PROFILES_WRITE);
  const list = useApiQuery<CredentialList>('credentials');
  const [message, setMessage] = useState<NoticeMessage>(null);
  const [editing, setEditing] = useState<Credential | null>(null);
  const [replacing, setReplacing] = useState<Credential | null>(null);
  const [deleting, setDeleting] = useState<Credential | null>(null);

  /** A dialog's change is made (its mutation refetched the list): close it, say what happened. */
  const done = (text: string) => {
    setEditing(null);
    setReplacing(null);
    setDeleting(null);
    setMessage({ kind: 'ok', text });
  };

  return (
    <div className="page-inner">
      <div className="page-head">
        <h1>Credentials</h1>
        <button type="button" className="btn btn-ghost btn-sm" onClick={() => void list.refetch()}>
          Refresh
        </button>
      </div>
      <p className="muted">
        Credential sets are shared by saved connections. Passwords and keys are encrypted on the server and
        never shown again: replace a secret to change it.
      </p>
      <Notice message={message} />
      <DataTable
        rows={list.data?.credentials}
        columns={CREDENTIAL_COLUMNS}
        rowKey={(c) => c.id}
        rowProps={(c) => ({ 'data-credential-id': c.id })}
        loading={list.isPending}
        error={list.error}
        empty="No credential sets yet."
        actions={(c) =>
          canWrite && (
            <>
              <button
                type="button"
                className="btn btn-sm"
                aria-label={`Edit ${c.name}`}
                onClick={() => setEditing(c)}
              >
                Edit
              </button>
              <button
                type="button"
                className="btn btn-sm"
                aria-label={`Replace secret of ${c.name}`}
                onClick={() => setReplacing(c)}
              >
                Replace secret
              </button>
              <button
                type="button"
                className="btn btn-sm btn-danger-ghost"
                aria-label={`Delete ${c.name}`}
                onClick={() => setDeleting(c)}
              >
                Delete
              </button>
            </>
          )
        }
      />

      {canWrite && <CreateCredentialForm onCreated={(c) => done(`Credential set ${c.name} created.`)} />}

      {editing && (
        <EditCredentialDialog
          credential={editing}
          onDone={(c) => done(`Credential set ${c.name} saved.`)}
          onCancel={() => setEditing(null)}
        />
      )}
      {replacing && (
        <ReplaceSecretDialog
          credential={replacing}
          onDone={(c) => done(`Secret of ${c.name} replaced.`)}
          onCancel={() => setReplacing(null)}
        />
      )}
      {deleting && (
        <DeleteCredentialDialog
          credential={deleting}
          onDone={() => done(`Credential set ${deleting.name} deleted.`)}
          onCancel={() => setDeleting(null)}
        />
      )}
    </div>
  );
}

/** The secret part of the credential forms: a kind and what that kind needs. */
const secretFields = {
  kind: CredentialKindSchema,
  password: z.string(),
  privateKey: z.string(),
  passphrase: z.string(),
};
type SecretValues = { kind: CredentialKind; password: string; privateKey: string; passphrase: string };

function requireSecret(v: SecretValues, ctx: z.RefinementCtx): void {
  if (v.kind === 'password' && !v.password)
    ctx.addIssue({ code: 'custom', path: ['password'], message: 'Enter the password.' });
  if (v.kind === 'privateKey') checkKeyFields(v, ctx);
}

function toSecret(v: SecretValues): ProfileSecret {
  return v.kind === 'password'
    ? { kind: 'password', password: v.password }
    : { kind: 'privateKey', privateKey: v.privateKey, ...(v.passphrase ? { passphrase: v.passphrase } : {}) };
}

const EMPTY_SECRET: SecretValues = { kind: 'password', password: '', privateKey: '', passphrase: '' };

const CreateCredentialFormSchema = z
  .object({ name: DisplayNameSchema, username: z.string(), ...secretFields })
  .superRefine(requireSecret);
const ReplaceSecretFormSchema = z.object(secretFields).superRefine(requireSecret);

/** Kind + secret inputs shared by "create" and "replace secret" (either form's fields). */
function SecretFields({
  idPrefix: id,
  form,
  secretLabel = 'Password',
}: {
  idPrefix: string;
  form: UseFormReturn<SecretValues, unknown, SecretValues>;
  secretLabel?: string;
}) {
  const { errors } = form.formState;
  const kind = form.watch('kind');
  return (
    <>
      <Field id={`${id}-kind`} label="Kind" className="span-2">
        {(a11y) => (
          <select {...a11y} {...form.register('kind')}>
            <option value="password">Password</option>
            <option value="privateKey">Private key</option>
          </select>
        )}
      </Field>
      {kind === 'password' ? (
        <Field id={`${id}-secret`} label={secretLabel} error={errors.password} className="span-4">
          {(a11y) => (
            <input {...a11y} type="password" autoComplete="new-password" {...form.register('password')} />
          )}
        </Field>
      ) : (
        <PrivateKeyFormFields form={form} idPrefix={id} fieldClassName="span-4" />
      )}
    </>
  );
}

function CreateCredentialForm({ onCreated }: { onCreated: (c: Credential) => void }) {
  const id = useId();
  const form = useSchemaForm(CreateCredentialFormSchema, {
    defaultValues: { name: '', username: '', ...EMPTY_SECRET },
  });
  const { errors, isSubmitting } = form.formState;
  const create = useApiMutation(
    (api, body: CreateCredentialRequest) => api.post<{ credential: Credential }>('credentials', body),
    ['credentials'],
  );
  const { submit, error } = useSubmit(form, async (v) => {
    const res = await create.mutateAsync({
      name: v.name,
      username: v.username.trim() || null,
      ...toSecret(v),
    });
    form.reset();
    onCreated(res.credential);
  });

  return (
    <section className="card card-narrow" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>New credential set</h2>
      <ErrorNotice error={error} />
      <form className="form-grid" onSubmit={submit} noValidate autoComplete="off">
        <Field id={`${id}-name`} label="Name" error={errors.name} className="span-2">
          {(a11y) => (
            <input {...a11y} spellCheck={false} placeholder="lab-admin" {...form.register('name')} />
          )}
        </Field>
        <Field id={`${id}-user`} label="Username" error={errors.username} className="span-2">
          {(a11y) => (
            <input
              {...a11y}
              spellCheck={false}
              autoCapitalize="none"
              placeholder="Optional"
              {...form.register('username')}
            />
          )}
        </Field>
        <SecretFields
          idPrefix={id}
          // Its values extend SecretValues; react-hook-form's types are invariant in them.
          form={form as unknown as UseFormReturn<SecretValues, unknown, SecretValues>}
        />
        <div className="span-4">
          <button type="submit" className="btn btn-primary" disabled={isSubmitting}>
            Create credential set
          </button>
        </div>
      </form>
    </section>
  );
}

/** Rename or change the username: the protocol's name rule; the broker checks the rest. */
const EditCredentialFormSchema = z.object({ name: DisplayNameSchema, username: z.string() });

function EditCredentialDialog(props: {
  credential: Credential;
  onDone: (c: Credential) => void;
  onCancel: () => void;
}) {
  const id = useId();
  const form = useSchemaForm(EditCredentialFormSchema, {
    defaultValues: { name: props.credential.name, username: props.credential.username ?? '' },
  });
  const { errors, isSubmitting } = form.formState;
  const update = useApiMutation(
    (api, body: UpdateCredentialRequest) =>
      api.patch<{ credential: Credential }>(`credentials/${props.credential.id}`, body),
    ['credentials', 'profiles'],
  );
  const { submit, error } = useSubmit(form, async ({ name, username }) => {
    const res = await update.mutateAsync({ name, username: username.trim() || null });
    props.onDone(res.credential);
  });
  return (
    <FormDialog
      title={`Edit ${props.credential.name}`}
      onCancel={props.onCancel}
      onSubmit={submit}
      submitLabel="Save"
      busy={isSubmitting}
      error={error}
    >
      <Field id={`${id}-name`} label="Name" error={errors.name}>
        {(a11y) => <input {...a11y} autoFocus {...form.register('name')} />}
      </Field>
      <Field id={`${id}-user`} label="Username" error={errors.username}>
        {(a11y) => (
          <input {...a11y} spellCheck={false} autoCapitalize="none" {...form.register('username')} />
        )}
      </Field>
    </FormDialog>
  );
}

function ReplaceSecretDialog(props: {
  credential: Credential;
  onDone: (c: Credential) => void;
  onCancel: () => void;
}) {
  const id = useId();
  const form = useSchemaForm(ReplaceSecretFormSchema, {
    defaultValues: { ...EMPTY_SECRET, kind: props.credential.kind },
  });
  const replace = useApiMutation(
    (api, body: UpdateCredentialRequest) =>
      api.patch<{ credential: Credential }>(`credentials/${props.credential.id}`, body),
    ['credentials'],
  );
  const { submit, error } = useSubmit(form, async (v) => {
    const res = await replace.mutateAsync({ secret: toSecret(v) });
    props.onDone(res.credential);
  });
  return (
    <FormDialog
      title={`Replace secret of ${props.credential.name}`}
      onCancel={props.onCancel}
      onSubmit={submit}
      submitLabel="Replace secret"
      busy={form.formState.isSubmitting}
      error={error}
      grid
      intro={
        <p className="muted">
          The stored secret is replaced for every connection using this set
          {props.credential.usedBy > 0 ? ` (${props.credential.usedBy})` : ''}.
        </p>
      }
    >
      <SecretFields idPrefix={id} form={form} secretLabel="New password" />
    </FormDialog>
  );
}

function DeleteCredentialDialog(props: { credential: Credential; onDone: () => void; onCancel: () => void }) {
  const fetchApi = useApiFetch();
  const remove = useApiMutation((api) => api.del(`credentials/${props.credential.id}`), ['credentials']);
  const [users, setUsers] = useState<Profile[] | null>(null);
  const { credential } = props;

  return (
    <ConfirmDialog
      title={`Delete ${credential.name}`}
      confirmLabel="Delete"
      canConfirm={users === null}
      onConfirm={async () => {
        try {
          await remove.mutateAsync();
        } catch (err) {
          if (isApiError(err) && err.code === ErrorCode.CONFLICT) {
            // The message names them too; the list lets the user see where they live.
            try {
              const res = await fetchApi<ProfileList>('profiles');
              setUsers(res.profiles.filter((p) => p.credentialId === credential.id));
            } catch {
              setUsers(null);
            }
          }
          throw err;
        }
        props.onDone();
      }}
      onCancel={props.onCancel}
      describeFailure={(err) => (
        <div role="alert" className="notice notice-error">
          <p>{errorText(err)}</p>
          {users && users.length > 0 && (
            <ul className="in-use" aria-label={`Connections using ${credential.name}`}>
              {users.map((p) => (
                <li key={p.id}>
                  <strong>{p.name}</strong> <span className="muted">{hostLabel(p)}</span>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    >
      <p>
        Delete the credential set <strong>{credential.name}</strong>? Its secret is erased from the server.
      </p>
    </ConfirmDialog>
  );
}
