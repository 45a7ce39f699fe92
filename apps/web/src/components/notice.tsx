import { errorText } from '../lib/queries';

/** An outcome to show the user: errors are announced as alerts, successes politely. */
export type NoticeMessage = { kind: 'ok' | 'error'; text: string } | null;

export function Notice({ message }: { message: NoticeMessage }) {
  if (!message) return null;
  return (
    <div
      role={message.kind === 'error' ? 'alert' : 'status'}
      className={`notice notice-${message.kind === 'error' ? 'error' : 'ok'}`}
    >
      {message.text}
    </div>
  );
}

/** A load or request error (or nothing): a message, or a failed call (said by errorText). */
export function ErrorNotice({ error }: { error: unknown }) {
  if (!error) return null;
  return <Notice message={{ kind: 'error', text: typeof error === 'string' ? error : errorText(error) }} />;
}
