import {
  type AuthMethod,
  type CreateProfileRequest,
  CreateProfileRequestSchema,
  type Credential,
  type Folder,
  type Profile,
} from '@tether/protocol';
import { type ReactNode, useId } from 'react';
import { z } from 'zod';
import { Field, FormDialog, useSchemaForm, useSubmit } from '../components/form';
import { useApiMutation } from '../lib/queries';
import { FolderOptions } from './connection-dialogs';
import { AUTH_METHOD_LABELS, credentialLabel, parseTags } from './saved-connections';
import { SAVED_CONNECTIONS } from './use-saved-connections';

type FieldKey =
  | 'name'
  | 'host'
  | 'port'
  | 'username'
  | 'authMethod'
  | 'credentialId'
  | 'deviceType'
  | 'model'
  | 'tags'
  | 'notes'
  | 'folderId';

const FIELD_LABELS: Record<FieldKey, string> = {
  name: 'Name',
  host: 'Host',
  port: 'Port',
  username: 'Username',
  authMethod: 'Authentication',
  credentialId: 'Credential',
  deviceType: 'Device type',
  model: 'Model',
  tags: 'Tags',
  notes: 'Notes',
  folderId: 'Folder',
};

const AUTH_METHODS: AuthMethod[] = ['none', 'password', 'publickey', 'keyboard-interactive'];

/** What the dialog edits: text as typed (port, comma-separated tags). */
interface ProfileFormValues {
  name: string;
  host: string;
  port: string;
  username: string;
  authMethod: AuthMethod;
  credentialId: string;
  deviceType: string;
  model: string;
  tags: string;
  notes: string;
  folderId: string;
  forgetSecret: boolean;
}

function toRequest(v: ProfileFormValues): CreateProfileRequest {
  return {
    name: v.name,
    host: v.host,
    port: v.port === '' ? Number.NaN : Number(v.port),
    username: v.username.trim() || null,
    authMethod: v.authMethod,
    credentialId: v.credentialId || null,
    folderId: v.folderId || null,
    deviceType: v.deviceType.trim() || null,
    model: v.model.trim() || null,
    tags: parseTags(v.tags),
    notes: v.notes.trim() || null,
  };
}

/** The typed text, checked by the protocol's own request schema; each issue on its field. */
const ProfileFormSchema = z
  .object({
    name: z.string(),
    host: z.string(),
    port: z.string(),
    username: z.string(),
    authMethod: z.enum(['none', 'password', 'publickey', 'keyboard-interactive']),
    credentialId: z.string(),
    deviceType: z.string(),
    model: z.string(),
    tags: z.string(),
    notes: z.string(),
    folderId: z.string(),
    forgetSecret: z.boolean(),
  })
  .superRefine((v, ctx) => {
    const parsed = CreateProfileRequestSchema.safeParse(toRequest(v));
    if (parsed.success) return;
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0] ?? 'name');
      ctx.addIssue({ code: 'custom', path: [key in FIELD_LABELS ? key : 'name'], message: issue.message });
    }
  });

