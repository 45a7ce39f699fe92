import { type SshAuth, SshTargetSchema } from '@tether/protocol';
import { type FormEvent, useId, useRef, useState } from 'react';
import { Modal } from '../components/modal';
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
  const fileRef = useRef<HTMLInputElement>(null);
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

  const loadKey = async (file: File | undefined) => {
    if (!file) return;
    if (file.size > 32 * 1024) {
      setErrors((e) => ({ ...e, privateKey: 'That file is too large to be a private key.' }));
      return;
    }
    setPrivateKey(await file.text());
    setErrors(({ privateKey: _drop, ...rest }) => rest);
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
          <>
            <div className="field span-4">
              <label htmlFor={`${id}-key`}>Private key</label>
              <textarea
                id={`${id}-key`}
                className="mono"
                rows={5}
                spellCheck={false}
                placeholder="Paste a private key (OpenSSH or PEM)"
                value={privateKey}
                aria-invalid={errors.privateKey ? true : undefined}
                aria-describedby={describedBy('privateKey')}
                onChange={(e) => setPrivateKey(e.target.value)}
              />
              {err('privateKey')}
              <div className="file-row">
                <label htmlFor={`${id}-keyfile`} className="btn btn-sm">
                  Load key from file…
                </label>
                <input
                  ref={fileRef}
                  id={`${id}-keyfile`}
                  type="file"
                  className="sr-only"
                  onChange={(e) => void loadKey(e.target.files?.[0])}
                />
                <span className="muted">The key is sent once to the broker to connect and not stored.</span>
              </div>
            </div>
            <div className="field span-4">
              <label htmlFor={`${id}-passphrase`}>Passphrase</label>
              <input
                id={`${id}-passphrase`}
                type="password"
                autoComplete="off"
                placeholder="Only if the key is encrypted"
                value={passphrase}
                onChange={(e) => setPassphrase(e.target.value)}
              />
            </div>
          </>
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
