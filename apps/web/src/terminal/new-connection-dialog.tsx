import { type SshAuth, SshTargetSchema } from '@tether/protocol';
import { type FormEvent, useId, useState } from 'react';
import { Modal } from '../components/modal';
import { PrivateKeyFields } from '../components/private-key-fields';
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

export function NewConnectionDialog(props: {
  defaults: ConnectionDefaults;
  onConnect: (request: OpenRequest, remembered: ConnectionDefaults) => void;
  onCancel: () => void;
}) {
  const [host, setHost] = useState(props.defaults.host);
  const [port, setPort] = useState(props.defaults.port);
  const [username, setUsername] = useState(props.defaults.username);
  const [method, setMethod] = useState<Method>(props.defaults.method);
  const [password, setPassword] = useState('');
  const [privateKey, setPrivateKey] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const id = useId();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const next: Record<string, string> = {};
    const portNum = Number(port);
    const parsed = SshTargetSchema.safeParse({ host, port: portNum, username });
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const key = String(issue.path[0] ?? 'host');
        if (!next[key]) {
          next[key] =
            key === 'port'
              ? 'Port must be 1–65535.'
              : key === 'username'
                ? 'Enter a username.'
                : 'Enter a host name or IP address.';
        }
      }
    }
    if (method === 'publickey' && !privateKey.trim())
      next.privateKey = 'Paste a private key or load one from a file.';
    setErrors(next);
    if (!parsed.success || Object.keys(next).length > 0) return;

    const auth: SshAuth =
      method === 'password'
        ? { method: 'password', password }
        : method === 'publickey'
          ? { method: 'publickey', privateKey, ...(passphrase ? { passphrase } : {}) }
          : { method: 'keyboard-interactive' };
    props.onConnect(
      { target: parsed.data, auth },
      { host: parsed.data.host, port: String(parsed.data.port), username: parsed.data.username, method },
    );
  };

  const err = (key: string) =>
    errors[key] ? (
      <span className="field-error" id={`${id}-${key}-err`}>
        {errors[key]}
      </span>
    ) : null;
  const describedBy = (key: string) => (errors[key] ? `${id}-${key}-err` : undefined);

  return (
    <Modal title="New connection" onCancel={props.onCancel} className="modal-wide">
      <form className="form-grid" onSubmit={submit} noValidate autoComplete="off">
        <div className="field span-3">
          <label htmlFor={`${id}-host`}>Host</label>
          <input
            id={`${id}-host`}
            value={host}
            autoFocus
            spellCheck={false}
            autoCapitalize="none"
            placeholder="server.example.com"
            aria-invalid={errors.host ? true : undefined}
            aria-describedby={describedBy('host')}
            onChange={(e) => setHost(e.target.value)}
          />
          {err('host')}
        </div>
        <div className="field span-1">
          <label htmlFor={`${id}-port`}>Port</label>
          <input
            id={`${id}-port`}
            inputMode="numeric"
            value={port}
            aria-invalid={errors.port ? true : undefined}
            aria-describedby={describedBy('port')}
            onChange={(e) => setPort(e.target.value.replace(/[^0-9]/g, ''))}
          />
          {err('port')}
        </div>
        <div className="field span-4">
          <label htmlFor={`${id}-user`}>Username</label>
          <input
            id={`${id}-user`}
            value={username}
            spellCheck={false}
            autoCapitalize="none"
            aria-invalid={errors.username ? true : undefined}
            aria-describedby={describedBy('username')}
            onChange={(e) => setUsername(e.target.value)}
          />
          {err('username')}
        </div>
        <fieldset className="span-4 radio-row">
          <legend>Authentication method</legend>
          {(
            [
              ['password', 'Password'],
              ['publickey', 'Private key'],
              ['keyboard-interactive', 'Keyboard-interactive'],
            ] as const
          ).map(([value, label]) => (
            <label key={value} className="radio">
              <input
                type="radio"
                name={`${id}-method`}
                value={value}
                checked={method === value}
                onChange={() => setMethod(value)}
              />
              {label}
            </label>
          ))}
        </fieldset>
        {method === 'password' && (
          <div className="field span-4">
            <label htmlFor={`${id}-password`}>Password</label>
            <input
              id={`${id}-password`}
              type="password"
              autoComplete="off"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </div>
        )}
        {method === 'publickey' && (
          <PrivateKeyFields
            idPrefix={id}
            fieldClassName="span-4"
            privateKey={privateKey}
            onPrivateKey={(value) => {
              setPrivateKey(value);
              setErrors(({ privateKey: _drop, ...rest }) => rest);
            }}
            passphrase={passphrase}
            onPassphrase={setPassphrase}
            error={errors.privateKey}
            note="The key is sent once to the broker to connect and not stored."
          />
        )}
        {method === 'keyboard-interactive' && (
          <p className="span-4 muted">
            The server's questions (password, one-time code…) will be asked after connecting.
          </p>
        )}
        <div className="modal-actions span-4">
          <button type="button" className="btn" onClick={props.onCancel}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary">
            Connect
          </button>
        </div>
      </form>
    </Modal>
  );
}
