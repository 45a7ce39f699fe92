import type { PointerEvent } from 'react';

/** Sticky modifiers: pressed once, they apply to the next key (from this row or the keyboard). */
export interface Modifiers {
  ctrl: boolean;
  alt: boolean;
}

/** The bytes each key of the row sends (xterm's normal cursor mode; application mode below). */
const KEYS: ReadonlyArray<readonly [label: string, name: string, bytes: string]> = [
  ['Esc', 'Escape', '\x1b'],
  ['Tab', 'Tab', '\t'],
  ['←', 'Left', '\x1b[D'],
  ['↑', 'Up', '\x1b[A'],
  ['↓', 'Down', '\x1b[B'],
  ['→', 'Right', '\x1b[C'],
  ['|', 'Pipe', '|'],
  ['~', 'Tilde', '~'],
  ['/', 'Slash', '/'],
];

/**
 * What a typed string becomes under sticky modifiers: Ctrl turns a letter (or @[\]^_ and space)
 * into its control code, Alt puts ESC in front, as a terminal keyboard would.
 */
export function applyModifiers(data: string, mods: Modifiers): string {
  let out = data;
  if (mods.ctrl && data.length === 1) {
    const c = data.toUpperCase().charCodeAt(0);
    if (c >= 0x40 && c <= 0x5f) out = String.fromCharCode(c & 0x1f);
    else if (data === ' ') out = '\x00';
    else if (data === '?') out = '\x7f';
  }
  if (mods.alt) out = `\x1b${out}`;
  return out;
}

/** Arrow keys in application cursor mode (DECCKM, as vim and less set it) send ESC O x. */
export function cursorKey(bytes: string, applicationMode: boolean): string {
  const arrow = bytes.length === 3 && bytes.startsWith('\x1b[') && 'ABCD'.includes(bytes.charAt(2));
  return applicationMode && arrow ? `\x1bO${bytes.charAt(2)}` : bytes;
}

/** A key of the row never takes the focus (the on-screen keyboard stays up). */
const keep = (e: PointerEvent) => e.preventDefault();

/**
 * The row of keys a touch keyboard lacks: Esc, Ctrl, Alt, Tab, arrows, `|`, `~`, `/`. Shown on
 * narrow and touch screens (CSS). Buttons never take the focus, so the on-screen keyboard stays
 * up and the terminal keeps the input.
 */
export function ExtraKeys(props: {
  modifiers: Modifiers;
  onModifiers: (m: Modifiers) => void;
  onKey: (bytes: string) => void;
}) {
  const { modifiers: m } = props;
  const key = ([label, name, bytes]: (typeof KEYS)[number]) => (
    <button
      key={name}
      type="button"
      className="extra-key"
      aria-label={name}
      onPointerDown={keep}
      onClick={() => props.onKey(bytes)}
    >
      {label}
    </button>
  );
  return (
    <div className="extra-keys" role="toolbar" aria-label="Extra keys">
      {KEYS.slice(0, 1).map(key)}
      {(['ctrl', 'alt'] as const).map((mod) => (
        <button
          key={mod}
          type="button"
          className="extra-key extra-mod"
          aria-pressed={m[mod]}
          aria-label={mod === 'ctrl' ? 'Ctrl' : 'Alt'}
          onPointerDown={keep}
          onClick={() => props.onModifiers({ ...m, [mod]: !m[mod] })}
        >
          {mod === 'ctrl' ? 'Ctrl' : 'Alt'}
        </button>
      ))}
      {KEYS.slice(1).map(key)}
    </div>
  );
}
