import type { TerminalSummary } from '@tether/protocol';
import { Fragment, type ReactNode, useId } from 'react';
import { InlineConfirm } from '../components/inline-confirm';
import { absoluteTime, relativeTime } from '../lib/format';
import { useApiMutation } from '../lib/queries';
import { summaryLabel } from './workspace-layout';

function endText(t: TerminalSummary): string {
  if (t.status === 'lost') return t.endReason ? `lost: ${t.endReason}` : 'lost';
  if (t.exitCode !== null) return `exited with code ${t.exitCode}${t.endReason ? ` (${t.endReason})` : ''}`;
  if (t.exitSignal) return `killed by ${t.exitSignal}`;
  return t.endReason ?? 'ended';
}

/** The user's terminals beside the tabs: running ones to reattach or end, then ended ones. */
export function TerminalList(props: {
  /** null: not loaded yet. */
  terminals: readonly TerminalSummary[] | null;
  error: string | null;
  /** Terminals with a tab in this browser. */
  openHere: ReadonlySet<string | null>;
  canConnect: boolean;
  onNew: () => void;
  onAttach: (t: TerminalSummary) => void;
  onEnd: (t: TerminalSummary) => void;
}) {
  const list = props.terminals;
  const clear = useApiMutation((api) => api.del('terminals?status=ended'), ['terminals']);
  // A terminal still connecting is not listed: its tab shows it, and it may never connect.
  const running = (list ?? []).filter((t) => t.status === 'running' || t.status === 'unreachable');
  const ended = (list ?? []).filter((t) => t.status === 'exited' || t.status === 'lost');
  return (
    <aside className="term-list" aria-label="My terminals">
      <div className="term-list-head">
        <h2>Terminals</h2>
        {props.canConnect && (
          <button type="button" className="btn btn-primary btn-sm" onClick={props.onNew} title="Alt+Shift+N">
            New connection
          </button>
        )}
      </div>
      {props.error && (
        <p className="notice notice-error" role="alert">
          {props.error}
        </p>
      )}
      {list === null && !props.error && <p className="muted pad">Loading…</p>}
      {list !== null && list.length === 0 && <p className="muted pad">No terminals yet.</p>}
      <Section title="Running" terminals={running}>
        {(t) => {
          const here = props.openHere.has(t.id);
          const unreachable = t.status === 'unreachable';
          const state = unreachable
            ? 'unreachable: its broker node is not answering'
            : here
              ? 'open here'
              : t.attached > 0
                ? `attached (${t.attached})`
                : 'detached';
          return (
            <Item
              t={t}
              state={unreachable ? 'unreachable' : here ? 'open' : t.attached > 0 ? 'attached' : 'detached'}
              dot={unreachable ? 'status-error' : t.attached > 0 || here ? 'status-ready' : 'status-detached'}
              sub={`${state} · ${t.cols}×${t.rows} · ${relativeTime(t.lastOutputAt ?? t.createdAt)}`}
              subTitle={`Started ${absoluteTime(t.createdAt)}`}
            >
              <div className="term-item-actions">
                <button
                  type="button"
                  className="btn btn-sm"
                  onClick={() => props.onAttach(t)}
                  disabled={unreachable}
                  aria-label={`${here ? 'Open' : 'Reattach'} ${summaryLabel(t)}`}
                >
                  {here ? 'Open' : 'Reattach'}
                </button>
                <InlineConfirm
                  label="End"
                  confirmLabel="Confirm end"
                  onConfirm={() => props.onEnd(t)}
                  disabled={unreachable}
                  title={unreachable ? 'Its broker node is not answering' : undefined}
                  ariaLabel={`End ${summaryLabel(t)}`}
                />
              </div>
            </Item>
          );
        }}
      </Section>
      <Section
        title="Ended"
        terminals={ended}
        action={
          <button
            type="button"
            className="btn btn-ghost btn-sm"
            onClick={() => clear.mutate()}
            disabled={clear.isPending}
            aria-label="Clear ended terminals"
          >
            Clear
          </button>
        }
      >
        {(t) => (
          <Item
            t={t}
            state="ended"
            dot={t.status === 'lost' ? 'status-error' : 'status-exited'}
            sub={`${endText(t)} · ${relativeTime(t.endedAt ?? t.createdAt)}`}
            subTitle={absoluteTime(t.endedAt)}
          />
        )}
      </Section>
    </aside>
  );
}

function Section(props: {
  title: string;
  terminals: readonly TerminalSummary[];
  /** A button beside the title (Clear). */
  action?: ReactNode;
  children: (t: TerminalSummary) => ReactNode;
}) {
  const id = useId();
  if (props.terminals.length === 0) return null;
  return (
    <section aria-labelledby={id}>
      <div className="term-list-section-head">
        <h3 id={id} className="term-list-section">
          {props.title}
        </h3>
        {props.action}
      </div>
      <ul className="term-items">
        {props.terminals.map((t) => (
          <Fragment key={t.id}>{props.children(t)}</Fragment>
        ))}
      </ul>
    </section>
  );
}

function Item(props: {
  t: TerminalSummary;
  state: string;
  dot: string;
  sub: string;
  subTitle: string;
  children?: ReactNode;
}) {
  const { t } = props;
  return (
    <li
      className={props.state === 'ended' ? 'term-item term-item-ended' : 'term-item'}
      data-terminal-id={t.id}
      data-state={props.state}
    >
      <div className="term-item-main">
        <span className={`status-dot ${props.dot}`} aria-hidden="true" />
        <span className="term-item-title">{summaryLabel(t)}</span>
      </div>
      <div className="term-item-sub" title={props.subTitle}>
        {props.sub}
      </div>
      {props.children}
    </li>
  );
}
