import {
  type Credential,
  type CredentialKind,
  type CredentialList,
  DisplayNameSchema,
  ErrorCode,
  Permission,
  type Profile,
  type ProfileList,
  type ProfileSecret,
  type UpdateCredentialRequest,
} from '@tether/protocol';
import { type FormEvent, useId, useState } from 'react';
import { z } from 'zod';
import { useAuth } from '../auth/auth-context';
import { type Column, DataTable } from '../components/data-table';
import { Field, serverErrors, useSchemaForm } from '../components/form';
import { Modal } from '../components/modal';
import { ErrorNotice, Notice, type NoticeMessage } from '../components/notice';
import { PrivateKeyFields } from '../components/private-key-fields';
import { hostLabel } from '../connections/saved-connections';
import { isApiError } from '../lib/api-client';
import { absoluteTime, relativeTime } from '../lib/format';
import { errorText, useApiMutation, useApiQuery } from '../lib/queries';

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

  const done = async (text: string) => {
    setEditing(null);
    setReplacing(null);
    setDeleting(null);
    setMessage({ kind: 'ok', text });
    await list.refetch();
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

      {canWrite && <CreateCredentialForm onCreated={(c) => void done(`Credential set ${c.name} created.`)} />}

      {editing && (
        <EditCredentialDialog
          credential={editing}
          onDone={(c) => void done(`Credential set ${c.name} saved.`)}
          onCancel={() => setEditing(null)}
        />
      )}
      {replacing && (
        <ReplaceSecretDialog
          credential={replacing}
          onDone={(c) => void done(`Secret of ${c.name} replaced.`)}
          onCancel={() => setReplacing(null)}
        />
      )}
      {deleting && (
        <DeleteCredentialDialog
          credential={deleting}
          onDone={() => void done(`Credential set ${deleting.name} deleted.`)}
          onCancel={() => setDeleting(null)}
        />
      )}
    </div>
  );
}

/** Kind + secret inputs shared by "create" and "replace secret". */
function SecretFields(props: {
  idPrefix: string;
  kind: CredentialKind;
  onKind: (k: CredentialKind) => void;
  secret: string;
  onSecret: (v: string) => void;
  passphrase: string;
  onPassphrase: (v: string) => void;
  secretLabel?: string;
}) {
  const { idPrefix: id } = props;
  return (
    <>
      <div className="field span-2">
        <label htmlFor={`${id}-kind`}>Kind</label>
        <select
          id={`${id}-kind`}
          value={props.kind}
          onChange={(e) => props.onKind(e.target.value as CredentialKind)}
        >
          <option value="password">Password</option>
          <option value="privateKey">Private key</option>
        </select>
      </div>
      {props.kind === 'password' ? (
        <div className="field span-4">
          <label htmlFor={`${id}-secret`}>{props.secretLabel ?? 'Password'}</label>
          <input
            id={`${id}-secret`}
            type="password"
            autoComplete="new-password"
            value={props.secret}
            onChange={(e) => props.onSecret(e.target.value)}
          />
        </div>
      ) : (
        <PrivateKeyFields
          idPrefix={id}
          fieldClassName="span-4"
          privateKey={props.secret}
          onPrivateKey={props.onSecret}
          passphrase={props.passphrase}
          onPassphrase={props.onPassphrase}
        />
      )}
    </>
  );
}

function toSecret(kind: CredentialKind, secret: string, passphrase: string): ProfileSecret | string {
  if (kind === 'password') return secret ? { kind, password: secret } : 'Enter the password.';
  return secret.trim()
    ? { kind, privateKey: secret, ...(passphrase ? { passphrase } : {}) }
    : 'Paste a private key or load one from a file.';
}

