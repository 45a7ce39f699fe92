import {
  CreateFolderRequestSchema,
  type Folder,
  MoveProfileRequestSchema,
  type Profile,
  type SshAuth,
} from '@tether/protocol';
import { useId } from 'react';
import { z } from 'zod';
import { ConfirmDialog } from '../components/confirm-dialog';
import { Field, FormDialog, RadioGroup, useSchemaForm, useSubmit } from '../components/form';
import { checkKeyFields, PrivateKeyFormFields, publicKeyAuth } from '../components/private-key-fields';
import { useApiMutation } from '../lib/queries';
import { hostLabel, type MissingForConnect, sortFolders } from './saved-connections';
import { SAVED_CONNECTIONS } from './use-saved-connections';

/** The `<option>`s of a folder picker: "No folder" (value `noFolder`), then the folders by name. */
export function FolderOptions(props: { folders: readonly Folder[]; noFolder?: string }) {
  return (
    <>
      <option value={props.noFolder ?? ''}>No folder</option>
      {sortFolders(props.folders).map((f) => (
        <option key={f.id} value={f.id}>
          {f.name}
        </option>
      ))}
    </>
  );
}

export function FolderNameDialog(props: {
  folder?: Folder;
  onDone: (folder: Folder) => void;
  onCancel: () => void;
}) {
  const id = useId();
  const form = useSchemaForm(CreateFolderRequestSchema, {
    defaultValues: { name: props.folder?.name ?? '' },
  });
  const save = useApiMutation(
    (api, body: { name: string }) =>
      props.folder
        ? api.patch<{ folder: Folder }>(`folders/${props.folder.id}`, body)
        : api.post<{ folder: Folder }>('folders', body),
    SAVED_CONNECTIONS,
  );
  // A taken name, say, is said beside the field (the broker names it).
  const { submit, error, busy } = useSubmit(form, async (body) => {
    props.onDone((await save.mutateAsync(body)).folder);
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
      <Field id={`${id}-name`} label="Folder name" error={form.formState.errors.name}>
        {(a11y) => <input {...a11y} autoFocus spellCheck={false} {...form.register('name')} />}
      </Field>
    </FormDialog>
  );
}

const DeleteFolderFormSchema = z.object({ choice: z.enum(['move', 'delete']), moveTo: z.string() });

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
  const id = useId();
  const { folder } = props;
  const count = Math.max(folder.profileCount, props.profiles.length);
  const form = useSchemaForm(DeleteFolderFormSchema, { defaultValues: { choice: 'move', moveTo: 'root' } });
  const choice = form.watch('choice');
  const others = props.folders.filter((f) => f.id !== folder.id);
  const plural = count === 1 ? 'connection' : 'connections';
  const them = count === 1 ? 'it' : 'them';

  const remove = useApiMutation(async (api, { choice, moveTo }: z.infer<typeof DeleteFolderFormSchema>) => {
    if (count > 0 && choice === 'move') {
      await api.del(`folders/${folder.id}?moveTo=${encodeURIComponent(moveTo)}`);
      return;
    }
    for (const p of props.profiles) await api.del(`profiles/${p.id}`);
    await api.del(`folders/${folder.id}`);
  }, SAVED_CONNECTIONS);
  const { submit, error, busy } = useSubmit(form, async (v) => {
    await remove.mutateAsync(v);
    if (count === 0) props.onDone(`Folder ${folder.name} deleted.`);
    else if (v.choice === 'move') {
      const target =
        v.moveTo === 'root' ? 'no folder' : (others.find((f) => f.id === v.moveTo)?.name ?? 'another folder');
      props.onDone(`Folder ${folder.name} deleted; ${count} ${plural} moved to ${target}.`);
    } else props.onDone(`Folder ${folder.name} and its ${count} ${plural} deleted.`);
  });

  return (
    <FormDialog
      title={`Delete folder ${folder.name}`}
      onCancel={props.onCancel}
      onSubmit={submit}
      submitLabel={count > 0 && choice === 'move' ? 'Move and delete folder' : 'Delete folder'}
      busy={busy}
      error={error}
      danger
    >
      {count === 0 ? (
        <p>The folder is empty.</p>
      ) : (
        <>
          <RadioGroup
            legend={`${folder.name} holds ${count} saved ${plural}. What should happen to ${them}?`}
            options={[
              ['move', `Move ${them} to another folder`],
              ['delete', `Delete ${them} too`],
            ]}
            value={choice}
            onChange={(v) => form.setValue('choice', v)}
          />
          <Field id={`${id}-to`} label="Move connections to">
            {(a11y) => (
              <select {...a11y} disabled={choice !== 'move'} {...form.register('moveTo')}>
                <FolderOptions folders={others} noFolder="root" />
              </select>
            )}
          </Field>
        </>
      )}
    </FormDialog>
  );
}

