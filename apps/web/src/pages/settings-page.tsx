import {
  CursorStyleSchema,
  DEFAULT_USER_SETTINGS,
  FONT_SIZE_MAX,
  FONT_SIZE_MIN,
  SCROLLBACK_MAX,
  type UpdateUserSettingsRequest,
  type UserSettings,
  type UserSettingsResponse,
  UserSettingsSchema,
} from '@tether/protocol';
import { useId, useState } from 'react';
import { Field, RadioGroup, useSchemaForm, useSubmit } from '../components/form';
import { ErrorNotice, Notice, type NoticeMessage } from '../components/notice';
import { useApiMutation, useApiQuery } from '../lib/queries';

const CURSOR_LABELS: Record<UserSettings['cursorStyle'], string> = {
  block: 'Block',
  underline: 'Underline',
  bar: 'Bar',
};

/** Terminal settings, stored on the broker: they follow the user to any browser. */
export function SettingsPage() {
  const settings = useApiQuery<UserSettingsResponse>('settings');
  return (
    <div className="page-inner">
      <div className="page-head">
        <h1>Settings</h1>
      </div>
      <ErrorNotice error={settings.error} />
      {settings.isPending && <p className="muted">Loading…</p>}
      {settings.data && <SettingsForm current={settings.data.settings} />}
    </div>
  );
}

function SettingsForm({ current }: { current: UserSettings }) {
  const id = useId();
  const form = useSchemaForm(UserSettingsSchema, { defaultValues: current });
  const { errors, dirtyFields } = form.formState;
  const [message, setMessage] = useState<NoticeMessage>(null);
  const update = useApiMutation(
    (api, body: UpdateUserSettingsRequest) => api.patch<UserSettingsResponse>('settings', body),
    ['settings'],
  );
  const saved = (res: UserSettingsResponse, text: string) => {
    form.reset(res.settings);
    setMessage({ kind: 'ok', text });
  };
  // Only what changed is sent: a field left alone keeps following the default.
  const { submit, error } = useSubmit(form, async (values) => {
    setMessage(null);
    const change = Object.fromEntries(
      Object.keys(dirtyFields).map((k) => [k, values[k as keyof UserSettings]]),
    ) as UpdateUserSettingsRequest;
    saved(await update.mutateAsync(change), 'Settings saved.');
  });
  const resetAll = async () => {
    setMessage(null);
    const all = Object.fromEntries(Object.keys(DEFAULT_USER_SETTINGS).map((k) => [k, null]));
    try {
      saved(await update.mutateAsync(all), 'Settings back to their defaults.');
    } catch {
      setMessage({ kind: 'error', text: 'Could not reset the settings.' });
    }
  };

  return (
    <section className="card" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Terminal</h2>
      <Notice message={message} />
      <ErrorNotice error={error} />
      <form className="form-stack narrow" onSubmit={submit} noValidate>
        <RadioGroup
          legend="Theme"
          options={[
            ['dark', 'Dark'],
            ['light', 'Light'],
            ['auto', 'Match the system'],
          ]}
          value={form.watch('theme')}
          onChange={(v) => form.setValue('theme', v, { shouldDirty: true })}
          hint="The terminal itself stays dark in every theme."
        />
        <Field id={`${id}-font`} label="Font" error={errors.fontFamily}>
          {(a11y) => <input {...a11y} spellCheck={false} {...form.register('fontFamily')} />}
        </Field>
        <Field id={`${id}-size`} label="Font size" error={errors.fontSize}>
          {(a11y) => (
            <input
              {...a11y}
              type="number"
              min={FONT_SIZE_MIN}
              max={FONT_SIZE_MAX}
              {...form.register('fontSize', { valueAsNumber: true })}
            />
          )}
        </Field>
        <Field id={`${id}-cursor`} label="Cursor" error={errors.cursorStyle}>
          {(a11y) => (
            <select {...a11y} {...form.register('cursorStyle')}>
              {CursorStyleSchema.options.map((c) => (
                <option key={c} value={c}>
                  {CURSOR_LABELS[c]}
                </option>
              ))}
            </select>
          )}
        </Field>
        <label className="checkbox">
          <input type="checkbox" {...form.register('cursorBlink')} />
          Blinking cursor
        </label>
        <Field id={`${id}-scrollback`} label="Scrollback lines" error={errors.scrollback}>
          {(a11y) => (
            <input
              {...a11y}
              type="number"
              min={0}
              max={SCROLLBACK_MAX}
              step={1000}
              {...form.register('scrollback', { valueAsNumber: true })}
            />
          )}
        </Field>
        <label className="checkbox">
          <input type="checkbox" {...form.register('copyOnSelect')} />
          Copy selected text to the clipboard
        </label>
        <label className="checkbox">
          <input type="checkbox" {...form.register('rightClickPaste')} />
          Paste with a right click
        </label>
        <div className="row-actions">
          <button type="submit" className="btn btn-primary" disabled={update.isPending}>
            Save settings
          </button>
          <button type="button" className="btn" disabled={update.isPending} onClick={() => void resetAll()}>
            Reset to defaults
          </button>
        </div>
      </form>
    </section>
  );
}
