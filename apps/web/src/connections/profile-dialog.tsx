import {
  type AuthMethod,
  type CreateProfileRequest,
  CreateProfileRequestSchema,
  type Credential,
  type Folder,
  type Profile,
} from '@tether/protocol';
import { type FormEvent, type ReactNode, useId, useState } from 'react';
import { useAuth } from '../auth/auth-context';
import { Modal } from '../components/modal';
import { isApiError } from '../lib/api-client';
import { errorText } from '../lib/queries';
import { AUTH_METHOD_LABELS, credentialLabel, parseTags, sortFolders } from './saved-connections';

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
  const { api } = useAuth();
  const id = useId();
  const p = props.profile;
  const [name, setName] = useState(p?.name ?? '');
  const [host, setHost] = useState(p?.host ?? '');
  const [port, setPort] = useState(String(p?.port ?? 22));
  const [username, setUsername] = useState(p?.username ?? '');
  const [authMethod, setAuthMethod] = useState<AuthMethod>(p?.authMethod ?? 'none');
  const [credentialId, setCredentialId] = useState(p?.credentialId ?? '');
  const [deviceType, setDeviceType] = useState(p?.deviceType ?? '');
  const [model, setModel] = useState(p?.model ?? '');
  const [tags, setTags] = useState(p?.tags.join(', ') ?? '');
  const [notes, setNotes] = useState(p?.notes ?? '');
  const [folderId, setFolderId] = useState(p ? (p.folderId ?? '') : (props.folderId ?? ''));
  const [forgetSecret, setForgetSecret] = useState(false);
  const [errors, setErrors] = useState<Partial<Record<FieldKey, string>>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const chooseCredential = (value: string) => {
    setCredentialId(value);
    const c = props.credentials.find((x) => x.id === value);
    // A credential set implies its method; keep an explicit choice that already matches.
    if (c) setAuthMethod(c.kind === 'password' ? 'password' : 'publickey');
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const body: CreateProfileRequest = {
      name,
      host,
      port: port === '' ? Number.NaN : Number(port),
      username: username.trim() || null,
      authMethod,
      credentialId: credentialId || null,
      folderId: folderId || null,
      deviceType: deviceType.trim() || null,
      model: model.trim() || null,
      tags: parseTags(tags),
      notes: notes.trim() || null,
    };
    const parsed = CreateProfileRequestSchema.safeParse(body);
    if (!parsed.success) {
      const next: Partial<Record<FieldKey, string>> = {};
      for (const issue of parsed.error.issues) {
        const key = String(issue.path[0] ?? 'name') as FieldKey;
        if (key in FIELD_LABELS && !next[key]) next[key] = `${FIELD_LABELS[key]} ${issue.message}.`;
      }
      setErrors(next);
      return;
    }
    setErrors({});
    setFormError(null);
    setBusy(true);
    try {
      const res = p
        ? await api.patch<{ profile: Profile }>(`profiles/${p.id}`, {
            ...body,
            ...(forgetSecret ? { secret: null } : {}),
          })
        : await api.post<{ profile: Profile }>('profiles', body);
      props.onSaved(res.profile, !p);
    } catch (err) {
      if (isApiError(err) && err.fields) {
        const next: Partial<Record<FieldKey, string>> = {};
        for (const [k, v] of Object.entries(err.fields)) {
          if (k in FIELD_LABELS) next[k as FieldKey] = `${FIELD_LABELS[k as FieldKey]} ${v}.`;
        }
        setErrors(next);
        if (Object.keys(next).length === 0) setFormError(errorText(err));
      } else {
        setFormError(errorText(err));
      }
    } finally {
      setBusy(false);
    }
  };

  const field = (key: FieldKey, control: (a: FieldA11y) => ReactNode, className = 'span-4') => (
    <div className={`field ${className}`}>
      <label htmlFor={`${id}-${key}`}>{FIELD_LABELS[key]}</label>
      {control({
        id: `${id}-${key}`,
        'aria-invalid': errors[key] ? true : undefined,
        'aria-describedby': errors[key] ? `${id}-${key}-err` : undefined,
      })}
      {errors[key] && (
        <span className="field-error" id={`${id}-${key}-err`}>
          {errors[key]}
        </span>
      )}
    </div>
  );

  const credential = props.credentials.find((c) => c.id === credentialId);

  return (
    <Modal
      title={p ? `Edit ${p.name}` : 'New saved connection'}
      onCancel={props.onCancel}
      className="modal-wide"
    >
      <form className="form-grid" onSubmit={submit} noValidate autoComplete="off">
        {formError && (
          <div role="alert" className="notice notice-error span-4">
            {formError}
          </div>
        )}
        {field(
          'name',
          (a) => (
            <input
              {...a}
              value={name}
              autoFocus
              spellCheck={false}
              onChange={(e) => setName(e.target.value)}
            />
          ),
          'span-2',
        )}
        {field(
          'folderId',
          (a) => (
            <select {...a} value={folderId} onChange={(e) => setFolderId(e.target.value)}>
              <option value="">No folder</option>
              {sortFolders(props.folders).map((f) => (
                <option key={f.id} value={f.id}>
                  {f.name}
                </option>
              ))}
            </select>
          ),
          'span-2',
        )}
        {field(
          'host',
          (a) => (
            <input
              {...a}
              value={host}
              spellCheck={false}
              autoCapitalize="none"
              placeholder="server.example.com"
              onChange={(e) => setHost(e.target.value)}
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
              value={port}
              onChange={(e) => setPort(e.target.value.replace(/[^0-9]/g, ''))}
            />
          ),
          'span-1',
        )}
        {field(
          'username',
          (a) => (
            <input
              {...a}
              value={username}
              spellCheck={false}
              autoCapitalize="none"
              placeholder={credential?.username ? `${credential.username} (from ${credential.name})` : ''}
              onChange={(e) => setUsername(e.target.value)}
            />
          ),
          'span-2',
        )}
        {field(
          'authMethod',
          (a) => (
            <select {...a} value={authMethod} onChange={(e) => setAuthMethod(e.target.value as AuthMethod)}>
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
          <select {...a} value={credentialId} onChange={(e) => chooseCredential(e.target.value)}>
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
            <input
              type="checkbox"
              checked={forgetSecret}
              onChange={(e) => setForgetSecret(e.target.checked)}
            />
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
                value={deviceType}
                spellCheck={false}
                placeholder="linux, cisco_ios…"
                onChange={(e) => setDeviceType(e.target.value)}
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
            <input {...a} value={model} spellCheck={false} onChange={(e) => setModel(e.target.value)} />
          ),
          'span-2',
        )}
        {field('tags', (a) => (
          <input
            {...a}
            value={tags}
            spellCheck={false}
            placeholder="Comma-separated: core, dc1"
            onChange={(e) => setTags(e.target.value)}
          />
        ))}
        {field('notes', (a) => (
          <textarea {...a} rows={3} value={notes} onChange={(e) => setNotes(e.target.value)} />
        ))}
        <div className="modal-actions span-4">
          <button type="button" className="btn" onClick={props.onCancel}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {p ? 'Save' : 'Create'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

interface FieldA11y {
  id: string;
  'aria-invalid': true | undefined;
  'aria-describedby': string | undefined;
}
