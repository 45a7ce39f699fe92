import { type SshAuth, SshTargetSchema } from '@tether/protocol';
import { useId } from 'react';
import { z } from 'zod';
import { Field, FormDialog, RadioGroup, useSchemaForm } from '../components/form';
import { checkKeyFields, PrivateKeyFormFields, publicKeyAuth } from '../components/private-key-fields';
import type { OpenRequest } from './terminal-connection';

type Method = SshAuth['method'];

/** Non-secret fields remembered for the next dialog (in memory, like everything else). */
export interface ConnectionDefaults {
  host: string;
  port: string;
  username: string;
  method: Method;
}

export const EMPTY_DEFAULTS: ConnectionDefaults = { host: '', port: '22', username: '', method: 'password' };

/** The protocol's target rules; the secret the method needs is the form's own rule. */
const NewConnectionFormSchema = z
  .object({
    host: SshTargetSchema.shape.host,
    // Typed as text: digits only (the field drops anything else as it is typed).
    port: z
      .string()
      .regex(/^\d+$/, 'must be from 1 to 65535')
      .transform(Number)
      .pipe(SshTargetSchema.shape.port.unwrap()),
    username: SshTargetSchema.shape.username,
    method: z.enum(['password', 'publickey', 'keyboard-interactive']),
    password: z.string(),
    privateKey: z.string(),
    passphrase: z.string(),
  })
  .superRefine((v, ctx) => {
    if (v.method === 'publickey') checkKeyFields(v, ctx);
  });

/** A failed attempt's request as the form's values (secrets too: they live in memory only). */
export function editValues(request: OpenRequest): (ConnectionDefaults & SecretValues) | null {
  if (!('target' in request)) return null;
  const { target, auth } = request;
  return {
    host: target.host,
    port: String(target.port ?? 22),
    username: target.username,
    method: auth?.method ?? 'keyboard-interactive',
    password: auth?.method === 'password' ? auth.password : '',
    privateKey: auth?.method === 'publickey' ? auth.privateKey : '',
    passphrase: auth?.method === 'publickey' ? (auth.passphrase ?? '') : '',
  };
}

interface SecretValues {
  password: string;
  privateKey: string;
  passphrase: string;
}

/**
 * New connection, or (with `editing`) a failed attempt's form again, as it was typed, to fix
 * and try again in the same tab.
 */
export function NewConnectionDialog(props: {
  defaults: ConnectionDefaults;
  editing?: ConnectionDefaults & SecretValues;
  onConnect: (request: OpenRequest, remembered: ConnectionDefaults) => void;
  onCancel: () => void;
}) {
  const id = useId();
  const form = useSchemaForm(NewConnectionFormSchema, {
    defaultValues: props.editing ?? { ...props.defaults, password: '', privateKey: '', passphrase: '' },
  });
  const { errors } = form.formState;
  const method = form.watch('method');
  const port = form.register('port');

  const submit = form.handleSubmit((v) => {
    const auth: SshAuth =
      v.method === 'password'
        ? { method: 'password', password: v.password }
        : v.method === 'publickey'
          ? publicKeyAuth(v)
          : { method: 'keyboard-interactive' };
    props.onConnect(
      { target: { host: v.host, port: v.port, username: v.username }, auth },
      { host: v.host, port: String(v.port), username: v.username, method: v.method },
    );
  });

  return (
    <FormDialog
      title={props.editing ? 'Edit connection' : 'New connection'}
      onCancel={props.onCancel}
      onSubmit={submit}
      submitLabel="Connect"
      grid
    >
      <Field id={`${id}-host`} label="Host" error={errors.host} className="span-3">
        {(a11y) => (
          <input
            {...a11y}
            autoFocus
            spellCheck={false}
            autoCapitalize="none"
            placeholder="server.example.com"
            {...form.register('host')}
          />
        )}
      </Field>
      <Field id={`${id}-port`} label="Port" error={errors.port} className="span-1">
        {(a11y) => (
          <input
            {...a11y}
            inputMode="numeric"
            {...port}
            onChange={(e) => {
              e.target.value = e.target.value.replace(/[^0-9]/g, '');
              return port.onChange(e);
            }}
          />
        )}
      </Field>
      <Field id={`${id}-user`} label="Username" error={errors.username} className="span-4">
        {(a11y) => (
          <input {...a11y} spellCheck={false} autoCapitalize="none" {...form.register('username')} />
        )}
      </Field>
      <RadioGroup
        className="span-4"
        legend="Authentication method"
        options={[
          ['password', 'Password'],
          ['publickey', 'Private key'],
          ['keyboard-interactive', 'Keyboard-interactive'],
        ]}
        value={method}
        onChange={(v) => form.setValue('method', v)}
      />
      {method === 'password' && (
        <Field id={`${id}-password`} label="Password" className="span-4">
          {(a11y) => <input {...a11y} type="password" autoComplete="off" {...form.register('password')} />}
        </Field>
      )}
      {method === 'publickey' && (
        <PrivateKeyFormFields
          form={form}
          idPrefix={id}
          fieldClassName="span-4"
          note="The key is sent once to the broker to connect and not stored."
        />
      )}
      {method === 'keyboard-interactive' && (
        <p className="span-4 muted">
          The server's questions (password, one-time code…) will be asked after connecting.
        </p>
      )}
    </FormDialog>
  );
}
