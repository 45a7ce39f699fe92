import { type FormEvent, useId, useState } from 'react';
import { Modal } from '../components/modal';
import type { HostKeyPrompt, KeyboardPrompt } from './terminal-connection';

/** Unknown host key: the user compares the SHA256 fingerprint before any credential is sent. */
export function HostKeyDialog({
  prompt,
  onDecision,
}: {
  prompt: HostKeyPrompt;
  onDecision: (accept: boolean) => void;
}) {
  const hostPort = prompt.port === 22 ? prompt.host : `[${prompt.host}]:${prompt.port}`;
  return (
    <Modal title="Verify host key" onCancel={() => onDecision(false)}>
      <p>
        This is the first connection to <strong>{hostPort}</strong>. Compare the fingerprint with the one the
        server's administrator gave you before you accept.
      </p>
      <dl className="kv">
        <dt>Host</dt>
        <dd>
          {prompt.host}:{prompt.port}
        </dd>
        <dt>Key type</dt>
        <dd>{prompt.keyType}</dd>
        <dt>Fingerprint</dt>
        <dd>
          <code className="fingerprint">{prompt.fingerprint}</code>
        </dd>
      </dl>
      <p className="muted">Accepting remembers this key; a different key later is refused with a warning.</p>
      <div className="modal-actions">
        <button type="button" className="btn" onClick={() => onDecision(false)}>
          Reject
        </button>
        <button type="button" className="btn btn-primary" autoFocus onClick={() => onDecision(true)}>
          Accept
        </button>
      </div>
    </Modal>
  );
}

/** Keyboard-interactive prompts relayed from the SSH server (OTP codes, password, …). */
export function KeyboardPromptDialog({
  prompt,
  onSubmit,
  onCancel,
}: {
  prompt: KeyboardPrompt;
  onSubmit: (responses: string[]) => void;
  onCancel: () => void;
}) {
  const [values, setValues] = useState<string[]>(() => prompt.prompts.map(() => ''));
  const baseId = useId();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onSubmit(values);
  };
  return (
    <Modal title={prompt.name.trim() || 'Authentication required'} onCancel={onCancel}>
      <form onSubmit={submit} className="form-stack">
        {prompt.host && (
          <p className="muted">
            Asked by{' '}
            <code>
              {prompt.username ? `${prompt.username}@` : ''}
              {prompt.port && prompt.port !== 22 ? `${prompt.host}:${prompt.port}` : prompt.host}
            </code>
          </p>
        )}
        {prompt.instructions.trim() && <p className="prewrap">{prompt.instructions}</p>}
        {prompt.prompts.map((p, i) => {
          const id = `${baseId}-${i}`;
          const label = p.prompt.trim().replace(/:$/, '') || `Response ${i + 1}`;
          return (
            <div className="field" key={id}>
              <label htmlFor={id}>{label}</label>
              <input
                id={id}
                type={p.echo ? 'text' : 'password'}
                autoComplete={p.echo ? 'off' : 'one-time-code'}
                autoFocus={i === 0}
                value={values[i] ?? ''}
                onChange={(e) => setValues((v) => v.map((x, j) => (j === i ? e.target.value : x)))}
              />
            </div>
          );
        })}
        <div className="modal-actions">
          <button type="button" className="btn" onClick={onCancel}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary">
            Submit
          </button>
        </div>
      </form>
    </Modal>
  );
}
