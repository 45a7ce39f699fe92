import { underlineStyle } from '../src/serialize.js';
import {
  Bg,
  Color,
  coreOf,
  Fg,
  type HeadlessTerminal,
  type XtermAttrs,
  type XtermBuffer,
  type XtermCell,
  type XtermCore,
} from '../src/xterm-internals.js';

/**
 * Everything a terminal carries that decides what it shows and how the next bytes render:
 * every cell (character, width, colours, flags, underline style and colour, hyperlink), each
 * line's wrap flag, the cursor (pending wrap included), both buffers' scroll regions, tab stops
 * and saved cursors, the current attributes, the character sets, every mode, the mouse
 * protocol and encoding, the title and the parser's state. As flat `key → value` strings, so a
 * difference reads as `normal.line[3].cell[79]: "E|1|0|0" ≠ "|1|0|0"`.
 *
 * Hyperlinks are compared by their target, not by xterm's per-instance link ids.
 */
export function captureState(term: HeadlessTerminal): Map<string, string> {
  const core = coreOf(term);
  if (!core) throw new Error('xterm internals missing');
  const out = new Map<string, string>();
  const put = (key: string, value: unknown) => out.set(key, JSON.stringify(value) ?? 'undefined');
  const charsetIds = charsetNames(core);
  const link = (urlId: number) => (urlId ? core._oscLinkService?.getLinkData(urlId) : undefined);
  // Attributes as they render: xterm can hold an underline flag whose extended style is "none"
  // (DECRC restores the flags, not the style they referred to), which draws no underline; that
  // compares equal to no underline at all. Underline colour counts only on underlined cells.
  const attrs = (a: XtermAttrs) => {
    const style = underlineStyle(a);
    const fg = style === 0 ? a.fg & ~Fg.UNDERLINE : a.fg;
    const bg = a.bg & ~Bg.HAS_EXTENDED;
    const ext = a.bg & Bg.HAS_EXTENDED ? (a.extended._ext ?? 0) : 0;
    const underlineColor = style === 0 ? 0 : color(ext);
    // A link whose data xterm dropped (its lines left the scrollback) renders as no link.
    const data = a.bg & Bg.HAS_EXTENDED && a.extended.urlId ? link(a.extended.urlId) : undefined;
    const url = data ? JSON.stringify(data) : '';
    return `${withColor(fg)}/${withColor(bg)}/${style}/${underlineColor}/${url}`;
  };

  const buffers = core.buffers;
  const active = buffers?.active === buffers?.alt ? 'alt' : 'normal';
  put('active', active);
  const cell = term.buffer.normal.getNullCell() as unknown as XtermCell;
  const dumpBuffer = (name: string, buf: XtermBuffer | undefined, withLines: boolean) => {
    if (!buf) throw new Error(`buffer ${name} missing`);
    // While the alternate buffer is active the normal one's cursor is dead state: leaving the
    // alternate buffer copies its cursor over it.
    const dead = name === 'normal' && active === 'alt';
    put(`${name}.cursor`, dead ? [buf.ybase] : [buf.x, buf.y, buf.ybase]);
    put(`${name}.margins`, [buf.scrollTop, buf.scrollBottom]);
    put(
      `${name}.tabs`,
      Object.keys(buf.tabs)
        .map(Number)
        .filter((x) => buf.tabs[x] && x < term.cols)
        .sort((a, b) => a - b),
    );
    // DECRC keeps the cursor on the screen: a saved column past the last one (a pending wrap)
    // restores as the last column, a saved row scrolled off as the top row.
    put(`${name}.saved`, [
      Math.min(buf.savedX, term.cols - 1),
      Math.min(term.rows - 1, Math.max(0, buf.savedY - buf.ybase)),
      attrs(buf.savedCurAttrData),
      charsetIds(buf.savedCharset),
    ]);
    if (!withLines) return;
    put(`${name}.lines`, buf.lines.length);
    for (let y = 0; y < buf.lines.length; y++) {
      const line = buf.lines.get(y);
      if (!line) continue;
      // Not reproduced (docs/decisions.md, "Exact restore"): the wrap flag of the oldest
      // scrollback line, whose predecessor was trimmed or cleared; it only affects reflow.
      if (!(y === 0 && buf.ybase > 0)) put(`${name}.line[${y}].wrapped`, line.isWrapped);
      for (let x = 0; x < line.length; x++) {
        line.loadCell(x, cell);
        put(`${name}.line[${y}].cell[${x}]`, `${cell.getChars()}|${cell.getWidth()}|${attrs(cell)}`);
      }
    }
  };
  dumpBuffer('normal', buffers?.normal, true);
  // The alternate buffer is cleared whenever it is left: only its saved cursor outlives that.
  dumpBuffer('alt', buffers?.alt, active === 'alt');

  const input = core._inputHandler;
  const current = input?._curAttrData;
  if (current) {
    put('attrs', attrs(current));
    // Kept without HAS_EXTENDED (after SGR 58 alone, or DECRC), shown again by a later SGR.
    put(
      'attrs.latentUnderlineColor',
      underlineStyle(current) === 0 ? color(current.extended._ext ?? 0) : null,
    );
    put('attrs.latentLink', current.bg & Bg.HAS_EXTENDED ? null : (link(current.extended.urlId) ?? null));
  }
  put('cursorHidden', core.coreService?.isCursorHidden);
  put('modes', core.coreService?.modes);
  put('decPrivateModes', core.coreService?.decPrivateModes);
  put('mouse', [core.coreMouseService?.activeProtocol, core.coreMouseService?.activeEncoding]);
  const cs = core._charsetService;
  put(
    'charsets',
    [0, 1, 2, 3].map((g) => charsetIds(cs?._charsets?.[g])),
  );
  put('glevel', cs?.glevel);
  put('charset', charsetIds(cs?.charset));
  put('title', [input?._windowTitle, input?._iconName]);
  put('options', [term.options.cursorBlink, term.options.convertEol]);
  put('parser', [
    input?._parser?.currentState,
    Array.from(input?._utf8Decoder?.interim ?? []),
    // Unicode properties of the last printed character: whether the next one joins it.
    input?._parser?.precedingJoinState,
  ]);
  return out;
}

/**
 * A colour as it renders: palette colours by their index (xterm leaves stale bits above it when
 * switching from an RGB colour), RGB ones by their value, the default as 0.
 */
function color(value: number): number {
  const mode = value & Color.MODE_MASK;
  if (mode === 0) return 0;
  return mode | (value & (mode === Color.RGB ? Color.RGB_MASK : 0xff));
}

/** fg or bg with its colour normalized (see `color`), flags as they are. */
function withColor(attr: number): number {
  return ((attr & ~(Color.MODE_MASK | Color.RGB_MASK)) | color(attr)) >>> 0;
}

/** Names xterm's charset tables by their first few mappings (the objects differ per bundle). */
function charsetNames(_core: XtermCore) {
  return (charset: object | undefined): string =>
    charset === undefined ? 'ascii' : JSON.stringify(Object.entries(charset).slice(0, 4));
}

/** The differences between two captured states, at most `limit`, as readable lines. */
export function diffStates(expected: Map<string, string>, actual: Map<string, string>, limit = 12): string[] {
  const diffs: string[] = [];
  const keys = new Set([...expected.keys(), ...actual.keys()]);
  for (const key of keys) {
    const want = expected.get(key);
    const got = actual.get(key);
    if (want !== got) diffs.push(`${key}: expected ${want ?? '(none)'}, got ${got ?? '(none)'}`);
    if (diffs.length >= limit) break;
  }
  return diffs;
}
