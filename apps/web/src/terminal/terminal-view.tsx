import { FitAddon } from '@xterm/addon-fit';
import { SearchAddon } from '@xterm/addon-search';
import { Unicode11Addon } from '@xterm/addon-unicode11';
import { WebLinksAddon } from '@xterm/addon-web-links';
import { WebglAddon } from '@xterm/addon-webgl';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { ErrorCode } from '@tether/protocol';
import { useEffect, useId, useLayoutEffect, useRef, useState } from 'react';
import { Link } from 'react-router';
import { useAuth } from '../auth/auth-context';
import { InlineConfirm } from '../components/inline-confirm';
import { terminalSocketUrl } from '../lib/base-path';
import { terminalErrorMessage } from '../lib/messages';
import { useUserSettings } from '../lib/settings';
import { applyModifiers, cursorKey, ExtraKeys, type Modifiers } from './extra-keys';
import { HostKeyDialog, KeyboardPromptDialog } from './prompts';
import {
  browserSocketFactory,
  type ExitInfo,
  type HostKeyPrompt,
  type KeyboardPrompt,
  type NoticeInfo,
  type OpenRequest,
  type ReadyInfo,
  TerminalConnection,
  type TerminalError,
  type TerminalSink,
  type TerminalStatus,
} from './terminal-connection';
import { useTerminalTheme } from './terminal-theme';

declare global {
  interface Window {
    /** Set by the e2e suite: use the DOM renderer so terminal text can be read from `.xterm-rows`. */
    __TETHER_E2E__?: boolean;
    /** e2e only: the full buffer (scrollback included) of the terminal mounted in a `.terminal-host`. */
    __TETHER_E2E_BUFFERS__?: WeakMap<Element, () => string[]>;
  }
}

function readBuffer(term: Terminal): string[] {
  const buf = term.buffer.active;
  const lines: string[] = [];
  for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i)?.translateToString(true) ?? '');
  return lines;
}

function prefersDomRenderer(): boolean {
  return (
    window.__TETHER_E2E__ === true || new URLSearchParams(window.location.search).get('renderer') === 'dom'
  );
}

async function copyText(text: string): Promise<void> {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // Plain-HTTP deployments have no async clipboard API.
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.style.position = 'fixed';
  ta.style.opacity = '0';
  document.body.appendChild(ta);
  ta.select();
  document.execCommand('copy');
  ta.remove();
}

const NO_MODIFIERS: Modifiers = { ctrl: false, alt: false };

/** Whole seconds since `on` became true (0 while false), ticking once a second. */
function useSecondsIn(on: boolean): number {
  const [seconds, setSeconds] = useState(0);
  useEffect(() => {
    setSeconds(0);
    if (!on) return;
    const started = Date.now();
    const timer = setInterval(() => setSeconds(Math.floor((Date.now() - started) / 1000)), 1000);
    return () => clearInterval(timer);
  }, [on]);
  return seconds;
}

export interface TerminalRequest {
  open?: OpenRequest;
  terminalId?: string;
}

export interface TerminalViewProps {
  request: TerminalRequest;
  label: string;
  active: boolean;
  /** A change gives the keyboard back to this terminal when it is active (a dialog closed). */
  focusSeq?: number;
  onStatus?: (status: TerminalStatus) => void;
  onReady?: (info: ReadyInfo) => void;
  onEnded?: () => void;
  /** Unmounted, and its socket has closed: the broker lists the terminal as detached now. */
  onDetached?: () => void;
  onClose?: () => void;
  /** A failed attempt: the same request again (Retry). */
  onRetry?: () => void;
  /** A failed attempt: its form again, as typed (Edit); only for a typed target. */
  onEdit?: () => void;
  /** The remote program set the window title (OSC 0/2). */
  onWindowTitle?: (title: string) => void;
  /** This pane took the keyboard (a click or focus inside it). */
  onFocus?: () => void;
  /** Split this pane: a new terminal beside it (`row`) or below it (`column`). */
  onSplit?: (direction: 'row' | 'column') => void;
  /** Close this pane of a split tab (its terminal keeps running). */
  onClosePane?: () => void;
  /** Typed input also goes to the tab's other broadcasting panes. */
  broadcasting?: boolean;
  onToggleBroadcast?: () => void;
  /** Called with what the user typed here while broadcasting. */
  onBroadcastInput?: (data: string) => void;
  /** Gives the workspace a way to type into this pane (for other panes' broadcast). */
  registerInput?: (send: ((data: string) => void) | null) => void;
}

