import { zodResolver } from '@hookform/resolvers/zod';
import { type BaseSyntheticEvent, type ReactNode, useId, useState } from 'react';
import {
  type FieldError,
  type FieldValues,
  type Path,
  type UseFormProps,
  type UseFormReturn,
  useForm,
} from 'react-hook-form';
import type { z } from 'zod';
import { isApiError } from '../lib/api-client';
import { errorText } from '../lib/queries';
import { Modal } from './modal';
import { ErrorNotice } from './notice';

/**
 * A form validated by a Zod schema, as a rule the protocol's own (the one the broker checks the
 * request with), through react-hook-form: every field's error at once, each beside its field.
 * Docs: DEVELOPERS.md, "Adding a page".
 */
export function useSchemaForm<S extends z.ZodType<FieldValues, FieldValues>>(
  schema: S,
  options: Omit<UseFormProps<z.input<S>, unknown, z.output<S>>, 'resolver'> = {},
): UseFormReturn<z.input<S>, unknown, z.output<S>> {
  return useForm<z.input<S>, unknown, z.output<S>>({
    resolver: zodResolver(schema),
    mode: 'onSubmit',
    reValidateMode: 'onChange',
    ...options,
  });
}

/**
 * After a failed submit: the broker's field errors go beside their fields (when the form has
 * them); anything else is returned as the form's own message.
 */
export function serverErrors<T extends FieldValues>(
  err: unknown,
  form: Pick<UseFormReturn<T, unknown, unknown>, 'setError' | 'getValues'>,
): string | null {
  if (isApiError(err) && err.fields) {
    const known = Object.keys(form.getValues());
    const entries = Object.entries(err.fields).filter(([k]) => known.includes(k));
    for (const [k, message] of entries) form.setError(k as Path<T>, { type: 'server', message });
    if (entries.length === Object.keys(err.fields).length && entries.length > 0) return null;
  }
  return errorText(err);
}

/**
 * `form.handleSubmit` for a form that talks to the broker: runs `action` with the parsed values;
 * a failure puts the broker's field errors beside their fields and the rest in `error`.
 */
export function useSubmit<T extends FieldValues, O>(
  form: UseFormReturn<T, unknown, O>,
  action: (values: O) => Promise<unknown>,
) {
  const [error, setError] = useState<string | null>(null);
  const submit = form.handleSubmit(async (values) => {
    setError(null);
    try {
      await action(values);
    } catch (err) {
      setError(serverErrors(err, form));
    }
  });
  return { submit, error, setError, busy: form.formState.isSubmitting };
}

/**
 * A labelled field with its error: `children` gets the control's accessibility attributes (id,
 * aria-invalid, aria-describedby) to spread on the input.
 */
export function Field({
  id,
  label,
  error,
  className,
  children,
}: {
  id: string;
  label: string;
  error?: FieldError | { message?: string } | undefined;
  className?: string;
  children: (a11y: {
    id: string;
    'aria-invalid': true | undefined;
    'aria-describedby': string | undefined;
  }) => ReactNode;
}) {
  const message = error?.message;
  return (
    <div className={className ? `field ${className}` : 'field'}>
      <label htmlFor={id}>{label}</label>
      {children({
        id,
        'aria-invalid': message ? true : undefined,
        'aria-describedby': message ? `${id}-err` : undefined,
      })}
      {message && (
        <span className="field-error" id={`${id}-err`}>
          {/* The protocol's messages are predicates ("must be at least 8 characters"): said of the field, as a sentence. */}
          {/^[a-z]/.test(message) ? `${label} ${message}.` : message}
        </span>
      )}
    </div>
  );
}

/**
 * A form in a dialog: its error on top, its fields, then Cancel and the submit button. `grid`
 * lays the fields out on the four-column grid (`span-N` classes) instead of one column.
 */
export function FormDialog(props: {
  title: string;
  onCancel: () => void;
  onSubmit: (e?: BaseSyntheticEvent) => unknown;
  submitLabel: string;
  busy?: boolean;
  error?: string | null;
  grid?: boolean;
  /** Said above the error and the fields. */
  intro?: ReactNode;
  /** A change that deletes something: the warning dialog and a danger button. */
  danger?: boolean;
  /** False: the submit button is disabled (nothing to do yet). */
  canSubmit?: boolean;
  wide?: boolean;
  children: ReactNode;
}) {
  const span = props.grid ? 'span-4' : undefined;
  return (
    <Modal
      title={props.title}
      onCancel={props.onCancel}
      className={props.grid || props.wide ? 'modal-wide' : undefined}
      tone={props.danger ? 'warning' : 'default'}
    >
      <form
        className={props.grid ? 'form-grid' : 'form-stack'}
        onSubmit={(e) => {
          e.preventDefault();
          void props.onSubmit(e);
        }}
        noValidate
        autoComplete="off"
      >
        {props.intro && <div className={span}>{props.intro}</div>}
        {props.error && (
          <div className={span}>
            <ErrorNotice error={props.error} />
          </div>
        )}
        {props.children}
        <div className={span ? `modal-actions ${span}` : 'modal-actions'}>
          <button type="button" className="btn" onClick={props.onCancel}>
            Cancel
          </button>
          <button
            type="submit"
            className={props.danger ? 'btn btn-danger' : 'btn btn-primary'}
            disabled={props.busy || props.canSubmit === false}
          >
            {props.submitLabel}
          </button>
        </div>
      </form>
    </Modal>
  );
}

/**
 * One choice out of a few, as radio buttons in a row under a legend; `hint` below them says what
 * the current choice does.
 */
export function RadioGroup<V extends string>(props: {
  legend: string;
  options: ReadonlyArray<readonly [value: V, label: ReactNode]>;
  value: V;
  onChange: (value: V) => void;
  className?: string;
  hint?: ReactNode;
}) {
  const name = useId();
  return (
    <fieldset className={props.className ? `radio-row ${props.className}` : 'radio-row'}>
      <legend>{props.legend}</legend>
      {props.options.map(([value, label]) => (
        <label key={value} className="radio">
          <input
            type="radio"
            name={name}
            value={value}
            checked={props.value === value}
            onChange={() => props.onChange(value)}
          />
          {label}
        </label>
      ))}
      {props.hint && <span className="muted small radio-hint">{props.hint}</span>}
    </fieldset>
  );
}
