import { useState } from 'react';
import { Modal } from '../components/modal';
import { ErrorNotice } from '../components/notice';

/**
 * Closing a tab (or a pane) whose terminal is still running asks first: closing only detaches —
 * the terminal keeps running on the server and stays under My terminals — and ending it is the
 * other way out. "Close tab" is focused (Enter keeps everything running); Escape or Cancel keeps
 * the tab.
 */
export function CloseTabDialog(props: {
  /** The tab's (or pane's) name. */
  name: string;
  /** How many of its terminals are running (a split tab may hold several). */
  running: number;
  pane?: boolean;
  onClose: () => void;
  /** Ends its running terminals, then closes it. */
  onEnd: () => Promise<void>;
  onCancel: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<unknown>(null);
  const what = props.pane ? 'pane' : 'tab';
  const them = props.running === 1 ? 'its terminal' : `its ${props.running} terminals`;
  const end = async () => {
    setBusy(true);
    setFailure(null);
    try {
      await props.onEnd();
    } catch (err) {
      setFailure(err);
      setBusy(false);
    }
  };
  return (
    <Modal title={`Close “${props.name}”?`} onCancel={props.onCancel} tone="warning">
      <div className="form-stack">
        <p>
          Closing the {what} leaves {them} running on the server: reopen it any time from My terminals. Ending{' '}
          {props.running === 1 ? 'it' : 'them'} stops what runs there.
        </p>
        {failure !== null && <ErrorNotice error={failure} />}
        <div className="modal-actions">
          <button type="button" className="btn" onClick={props.onCancel}>
            Cancel
          </button>
          <button type="button" className="btn btn-danger" disabled={busy} onClick={() => void end()}>
            {props.running === 1 ? 'End terminal' : `End ${props.running} terminals`}
          </button>
          <button
            type="button"
            className="btn btn-primary"
            disabled={busy}
            onClick={props.onClose}
            data-autofocus
          >
            Close {what}
          </button>
        </div>
      </div>
    </Modal>
  );
}
