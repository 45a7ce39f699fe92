import { CreateFolderRequestSchema, type Folder, type Profile, type SshAuth } from '@tether/protocol';
import { type FormEvent, useId, useState } from 'react';
import { useAuth } from '../auth/auth-context';
import { ConfirmDialog } from '../components/confirm-dialog';
import { Field, FormDialog, serverErrors, useSchemaForm } from '../components/form';
import { Modal } from '../components/modal';
import { ErrorNotice } from '../components/notice';
import { PrivateKeyFields } from '../components/private-key-fields';
import { errorText } from '../lib/queries';
import { hostLabel, type MissingForConnect, sortFolders } from './saved-connections';

/** Runs an API call for a dialog: busy flag, error message, success callback. */
function useDialogAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}

export function FolderNameDialog(props: {
  folder?: Folder;
  onDone: (folder: Folder) => void;
  onCancel: () => void;
}) {
  const { api } = useAuth();
  const id = useId();
  const form = useSchemaForm(CreateFolderRequestSchema, {
    defaultValues: { name: props.folder?.name ?? '' },
  });
  const { errors, isSubmitting: busy } = form.formState;
  const [error, setError] = useState<string | null>(null);
  const submit = form.handleSubmit(async ({ name }) => {
    setError(null);
    try {
      const res = props.folder
        ? await api.patch<{ folder: Folder }>(`folders/${props.folder.id}`, { name })
        : await api.post<{ folder: Folder }>('folders', { name });
      props.onDone(res.folder);
    } catch (err) {
      // Beside the field when the broker names it (a taken name, say).
      setError(serverErrors(err, form));
    }
  });
  return (
    <FormDialog
      title={props.folder ? `Rename folder ${props.folder.name}` : 'New folder'}
      onCancel={props.onCancel}
      onSubmit={submit}
      submitLabel={props.folder ? 'Rename' : 'Create folder'}
      busy={busy}
      error={error}
    >
      <Field id={`${id}-name`} label="Folder name" error={errors.name}>
        {(a11y) => <input {...a11y} autoFocus spellCheck={false} {...form.register('name')} />}
      </Field>
    </FormDialog>
  );
}

/**
 * Deleting a non-empty folder is refused by the API unless its connections go somewhere: moved
 * to another folder (or to no folder), or deleted first, one by one, by this dialog.
 */
export function DeleteFolderDialog(props: {
  folder: Folder;
  folders: readonly Folder[];
  /** The folder's profiles (needed only for "delete them too"). */
  profiles: readonly Profile[];
  onDone: (message: string) => void;
  onCancel: () => void;
}) {
  const { api } = useAuth();
  const id = useId();
  const { folder } = props;
  const count = Math.max(folder.profileCount, props.profiles.length);
  const [choice, setChoice] = useState<'move' | 'delete'>('move');
  const [moveTo, setMoveTo] = useState('root');
  const { busy, error, run } = useDialogAction();
  const others = sortFolders(props.folders.filter((f) => f.id !== folder.id));
  const plural = count === 1 ? 'connection' : 'connections';

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      if (count === 0) {
        await api.del(`folders/${folder.id}`);
        props.onDone(`Folder ${folder.name} deleted.`);
      } else if (choice === 'move') {
        await api.del(`folders/${folder.id}?moveTo=${encodeURIComponent(moveTo)}`);
        const target =
          moveTo === 'root' ? 'no folder' : (others.find((f) => f.id === moveTo)?.name ?? 'another folder');
        props.onDone(`Folder ${folder.name} deleted; ${count} ${plural} moved to ${target}.`);
      } else {
        for (const p of props.profiles) await api.del(`profiles/${p.id}`);
        await api.del(`folders/${folder.id}`);
        props.onDone(`Folder ${folder.name} and its ${count} ${plural} deleted.`);
      }
    });
  };

  return (
    <Modal title={`Delete folder ${folder.name}`} onCancel={props.onCancel} tone="warning">
      <form className="form-stack" onSubmit={submit} noValidate>
        <ErrorNotice error={error} />
        {count === 0 ? (
          <p>The folder is empty.</p>
        ) : (
          <fieldset className="form-stack">
            <legend>
              {folder.name} holds {count} saved {plural}. What should happen to {count === 1 ? 'it' : 'them'}?
            </legend>
            <label className="radio">
              <input
                type="radio"
                name={`${id}-choice`}
                checked={choice === 'move'}
                onChange={() => setChoice('move')}
              />
              Move {count === 1 ? 'it' : 'them'} to another folder
            </label>
            <div className="field indent">
              <label htmlFor={`${id}-to`}>Move connections to</label>
              <select
                id={`${id}-to`}
                value={moveTo}
                disabled={choice !== 'move'}
                onChange={(e) => setMoveTo(e.target.value)}
              >
                <option value="root">No folder</option>
                {others.map((f) => (
                  <option key={f.id} value={f.id}>
                    {f.name}
                  </option>
                ))}
              </select>
            </div>
            <label className="radio">
              <input
                type="radio"
                name={`${id}-choice`}
                checked={choice === 'delete'}
                onChange={() => setChoice('delete')}
              />
              Delete {count === 1 ? 'it' : 'them'} too
            </label>
          </fieldset>
        )}
        <div className="modal-actions">
          <button type="button" className="btn" onClick={props.onCancel}>
            Cancel
          </button>
          <button type="submit" className="btn btn-danger" disabled={busy}>
            {count > 0 && choice === 'move' ? 'Move and delete folder' : 'Delete folder'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

export function MoveProfileDialog(props: {
  profile: Profile;
  folders: readonly Folder[];
  onDone: (profile: Profile) => void;
  onCancel: () => void;
}) {
  const { api } = useAuth();
  const id = useId();
  const [folderId, setFolderId] = useState(props.profile.folderId ?? '');
  const { busy, error, run } = useDialogAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const res = await api.post<{ profile: Profile }>(`profiles/${props.profile.id}/move`, {
        folderId: folderId || null,
      });
      props.onDone(res.profile);
    });
  };
  return (
    <Modal title={`Move ${props.profile.name}`} onCancel={props.onCancel}>
      <form className="form-stack" onSubmit={submit} noValidate>
        <ErrorNotice error={error} />
        <div className="field">
          <label htmlFor={`${id}-folder`}>Folder</label>
          <select
            id={`${id}-folder`}
            value={folderId}
            autoFocus
            onChange={(e) => setFolderId(e.target.value)}
          >
            <option value="">No folder</option>
            {sortFolders(props.folders).map((f) => (
              <option key={f.id} value={f.id}>
                {f.name}
              </option>
            ))}
          </select>
        </div>
        <div className="modal-actions">
          <button type="button" className="btn" onClick={props.onCancel}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={busy}>
            Move
          </button>
        </div>
      </form>
    </Modal>
  );
}