interface XtermParts {
  term: Terminal;
  fit: FitAddon;
  search: SearchAddon;
}

export function TerminalView(props: TerminalViewProps) {
  const auth = useAuth();
  const hostRef = useRef<HTMLDivElement>(null);
  const [xterm, setXterm] = useState<XtermParts | null>(null);
  const [status, setStatus] = useState<TerminalStatus>('connecting');
  const [terminalId, setTerminalId] = useState<string | null>(props.request.terminalId ?? null);
  const [hostKey, setHostKey] = useState<HostKeyPrompt | null>(null);
  const [kbPrompt, setKbPrompt] = useState<KeyboardPrompt | null>(null);
  const [error, setError] = useState<TerminalError | null>(null);
  const [ended, setEnded] = useState<string | null>(null);
  const [notice, setNotice] = useState<NoticeInfo | null>(null);
  const [searchOpen, setSearchOpen] = useState(false);
  const elapsed = useSecondsIn(status === 'connecting');
  // Sticky Ctrl/Alt of the extra-keys row: they apply to the next key, then let go.
  const [mods, setMods] = useState<Modifiers>(NO_MODIFIERS);
  const modsRef = useRef<Modifiers>(NO_MODIFIERS);
  const setModifiers = (m: Modifiers) => {
    modsRef.current = m;
    setMods(m);
  };
  const connRef = useRef<TerminalConnection | null>(null);

  const settings = useUserSettings();

  // Callbacks, request and settings read through refs so the socket effect runs once per terminal.
  const propsRef = useRef(props);
  const authRef = useRef(auth);
  const settingsRef = useRef(settings);
  const terminalTheme = useTerminalTheme(settings.theme);
  const themeRef = useRef(terminalTheme);
  useLayoutEffect(() => {
    propsRef.current = props;
    authRef.current = auth;
    settingsRef.current = settings;
    themeRef.current = terminalTheme;
  });

  // Effect 1: the xterm instance and its addons.
  useEffect(() => {
    const host = hostRef.current;
    if (!host) return;
    const settings = settingsRef.current;
    const term = new Terminal({
      fontFamily: settings.fontFamily,
      fontSize: settings.fontSize,
      lineHeight: 1.1,
      cursorBlink: settings.cursorBlink,
      cursorStyle: settings.cursorStyle,
      scrollback: settings.scrollback,
      allowProposedApi: true,
      macOptionIsMeta: true,
      theme: themeRef.current,
      disableStdin: true,
    });
    const fit = new FitAddon();
    const search = new SearchAddon();
    term.loadAddon(fit);
    term.loadAddon(search);
    term.loadAddon(new WebLinksAddon());
    term.loadAddon(new Unicode11Addon());
    term.unicode.activeVersion = '11';
    term.open(host);

    if (!prefersDomRenderer()) {
      try {
        const webgl = new WebglAddon();
        // A lost GPU context falls back to the DOM renderer instead of a frozen screen.
        webgl.onContextLoss(() => webgl.dispose());
        term.loadAddon(webgl);
      } catch {
        // No WebGL2: xterm keeps its DOM renderer.
      }
    }

    term.attachCustomKeyEventHandler((ev) => {
      if (ev.type !== 'keydown') return true;
      const ctrlShift = ev.ctrlKey && ev.shiftKey && !ev.altKey && !ev.metaKey;
      if (!ctrlShift) return true;
      const key = ev.key.toLowerCase();
      if (key === 'c') {
        // Ctrl+Shift+C copies (Ctrl+C stays SIGINT); also stops Chrome opening DevTools.
        ev.preventDefault();
        const selection = term.getSelection();
        if (selection) void copyText(selection).catch(() => undefined);
        return false;
      }
      if (key === 'v') {
        // Let the browser fire its paste event; xterm turns it into input (bracketed if asked).
        return false;
      }
      if (key === 'f') {
        ev.preventDefault();
        setSearchOpen(true);
        return false;
      }
      return true;
    });

    // Settings: selecting copies; a right click pastes (through xterm, bracketed if the program asks).
    const selection = term.onSelectionChange(() => {
      const text = term.getSelection();
      if (settingsRef.current.copyOnSelect && text) void copyText(text).catch(() => undefined);
    });
    const onContextMenu = (e: MouseEvent) => {
      if (!settingsRef.current.rightClickPaste || !navigator.clipboard?.readText) return;
      e.preventDefault();
      void navigator.clipboard.readText().then(
        (text) => text && term.paste(text),
        () => undefined,
      );
    };
    host.addEventListener('contextmenu', onContextMenu);

    if (host.clientWidth > 0 && host.clientHeight > 0) fit.fit();
    if (window.__TETHER_E2E__) {
      window.__TETHER_E2E_BUFFERS__ ??= new WeakMap();
      window.__TETHER_E2E_BUFFERS__.set(host, () => readBuffer(term));
    }
    setXterm({ term, fit, search });
    return () => {
      setXterm(null);
      selection.dispose();
      host.removeEventListener('contextmenu', onContextMenu);
      term.dispose();
    };
  }, []);

  // A change on the settings page reaches every open terminal at once.
  useEffect(() => {
    if (!xterm) return;
    const { term, fit } = xterm;
    term.options.fontFamily = settings.fontFamily;
    term.options.fontSize = settings.fontSize;
    term.options.cursorStyle = settings.cursorStyle;
    term.options.cursorBlink = settings.cursorBlink;
    term.options.scrollback = settings.scrollback;
    term.options.theme = terminalTheme;
    const host = hostRef.current;
    if (host && host.clientWidth > 0 && host.clientHeight > 0) fit.fit();
  }, [
    xterm,
    settings.fontFamily,
    settings.fontSize,
    settings.cursorStyle,
    settings.cursorBlink,
    settings.scrollback,
    terminalTheme,
  ]);

  // Effect 2: the socket. Disposing only detaches; the terminal keeps running on the broker.
  useEffect(() => {
    if (!xterm) return;
    const { term, fit } = xterm;
    const host = hostRef.current;
    const sink: TerminalSink = {
      write: (data, onRendered) => term.write(data, onRendered),
      // RIS in-band rather than term.reset(): it must apply after writes already queued in xterm.
      reset: () => term.write('\x1bc'),
    };
    const { request } = propsRef.current;
    if (!request.terminalId && !request.open) return;
    const conn = new TerminalConnection({
      url: terminalSocketUrl(),
      getToken: () => authRef.current.getToken(),
      createSocket: browserSocketFactory,
      sink,
      ...(request.terminalId
        ? { terminalId: request.terminalId }
        : request.open
          ? { open: request.open }
          : {}),
      cols: term.cols,
      rows: term.rows,
      scrollback: () => term.options.scrollback ?? 1000,
      events: {
        status: (s) => {
          setStatus(s);
          // While reconnecting the keyboard stays live: what is typed goes out once the terminal is
          // back (TerminalConnection keeps it; the broker takes each byte once).
          term.options.disableStdin = s !== 'ready' && s !== 'reconnecting';
          if (s === 'ready') {
            setError(null);
            // A "could not reach it, retrying" notice is over once the terminal is back.
            setNotice((n) => (n && TRANSIENT_NOTICES.has(n.code) ? null : n));
          }
          propsRef.current.onStatus?.(s);
        },
        ready: (info) => {
          setTerminalId(info.terminalId);
          setHostKey(null);
          setKbPrompt(null);
          propsRef.current.onReady?.(info);
          if (propsRef.current.active) term.focus();
        },
        hostKey: (p) => setHostKey(p),
        prompt: (p) => setKbPrompt(p),
        notice: (n) => setNotice(n),
        exit: (info: ExitInfo) => {
          const text =
            info.code !== null
              ? `[Process exited with code ${info.code}]`
              : info.signal
                ? `[Process killed by signal ${info.signal}]`
                : `[Session ended: ${info.reason}]`;
          term.write(`\r\n\x1b[2m${text}\x1b[0m\r\n`);
          setEnded(text);
          propsRef.current.onEnded?.();
        },
        ended: (reason) => {
          const text = `[Terminal ended: ${reason}]`;
          term.write(`\r\n\x1b[2m${text}\x1b[0m\r\n`);
          setEnded(text);
          propsRef.current.onEnded?.();
        },
        error: (e) => setError(e),
        sessionEnded: (code) => authRef.current.endSession(code),
        detached: () => propsRef.current.onDetached?.(),
      },
    });
    connRef.current = conn;

    const disposables = [
      term.onData((data) => {
        const m = modsRef.current;
        let input = data;
        if (m.ctrl || m.alt) {
          modsRef.current = NO_MODIFIERS;
          setMods(NO_MODIFIERS);
          input = applyModifiers(data, m);
        }
        if (conn.sendInput(input)) authRef.current.markActivity();
        if (propsRef.current.broadcasting) propsRef.current.onBroadcastInput?.(input);
      }),
      term.onBinary((data) => {
        conn.sendBinaryInput(data);
      }),
      term.onResize(({ cols, rows }) => conn.resize(cols, rows)),
      term.onTitleChange((title) => propsRef.current.onWindowTitle?.(title.slice(0, 200))),
    ];

    let resizeTimer: ReturnType<typeof setTimeout> | undefined;
    const observer = new ResizeObserver(() => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => {
        // A hidden tab measures 0×0; keep its last size until it is shown again.
        if (host && host.clientWidth > 0 && host.clientHeight > 0) fit.fit();
      }, 100);
    });
    if (host) observer.observe(host);
    const onOnline = () => conn.reconnectNow();
    const onOffline = () => conn.networkLost();
    window.addEventListener('online', onOnline);
    window.addEventListener('offline', onOffline);

    propsRef.current.registerInput?.((data) => {
      if (conn.sendInput(data)) authRef.current.markActivity();
    });
    const onFocusIn = () => propsRef.current.onFocus?.();
    host?.addEventListener('focusin', onFocusIn);

    conn.connect();
    return () => {
      propsRef.current.registerInput?.(null);
      host?.removeEventListener('focusin', onFocusIn);
      window.removeEventListener('online', onOnline);
      window.removeEventListener('offline', onOffline);
      observer.disconnect();
      clearTimeout(resizeTimer);
      for (const d of disposables) d.dispose();
      conn.dispose();
      connRef.current = null;
    };
  }, [xterm]);

  // Showing a tab: fit to its now-visible box and take the keyboard.
  useEffect(() => {
    if (!props.active || !xterm) return;
    const host = hostRef.current;
    const id = requestAnimationFrame(() => {
      if (host && host.clientWidth > 0 && host.clientHeight > 0) xterm.fit.fit();
      // Not away from where the user is typing or moving: a field, a dialog, the tab strip
      // (arrows walk the tabs; F2 renames one).
      const at = document.activeElement;
      const elsewhere =
        at instanceof HTMLElement &&
        !host?.contains(at) &&
        at.closest('input, textarea, select, dialog, [role="tablist"]') !== null;
      if (!elsewhere) xterm.term.focus();
    });
    return () => cancelAnimationFrame(id);
  }, [props.active, xterm]);

  // A dialog of the workspace closed, however it was closed: the active terminal takes the keyboard.
  const { focusSeq } = props;
  useEffect(() => {
    if (focusSeq && propsRef.current.active) xterm?.term.focus();
  }, [focusSeq, xterm]);

  /** A key of the extra-keys row: as the keyboard would send it, with the sticky modifiers. */
  const sendExtraKey = (bytes: string) => {
    const term = xterm?.term;
    const conn = connRef.current;
    if (!term || !conn) return;
    const m = modsRef.current;
    const key = cursorKey(bytes, term.modes.applicationCursorKeysMode);
    setModifiers(NO_MODIFIERS);
    if (conn.sendInput(key.length === 1 ? applyModifiers(key, m) : m.alt ? `\x1b${key}` : key))
      auth.markActivity();
  };

  const endTerminal = () => {
    const conn = connRef.current;
    if (conn && status === 'ready') conn.terminate();
    else if (terminalId) void auth.api.del(`terminals/${terminalId}`).catch(() => undefined);
  };

  /** Stops an attempt that takes too long; Retry and Edit stay offered. */
  const cancelConnecting = () => {
    connRef.current?.dispose();
    setStatus('error');
    setError({ type: 'error', code: 'CANCELLED', message: 'Connecting was cancelled.' });
    propsRef.current.onStatus?.('error');
  };

  const overlay =
    status === 'connecting' && !error
      ? `Connecting… ${elapsed} s`
      : status === 'reconnecting'
        ? 'Reconnecting…'
        : status === 'hostkey'
          ? 'Waiting for host key decision…'
          : status === 'prompt'
            ? 'Waiting for authentication…'
            : null;

  const hostKeyChanged = error?.code === ErrorCode.HOSTKEY_CHANGED;

  return (
    <div
      className={`terminal-pane ${props.broadcasting ? 'terminal-broadcasting' : ''}`}
      data-status={status}
      data-terminal-id={terminalId ?? ''}
      aria-busy={status === 'connecting' || status === 'reconnecting'}
    >
      <div className="terminal-toolbar">
        <span className={`status-dot status-${status}`} aria-hidden="true" />
        <span className="terminal-label">{props.label}</span>
        <span className="terminal-status">{statusText(status)}</span>
        <span className="spacer" />
        {props.onToggleBroadcast && (
          <button
            type="button"
            className={`btn btn-ghost btn-sm ${props.broadcasting ? 'btn-broadcast' : ''}`}
            aria-pressed={!!props.broadcasting}
            onClick={props.onToggleBroadcast}
            title="Type into every broadcasting pane of this tab at once"
          >
            Broadcast
          </button>
        )}
        {props.onSplit &&
          (
            [
              ['row', 'Split right', '◫', 'a new terminal beside this one'],
              ['column', 'Split down', '⊟', 'a new terminal below this one'],
            ] as const
          ).map(([direction, name, icon, what]) => (
            <button
              key={direction}
              type="button"
              className="btn btn-ghost btn-sm toolbar-split"
              onClick={() => props.onSplit?.(direction)}
              aria-label={name}
              title={`${name}: ${what}`}
            >
              {icon} Split
            </button>
          ))}
        <button
          type="button"
          className="btn btn-ghost btn-sm"
          onClick={() => setSearchOpen((v) => !v)}
          title="Search (Ctrl+Shift+F)"
        >
          Search
        </button>
        {(status === 'ready' || status === 'reconnecting') && (
          <InlineConfirm
            label="End terminal"
            confirmLabel="End terminal now"
            title="Ends the remote session"
            onConfirm={endTerminal}
          />
        )}
        {props.onClosePane && (
          <button
            type="button"
            className="btn btn-ghost btn-sm"
            onClick={props.onClosePane}
            aria-label={`Close pane ${props.label}`}
            title="Close this pane (the terminal keeps running)"
          >
            ×
          </button>
        )}
      </div>
      {notice && !ended && (
        <div className="notice notice-info terminal-notice" role="status">
          <span>{noticeText(notice)}</span>
          <button type="button" className="btn btn-ghost btn-sm" onClick={() => setNotice(null)}>
            Dismiss
          </button>
        </div>
      )}
      {searchOpen && xterm && (
        <SearchBox
          search={xterm.search}
          onClose={() => {
            setSearchOpen(false);
            xterm.search.clearDecorations();
            xterm.term.focus();
          }}
        />
      )}
      <div className="terminal-body">
        <div ref={hostRef} className="terminal-host" />
        {overlay && (
          <div className="terminal-overlay">
            <span className="spinner" aria-hidden="true" />
            <span role="status">{overlay}</span>
            {status === 'connecting' && !terminalId && (
              <button type="button" className="btn btn-ghost btn-sm" onClick={cancelConnecting}>
                Cancel
              </button>
            )}
          </div>
        )}
        {error && status === 'error' && (
          <div className={`terminal-error ${hostKeyChanged ? 'terminal-error-critical' : ''}`} role="alert">
            {hostKeyChanged ? (
              <>
                <h3>Warning: the host key has changed</h3>
                <p>
                  The server presented a different key than the one you accepted before. Someone could be
                  intercepting the connection (man-in-the-middle), or the host was reinstalled. The connection
                  was refused before any credential was sent.
                </p>
                <dl className="kv">
                  <dt>Expected</dt>
                  <dd>
                    <code>{hostKeyChange(error).expected}</code>
                  </dd>
                  <dt>Received</dt>
                  <dd>
                    <code>{hostKeyChange(error).received}</code>
                  </dd>
                </dl>
                <p>
                  If you know why it changed, forget the old key under{' '}
                  <Link to="/account">Account → Known hosts</Link> and connect again.
                </p>
              </>
            ) : (
              <p>{terminalErrorMessage(error.code, error.message)}</p>
            )}
            <div className="row-actions">
              {props.onRetry && !hostKeyChanged && (
                <button type="button" className="btn btn-sm btn-primary" onClick={props.onRetry}>
                  Retry
                </button>
              )}
              {props.onEdit && (
                <button type="button" className="btn btn-sm" onClick={props.onEdit}>
                  Edit
                </button>
              )}
              <button type="button" className="btn btn-sm" onClick={() => props.onClose?.()}>
                Close tab
              </button>
            </div>
          </div>
        )}
        {ended && (
          <div className="terminal-ended" role="status">
            {ended}
            <button type="button" className="btn btn-sm" onClick={() => props.onClose?.()}>
              Close tab
            </button>
          </div>
        )}
      </div>
      {(status === 'ready' || status === 'reconnecting') && (
        <ExtraKeys modifiers={mods} onModifiers={setModifiers} onKey={sendExtraKey} />
      )}
      {hostKey && status === 'hostkey' && (
        <HostKeyDialog
          prompt={hostKey}
          onDecision={(accept) => {
            setHostKey(null);
            connRef.current?.answerHostKey(accept);
          }}
        />
      )}
      {kbPrompt && status === 'prompt' && (
        <KeyboardPromptDialog
          prompt={kbPrompt}
          onSubmit={(responses) => {
            setKbPrompt(null);
            connRef.current?.answerPrompt(responses);
          }}
          onCancel={() => {
            setKbPrompt(null);
            connRef.current?.dispose();
            setStatus('error');
            setError({ type: 'error', code: 'CANCELLED', message: 'Authentication cancelled.' });
            propsRef.current.onStatus?.('error');
          }}
        />
      )}
    </div>
  );
}