function CreateCredentialForm({ onCreated }: { onCreated: (c: Credential) => void }) {
  const { api } = useAuth();
  const id = useId();
  const [name, setName] = useState('');
  const [username, setUsername] = useState('');
  const [kind, setKind] = useState<CredentialKind>('password');
  const [secret, setSecret] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!name.trim()) {
      setError('Enter a name.');
      return;
    }
    const s = toSecret(kind, secret, passphrase);
    if (typeof s === 'string') {
      setError(s);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const res = await api.post<{ credential: Credential }>('credentials', {
        name: name.trim(),
        username: username.trim() || null,
        ...s,
      });
      setName('');
      setUsername('');
      setSecret('');
      setPassphrase('');
      onCreated(res.credential);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card card-narrow" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>New credential set</h2>
      {error && (
        <div role="alert" className="notice notice-error">
          {error}
        </div>
      )}
      <form className="form-grid" onSubmit={submit} noValidate autoComplete="off">
        <div className="field span-2">
          <label htmlFor={`${id}-name`}>Name</label>
          <input
            id={`${id}-name`}
            value={name}
            spellCheck={false}
            placeholder="lab-admin"
            onChange={(e) => setName(e.target.value)}
          />
        </div>
        <div className="field span-2">
          <label htmlFor={`${id}-user`}>Username</label>
          <input
            id={`${id}-user`}
            value={username}
            spellCheck={false}
            autoCapitalize="none"
            placeholder="Optional"
            onChange={(e) => setUsername(e.target.value)}
          />
        </div>
        <SecretFields
          idPrefix={id}
          kind={kind}
          onKind={setKind}
          secret={secret}
          onSecret={setSecret}
          passphrase={passphrase}
          onPassphrase={setPassphrase}
        />
        <div className="span-4">
          <button type="submit" className="btn btn-primary" disabled={busy}>
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
  const [error, setError] = useState<string | null>(null);
  const form = useSchemaForm(EditCredentialFormSchema, {
    defaultValues: { name: props.credential.name, username: props.credential.username ?? '' },
  });
  const { errors, isSubmitting } = form.formState;
  const update = useApiMutation(
    (api, body: UpdateCredentialRequest) =>
      api.patch<{ credential: Credential }>(`credentials/${props.credential.id}`, body),
    ['credentials', 'profiles'],
  );
  const submit = form.handleSubmit(async ({ name, username }) => {
    try {
      const res = await update.mutateAsync({ name, username: username.trim() || null });
      props.onDone(res.credential);
    } catch (err) {
      setError(serverErrors(err, form));
    }
  });
  return (
    <Modal title={`Edit ${props.credential.name}`} onCancel={props.onCancel}>
      <form className="form-stack" onSubmit={submit} noValidate autoComplete="off">
        <ErrorNotice error={error} />
        <Field id={`${id}-name`} label="Name" error={errors.name}>
          {(a11y) => <input {...a11y} autoFocus {...form.register('name')} />}
        </Field>
        <Field id={`${id}-user`} label="Username" error={errors.username}>
          {(a11y) => (
            <input {...a11y} spellCheck={false} autoCapitalize="none" {...form.register('username')} />
          )}
        </Field>
        <div className="modal-actions">
          <button type="button" className="btn" onClick={props.onCancel}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={isSubmitting}>
            Save
          </button>
        </div>
      </form>
    </Modal>
  );
}

function ReplaceSecretDialog(props: {
  credential: Credential;
  onDone: (c: Credential) => void;
  onCancel: () => void;
}) {
  const { api } = useAuth();
  const id = useId();
  const [kind, setKind] = useState<CredentialKind>(props.credential.kind);
  const [secret, setSecret] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const s = toSecret(kind, secret, passphrase);
    if (typeof s === 'string') {
      setError(s);
      return;
    }
    try {
      const res = await api.patch<{ credential: Credential }>(`credentials/${props.credential.id}`, {
        secret: s,
      });
      props.onDone(res.credential);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <Modal
      title={`Replace secret of ${props.credential.name}`}
      onCancel={props.onCancel}
      className="modal-wide"
    >
      <form className="form-grid" onSubmit={submit} noValidate autoComplete="off">
        <p className="muted span-4">
          The stored secret is replaced for every connection using this set
          {props.credential.usedBy > 0 ? ` (${props.credential.usedBy})` : ''}.
        </p>
        {error && (
          <div role="alert" className="notice notice-error span-4">
            {error}
          </div>
        )}
        <SecretFields
          idPrefix={id}
          kind={kind}
          onKind={setKind}
          secret={secret}
          onSecret={setSecret}
          passphrase={passphrase}
          onPassphrase={setPassphrase}
          secretLabel="New password"
        />
        <div className="modal-actions span-4">
          <button type="button" className="btn" onClick={props.onCancel}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary">
            Replace secret
          </button>
        </div>
      </form>
    </Modal>
  );
}

function DeleteCredentialDialog(props: { credential: Credential; onDone: () => void; onCancel: () => void }) {
  const { api } = useAuth();
  const [error, setError] = useState<string | null>(null);
  const [users, setUsers] = useState<Profile[] | null>(null);
  const [busy, setBusy] = useState(false);
  const { credential } = props;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.del(`credentials/${credential.id}`);
      props.onDone();
    } catch (err) {
      setError(errorText(err));
      if (isApiError(err) && err.code === ErrorCode.CONFLICT) {
        // The message names them too; the list lets the user see where they live.
        try {
          const res = await api.get<ProfileList>('profiles');
          setUsers(res.profiles.filter((p) => p.credentialId === credential.id));
        } catch {
          setUsers(null);
        }
      }
      setBusy(false);
    }
  };

  return (
    <Modal title={`Delete ${credential.name}`} onCancel={props.onCancel} tone="warning">
      <form className="form-stack" onSubmit={submit} noValidate>
        <p>
          Delete the credential set <strong>{credential.name}</strong>? Its secret is erased from the server.
        </p>
        {error && (
          <div role="alert" className="notice notice-error">
            <p>{error}</p>
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
        <div className="modal-actions">
          <button type="button" className="btn" onClick={props.onCancel} autoFocus>
            {error ? 'Close' : 'Cancel'}
          </button>
          <button type="submit" className="btn btn-danger" disabled={busy || users !== null}>
            Delete
          </button>
        </div>
      </form>
    </Modal>
  );
}
