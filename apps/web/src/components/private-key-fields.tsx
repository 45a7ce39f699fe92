import { type ReactNode, useState } from 'react';

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
          onChange={(e) => props.onPassphrase(e.target.value)}
        />
      </div>
    </>
  );
}

/** The part of a react-hook-form form that holds a private key and its passphrase. */
export interface KeyFieldsForm {
  watch(name: 'privateKey' | 'passphrase'): string;
  setValue(name: 'privateKey' | 'passphrase', value: string, options?: { shouldValidate?: boolean }): void;
  formState: { isSubmitted: boolean; errors: { privateKey?: { message?: string } } };
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
      onPassphrase={(value) => form.setValue('passphrase', value)}
      error={form.formState.errors.privateKey?.message}
    />
  );
}