/** The folder picker's value: "" is no folder. */
const MoveProfileFormSchema = z.object({
  folderId: z
    .string()
    .transform((v) => v || null)
    .pipe(MoveProfileRequestSchema.shape.folderId),
});

export function MoveProfileDialog(props: {
  profile: Profile;
  folders: readonly Folder[];
  onDone: (profile: Profile) => void;
  onCancel: () => void;
}) {
  const id = useId();
  const form = useSchemaForm(MoveProfileFormSchema, {
    defaultValues: { folderId: props.profile.folderId ?? '' },
  });
  const move = useApiMutation(
    (api, body: { folderId: string | null }) =>
      api.post<{ profile: Profile }>(`profiles/${props.profile.id}/move`, body),
    SAVED_CONNECTIONS,
  );
  const { submit, error, busy } = useSubmit(form, async (body) => {
    props.onDone((await move.mutateAsync(body)).profile);
  });
  return (
    <FormDialog
      title={`Move ${props.profile.name}`}
      onCancel={props.onCancel}
      onSubmit={submit}
      submitLabel="Move"
      busy={busy}
      error={error}
    >
      <Field id={`${id}-folder`} label="Folder" error={form.formState.errors.folderId}>
        {(a11y) => (
          <select {...a11y} autoFocus {...form.register('folderId')}>
            <FolderOptions folders={props.folders} />
          </select>
        )}
      </Field>
    </FormDialog>
  );
}

export function DeleteProfileDialog(props: { profile: Profile; onDone: () => void; onCancel: () => void }) {
  const remove = useApiMutation((api) => api.del(`profiles/${props.profile.id}`), SAVED_CONNECTIONS);
  return (
    <ConfirmDialog
      title={`Delete ${props.profile.name}`}
      confirmLabel="Delete"
      onConfirm={async () => {
        await remove.mutateAsync();
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

/** What the connect dialog asks for: only the parts the profile lacks are required. */
function connectFormSchema(missing: MissingForConnect) {
  return z
    .object({
      username: z.string().trim(),
      password: z.string(),
      privateKey: z.string(),
      passphrase: z.string(),
    })
    .superRefine((v, ctx) => {
      if (missing.username && !v.username)
        ctx.addIssue({ code: 'custom', path: ['username'], message: 'is required' });
      if (missing.secret === 'publickey') checkKeyFields(v, ctx);
    });
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
  const id = useId();
  const { profile, missing } = props;
  const form = useSchemaForm(connectFormSchema(missing), {
    defaultValues: { username: '', password: '', privateKey: '', passphrase: '' },
  });
  const { errors } = form.formState;
  const saveUsername = useApiMutation(
    (api, username: string) => api.patch(`profiles/${profile.id}`, { username }),
    SAVED_CONNECTIONS,
  );
  const { submit, error, busy } = useSubmit(form, async (v) => {
    if (missing.username) await saveUsername.mutateAsync(v.username);
    props.onConnect(
      missing.secret === 'password'
        ? { method: 'password', password: v.password }
        : missing.secret === 'publickey'
          ? publicKeyAuth(v)
          : undefined,
    );
  });

  return (
    <FormDialog
      title={`Connect to ${profile.name}`}
      onCancel={props.onCancel}
      onSubmit={submit}
      submitLabel="Connect"
      busy={busy}
      error={error}
      intro={
        <p className="muted">
          {hostLabel(profile)}
          {profile.username ? ` as ${profile.username}` : ''}
        </p>
      }
    >
      {missing.username && (
        <Field id={`${id}-user`} label="Username" error={errors.username}>
          {(a11y) => (
            <>
              <input
                {...a11y}
                autoFocus
                spellCheck={false}
                autoCapitalize="none"
                {...form.register('username')}
              />
              <span className="muted small">Saved with the connection.</span>
            </>
          )}
        </Field>
      )}
      {missing.secret === 'password' && (
        <Field id={`${id}-pw`} label="Password">
          {(a11y) => (
            <input
              {...a11y}
              type="password"
              autoComplete="off"
              autoFocus={!missing.username}
              {...form.register('password')}
            />
          )}
        </Field>
      )}
      {missing.secret === 'publickey' && (
        <PrivateKeyFormFields form={form} idPrefix={id} autoFocus={!missing.username} />
      )}
      {missing.secret && (
        <p className="muted small">
          Sent once to connect, not stored. Link a credential set to the connection to skip this step.
        </p>
      )}
    </FormDialog>
  );
}