export function DeleteProfileDialog(props: { profile: Profile; onDone: () => void; onCancel: () => void }) {
  const { api } = useAuth();
  return (
    <ConfirmDialog
      title={`Delete ${props.profile.name}`}
      confirmLabel="Delete"
      onConfirm={async () => {
        await api.del(`profiles/${props.profile.id}`);
        props.onDone();
      }}
      onCancel={props.onCancel}
    >
      <p>
        Delete the saved connection <strong>{props.profile.name}</strong> ({hostLabel(props.profile)})?
        Running terminals opened from it keep running.
      </p>
    </ConfirmDialog>
  );
}

/**
 * Asks for what a saved connection lacks before opening it: a username (saved on the profile:
 * the broker takes it from there) and/or the password or key, which is sent once with `open`
 * and not stored.
 */
export function ConnectProfileDialog(props: {
  profile: Profile;
  missing: MissingForConnect;
  onConnect: (auth: SshAuth | undefined) => void;
  onCancel: () => void;
}) {
  const { api } = useAuth();
  const id = useId();
  const { profile, missing } = props;
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [privateKey, setPrivateKey] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const { busy, error, setError, run } = useDialogAction();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (missing.username && !username.trim()) {
      setError('Enter a username.');
      return;
    }
    if (missing.secret === 'publickey' && !privateKey.trim()) {
      setError('Paste a private key or load one from a file.');
      return;
    }
    void run(async () => {
      if (missing.username) await api.patch(`profiles/${profile.id}`, { username: username.trim() });
      props.onConnect(
        missing.secret === 'password'
          ? { method: 'password', password }
          : missing.secret === 'publickey'
            ? { method: 'publickey', privateKey, ...(passphrase ? { passphrase } : {}) }
            : undefined,
      );
    });
  };

  return (
    <Modal title={`Connect to ${profile.name}`} onCancel={props.onCancel}>
      <form className="form-stack" onSubmit={submit} noValidate autoComplete="off">
        <p className="muted">
          {hostLabel(profile)}
          {profile.username ? ` as ${profile.username}` : ''}
        </p>
        <ErrorNotice error={error} />
        {missing.username && (
          <div className="field">
            <label htmlFor={`${id}-user`}>Username</label>
            <input
              id={`${id}-user`}
              value={username}
              autoFocus
              spellCheck={false}
              autoCapitalize="none"
              onChange={(e) => setUsername(e.target.value)}
            />
            <span className="muted small">Saved with the connection.</span>
          </div>
        )}
        {missing.secret === 'password' && (
          <div className="field">
            <label htmlFor={`${id}-pw`}>Password</label>
            <input
              id={`${id}-pw`}
              type="password"
              autoComplete="off"
              autoFocus={!missing.username}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </div>
        )}
        {missing.secret === 'publickey' && (
          <PrivateKeyFields
            idPrefix={id}
            privateKey={privateKey}
            onPrivateKey={setPrivateKey}
            passphrase={passphrase}
            onPassphrase={setPassphrase}
            autoFocus={!missing.username}
          />
        )}
        {missing.secret && (
          <p className="muted small">
            Sent once to connect, not stored. Link a credential set to the connection to skip this step.
          </p>
        )}
        <div className="modal-actions">
          <button type="button" className="btn" onClick={props.onCancel}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={busy}>
            Connect
          </button>
        </div>
      </form>
    </Modal>
  );
}
