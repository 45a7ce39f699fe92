import { type ReactNode, useState } from 'react';
import type { z } from 'zod';

/** What a form that needs a key says while it has none. */
export const KEY_REQUIRED = 'Paste a private key or load one from a file.';

/** A key form's values as the protocol's `publickey` auth (an empty passphrase is left out). */
export function publicKeyAuth(v: { privateKey: string; passphrase: string }) {
  return {
    method: 'publickey' as const,
    privateKey: v.privateKey,
    ...(v.passphrase ? { passphrase: v.passphrase } : {}),
  };
}

/** What a form says when the pasted key is encrypted and no passphrase was given. */
export const PASSPHRASE_REQUIRED = 'This key is encrypted: enter its passphrase.';

/** A PEM armour line for an SSH private key (built from its parts, so no key text sits in the source). */
export function armor(edge: 'BEGIN' | 'END', kind: 'OPENSSH' | 'ENCRYPTED'): string {
  return `-----${edge} ${kind} PRIVATE KEY-----`;
}

/**
 * Whether a private key is encrypted (so a passphrase is needed), read from the text alone:
 * OpenSSH's own format names its cipher ("none" when plain), PEM says `Proc-Type: 4,ENCRYPTED`
 * or `BEGIN ENCRYPTED PRIVATE KEY` (PKCS#8), PuTTY says `Encryption:`. False when unsure: the
 * broker then says what is wrong.
 */
export function keyNeedsPassphrase(key: string): boolean {
  const text = key.trim();
  if (text.includes(armor('BEGIN', 'ENCRYPTED'))) return true;
  if (/^Proc-Type:\s*4,ENCRYPTED/m.test(text)) return true;
  const putty = /^Encryption:\s*(\S+)/m.exec(text);
  if (putty) return putty[1] !== 'none';
  const start = text.indexOf(armor('BEGIN', 'OPENSSH'));
  const end = text.indexOf(armor('END', 'OPENSSH'));
  if (start < 0 || end < start) return false;
  const body = text.slice(start + armor('BEGIN', 'OPENSSH').length, end);
  let bytes: string;
  try {
    bytes = atob(body.replace(/\s+/g, '').slice(0, 64));
  } catch {
    return false;
  }
  // "openssh-key-v1\0", then the cipher name as a length-prefixed string.
  const magic = 'openssh-key-v1\0';
  if (!bytes.startsWith(magic)) return false;
  const at = magic.length;
  const len =
    ((bytes.charCodeAt(at) << 24) |
      (bytes.charCodeAt(at + 1) << 16) |
      (bytes.charCodeAt(at + 2) << 8) |
      bytes.charCodeAt(at + 3)) >>>
    0;
  return bytes.slice(at + 4, at + 4 + len) !== 'none';
}

/**
 * The key fields' rule, for a form's superRefine: a key is required, and an encrypted one needs
 * its passphrase (asked for here rather than failing at the server).
 */
export function checkKeyFields(v: { privateKey: string; passphrase: string }, ctx: z.RefinementCtx): void {
  if (!v.privateKey.trim()) ctx.addIssue({ code: 'custom', path: ['privateKey'], message: KEY_REQUIRED });
  else if (!v.passphrase && keyNeedsPassphrase(v.privateKey))
    ctx.addIssue({ code: 'custom', path: ['passphrase'], message: PASSPHRASE_REQUIRED });
}

/** Anything larger is not an SSH private key; refusing it early keeps a stray file out of memory. */
export const MAX_KEY_FILE_BYTES = 32 * 1024;

interface PrivateKeyFieldsProps {
  /** Prefix for element ids (from useId), so labels stay bound when several forms are open. */
  idPrefix: string;
  privateKey: string;
  onPrivateKey(value: string): void;
  passphrase: string;
  onPassphrase(value: string): void;
  /** Grid classes of the two fields (e.g. `span-4`). */
  fieldClassName?: string;
  /** A validation error from the surrounding form (e.g. "key required"). */
  error?: string;
  /** The passphrase's error (an encrypted key without one). */
  passphraseError?: string;
  autoFocus?: boolean;
  /** Shown under the file button, e.g. whether the key is stored. */
  note?: ReactNode;
}