/** Create (no `profile`) or edit a saved connection. */
export function ProfileDialog(props: {
  profile?: Profile;
  /** Preselected folder for a new profile. */
  folderId?: string | null;
  folders: readonly Folder[];
  credentials: readonly Credential[];
  /** Existing device types, offered as suggestions. */
  deviceTypes: readonly string[];
  onSaved: (profile: Profile, created: boolean) => void;
  onCancel: () => void;
}) {
  const id = useId();
  const p = props.profile;
  const form = useSchemaForm(ProfileFormSchema, {
    defaultValues: {
      name: p?.name ?? '',
      host: p?.host ?? '',
      port: String(p?.port ?? 22),
      username: p?.username ?? '',
      authMethod: p?.authMethod ?? 'none',
      credentialId: p?.credentialId ?? '',
      deviceType: p?.deviceType ?? '',
      model: p?.model ?? '',
      tags: p?.tags.join(', ') ?? '',
      notes: p?.notes ?? '',
      folderId: p ? (p.folderId ?? '') : (props.folderId ?? ''),
      forgetSecret: false,
    },
  });
  const { errors, isSubmitting: busy } = form.formState;
  const credentialId = form.watch('credentialId');
  const credentialField = form.register('credentialId');
  const portField = form.register('port');

  const save = useApiMutation(
    (api, v: ProfileFormValues) =>
      p
        ? api.patch<{ profile: Profile }>(`profiles/${p.id}`, {
            ...toRequest(v),
            ...(v.forgetSecret ? { secret: null } : {}),
          })
        : api.post<{ profile: Profile }>('profiles', toRequest(v)),
    SAVED_CONNECTIONS,
  );
  const { submit, error: formError } = useSubmit(form, async (v) => {
    props.onSaved((await save.mutateAsync(v)).profile, !p);
  });

  const field = (
    key: Exclude<keyof ProfileFormValues, 'forgetSecret'>,
    control: (a: FieldA11y) => ReactNode,
    className = 'span-4',
  ) => (
    <Field id={`${id}-${key}`} label={FIELD_LABELS[key]} error={errors[key]} className={className}>
      {control}
    </Field>
  );

  const credential = props.credentials.find((c) => c.id === credentialId);

  return (
    <FormDialog
      title={p ? `Edit ${p.name}` : 'New saved connection'}
      onCancel={props.onCancel}
      onSubmit={submit}
      submitLabel={p ? 'Save' : 'Create'}
      busy={busy}
      error={formError}
      grid
    >
      {field(
        'name',
        (a) => (
          <input {...a} autoFocus spellCheck={false} {...form.register('name')} />
        ),
        'span-2',
      )}
      {field(
        'folderId',
        (a) => (
          <select {...a} {...form.register('folderId')}>
            <FolderOptions folders={props.folders} />
          </select>
        ),
        'span-2',
      )}
      {field(
        'host',
        (a) => (
          <input
            {...a}
            spellCheck={false}
            autoCapitalize="none"
            placeholder="server.example.com"
            {...form.register('host')}
          />
        ),
        'span-3',
      )}
      {field(
        'port',
        (a) => (
          <input
            {...a}
            inputMode="numeric"
            {...portField}
            onChange={(e) => {
              e.target.value = e.target.value.replace(/[^0-9]/g, '');
              return portField.onChange(e);
            }}
          />
        ),
        'span-1',
      )}
      {field(
        'username',
        (a) => (
          <input
            {...a}
            spellCheck={false}
            autoCapitalize="none"
            placeholder={credential?.username ? `${credential.username} (from ${credential.name})` : ''}
            {...form.register('username')}
          />
        ),
        'span-2',
      )}
      {field(
        'authMethod',
        (a) => (
          <select {...a} {...form.register('authMethod')}>
            {AUTH_METHODS.map((m) => (
              <option key={m} value={m}>
                {AUTH_METHOD_LABELS[m]}
              </option>
            ))}
          </select>
        ),
        'span-2',
      )}
      {field('credentialId', (a) => (
        <select
          {...a}
          {...credentialField}
          onChange={(e) => {
            const c = props.credentials.find((x) => x.id === e.target.value);
            // A credential set implies its method; keep an explicit choice that already matches.
            if (c) form.setValue('authMethod', c.kind === 'password' ? 'password' : 'publickey');
            return credentialField.onChange(e);
          }}
        >
          <option value="">None</option>
          {props.credentials.map((c) => (
            <option key={c.id} value={c.id}>
              {credentialLabel(c)}
            </option>
          ))}
        </select>
      ))}
      {p?.hasStoredSecret && (
        <label className="check span-4">
          <input type="checkbox" {...form.register('forgetSecret')} />
          Forget the password or key stored on this connection
        </label>
      )}
      {field(
        'deviceType',
        (a) => (
          <>
            <input
              {...a}
              list={`${id}-device-types`}
              spellCheck={false}
              placeholder="linux, cisco_ios…"
              {...form.register('deviceType')}
            />
            <datalist id={`${id}-device-types`}>
              {props.deviceTypes.map((d) => (
                <option key={d} value={d} />
              ))}
            </datalist>
          </>
        ),
        'span-2',
      )}
      {field(
        'model',
        (a) => (
          <input {...a} spellCheck={false} {...form.register('model')} />
        ),
        'span-2',
      )}
      {field('tags', (a) => (
        <input
          {...a}
          spellCheck={false}
          placeholder="Comma-separated: core, dc1"
          {...form.register('tags')}
        />
      ))}
      {field('notes', (a) => (
        <textarea {...a} rows={3} {...form.register('notes')} />
      ))}
    </FormDialog>
  );
}

interface FieldA11y {
  id: string;
  'aria-invalid': true | undefined;
  'aria-describedby': string | undefined;
}
