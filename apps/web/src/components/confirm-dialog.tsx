import { type ReactNode, useState } from 'react';
import { errorText } from '../lib/queries';
import { Modal } from './modal';
import { ErrorNotice } from './notice';

/**
 * The app's one confirmation: a warning dialog that says what will happen, Cancel focused, and a
 * danger button that runs `onConfirm`. A failure stays in the dialog (said by errorText, or by
 * `describeFailure` when the page has more to show), and the button can be pressed again.
 */
export function ConfirmDialog(props: {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  onConfirm: () => Promise<void>;
  onCancel: () => void;
  /** What to show for a failure instead of errorText's sentence (e.g. a list of what is in use). */
  describeFailure?: (err: unknown) => ReactNode;
  /** False: the confirm button is disabled (nothing more can be done here). */
  canConfirm?: boolean;
}) {
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<{ err: unknown } | null>(null);
  const confirm = async () => {
    setBusy(true);
    setFailure(null);
    try {
      await props.onConfirm();
    } catch (err) {
      setFailure({ err });
      setBusy(false);
    }
  };
  return (
    <Modal title={props.title} onCancel={props.onCancel} tone="warning">
      <form
        className="form-stack"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void confirm();
        }}
      >
        {props.children}
        {failure &&
          (props.describeFailure ? (
            props.describeFailure(failure.err)
          ) : (
            <ErrorNotice error={errorText(failure.err)} />
          ))}
        <div className="modal-actions">
          <button type="button" className="btn" onClick={props.onCancel} autoFocus>
            {failure ? 'Close' : 'Cancel'}
          </button>
          <button type="submit" className="btn btn-danger" disabled={busy || props.canConfirm === false}>
            {props.confirmLabel}
          </button>
        </div>
      </form>
    </Modal>
  );
}