/**
 * The private-key textarea, its "load from file" button and the passphrase field, as every
 * form that takes a key (new connection, a profile's missing secret, credential sets) needs them.
 */
export function PrivateKeyFields(props: PrivateKeyFieldsProps) {
  const { idPrefix: id } = props;
  const [fileError, setFileError] = useState<string | null>(null);
  const error = fileError ?? props.error;
  const fieldClass = `field${props.fieldClassName ? ` ${props.fieldClassName}` : ''}`;

  const loadKey = async (file: File | undefined) => {
    if (!file) return;
    if (file.size > MAX_KEY_FILE_BYTES) {
      setFileError('That file is too large to be a private key.');
      return;
    }
    setFileError(null);
    props.onPrivateKey(await file.text());
  };

  return (
    <>
      <div className={fieldClass}>
        <label htmlFor={`${id}-key`}>Private key</label>
        <textarea
          id={`${id}-key`}
          className="mono"
          rows={5}
          spellCheck={false}
          autoFocus={props.autoFocus}
          placeholder="Paste a private key (OpenSSH or PEM)"
          value={props.privateKey}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? `${id}-key-err` : undefined}
          onChange={(e) => {
            setFileError(null);
            props.onPrivateKey(e.target.value);
          }}
        />
        {error && (
          <span className="field-error" id={`${id}-key-err`}>
            {error}
          </span>
        )}
        <div className="file-row">
          <label htmlFor={`${id}-keyfile`} className="btn btn-sm">
            Load key from file…
          </label>
          <input
            id={`${id}-keyfile`}
            type="file"
            className="sr-only"
            onChange={(e) => void loadKey(e.target.files?.[0])}
          />
          {props.note && <span className="muted">{props.note}</span>}
        </div>
      </div>
      <div className={fieldClass}>
        <label htmlFor={`${id}-passphrase`}>Passphrase</label>
        <input
          id={`${id}-passphrase`}
          type="password"
          autoComplete="off"
          placeholder="Only if the key is encrypted"
          value={props.passphrase}
          aria-invalid={props.passphraseError ? true : undefined}
          aria-describedby={props.passphraseError ? `${id}-passphrase-err` : undefined}
          onChange={(e) => props.onPassphrase(e.target.value)}
        />
        {props.passphraseError && (
          <span className="field-error" id={`${id}-passphrase-err`}>
            {props.passphraseError}
          </span>
        )}
      </div>
    </>
  );
}

/** The part of a react-hook-form form that holds a private key and its passphrase. */
export interface KeyFieldsForm {
  watch(name: 'privateKey' | 'passphrase'): string;
  setValue(name: 'privateKey' | 'passphrase', value: string, options?: { shouldValidate?: boolean }): void;
  formState: {
    isSubmitted: boolean;
    errors: { privateKey?: { message?: string }; passphrase?: { message?: string } };
  };
}

/** PrivateKeyFields bound to a form with `privateKey` and `passphrase` fields. */
export function PrivateKeyFormFields({
  form,
  ...props
}: { form: KeyFieldsForm } & Pick<
  PrivateKeyFieldsProps,
  'idPrefix' | 'fieldClassName' | 'note' | 'autoFocus'
>) {
  return (
    <PrivateKeyFields
      {...props}
      privateKey={form.watch('privateKey')}
      // Re-checked as it changes once the user has tried to submit, as the other fields are.
      onPrivateKey={(value) =>
        form.setValue('privateKey', value, { shouldValidate: form.formState.isSubmitted })
      }
      passphrase={form.watch('passphrase')}
      onPassphrase={(value) =>
        form.setValue('passphrase', value, { shouldValidate: form.formState.isSubmitted })
      }
      error={form.formState.errors.privateKey?.message}
      passphraseError={form.formState.errors.passphrase?.message}
    />
  );
}