/** Old and new fingerprints of a HOSTKEY_CHANGED error (`expected`/`received`, or the long names). */
function hostKeyChange(error: TerminalError): { expected: string; received: string } {
  const d = error.details ?? {};
  const withType = (fp: string | undefined, type: string | undefined) =>
    fp ? (type ? `${type} ${fp}` : fp) : 'unknown';
  return {
    expected: withType(d.expected ?? d.expectedFingerprint, d.expectedKeyType),
    received: withType(d.received ?? d.presentedFingerprint ?? d.receivedFingerprint, d.keyType),
  };
}

function statusText(status: TerminalStatus): string {
  switch (status) {
    case 'connecting':
      return 'connecting';
    case 'hostkey':
      return 'verify host key';
    case 'prompt':
      return 'authenticating';
    case 'ready':
      return 'connected';
    case 'reconnecting':
      return 'reconnecting';
    case 'exited':
      return 'ended';
    case 'error':
      return 'failed';
  }
}

function SearchBox({ search, onClose }: { search: SearchAddon; onClose: () => void }) {
  const [query, setQuery] = useState('');
  const inputId = useId();
  const inputRef = useRef<HTMLInputElement>(null);
  useEffect(() => {
    inputRef.current?.focus();
  }, []);
  const opts = {
    decorations: {
      matchBackground: '#3b4a5e',
      activeMatchBackground: '#c79a2b',
      matchOverviewRuler: '#3b4a5e',
      activeMatchColorOverviewRuler: '#c79a2b',
    },
  };
  return (
    <search className="terminal-search">
      <label className="sr-only" htmlFor={inputId}>
        Search terminal
      </label>
      <input
        ref={inputRef}
        id={inputId}
        type="search"
        placeholder="Search…"
        value={query}
        onChange={(e) => {
          setQuery(e.target.value);
          if (e.target.value) search.findNext(e.target.value, { ...opts, incremental: true });
          else search.clearDecorations();
        }}
        onKeyDown={(e) => {
          if (e.key === 'Enter') {
            e.preventDefault();
            if (e.shiftKey) search.findPrevious(query, opts);
            else search.findNext(query, opts);
          } else if (e.key === 'Escape') {
            e.preventDefault();
            onClose();
          }
        }}
      />
      {(
        [
          ['Previous match', '↑', () => search.findPrevious(query, opts)],
          ['Next match', '↓', () => search.findNext(query, opts)],
        ] as const
      ).map(([label, arrow, find]) => (
        <button key={label} type="button" className="btn btn-ghost btn-sm" onClick={find} aria-label={label}>
          {arrow}
        </button>
      ))}
      <button type="button" className="btn btn-ghost btn-sm" onClick={onClose} aria-label="Close search">
        ✕
      </button>
    </search>
  );
}

/** Notices of a reattach that failed for now and is being retried (terminal-connection.ts). */
const TRANSIENT_NOTICES = new Set<string>([ErrorCode.TERMINAL_UNREACHABLE, ErrorCode.SERVICE_UNAVAILABLE]);

/** What a notice tells the user, in their own time zone where it names a time. */
function noticeText(n: NoticeInfo): string {
  if (n.code === 'HOST_DRAINING' && n.endsAt) {
    const at = new Date(n.endsAt).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    return `The terminal host was upgraded. This session stays on the previous version until it ends, at the latest ${at}; new terminals use the new one.`;
  }
  return n.message;
}
