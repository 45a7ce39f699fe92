import { useState } from 'react';

/**
 * A small destructive action that asks once, in place: the button turns into a danger "confirm"
 * button and "Keep" (focused, so Enter twice never ends anything). For row and toolbar actions
 * where a dialog would hide what is being ended; ConfirmDialog is the dialog version.
 */
export function InlineConfirm(props: {
  label: string;
  confirmLabel: string;
  onConfirm: () => void;
  disabled?: boolean;
  title?: string;
  /** The trigger's accessible name, where `label` alone is ambiguous in a list. */
  ariaLabel?: string;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button
        type="button"
        className="btn btn-ghost btn-sm"
        onClick={() => setAsking(true)}
        disabled={props.disabled}
        title={props.title}
        aria-label={props.ariaLabel}
      >
        {props.label}
      </button>
    );
  return (
    <>
      <button
        type="button"
        className="btn btn-danger btn-sm"
        onClick={() => {
          setAsking(false);
          props.onConfirm();
        }}
      >
        {props.confirmLabel}
      </button>
      <button type="button" className="btn btn-ghost btn-sm" onClick={() => setAsking(false)} autoFocus>
        Keep
      </button>
    </>
  );
}
