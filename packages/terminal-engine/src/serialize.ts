import xtermHeadless from '@xterm/headless';
import {
  Bg,
  Color,
  coreOf,
  Ext,
  Fg,
  type HeadlessTerminal,
  type XtermAttrs,
  type XtermBuffer,
  type XtermCell,
  type XtermCore,
  type XtermLine,
} from './xterm-internals.js';

/**
 * Serializes an xterm terminal into bytes that, written into a fresh xterm of the same size
 * (or one `reset()`), reproduce its whole state: every cell (character, colours, flags,
 * underline style and colour, hyperlink, protection), each line's wrap flag, the scrollback,
 * the alternate screen, the cursor (including a pending wrap at the last column), both
 * buffers' scroll regions, tab stops and saved cursors (DECSC, ?1048, ?1049), the current
 * attributes and hyperlink, the G0–G3 character sets and which one is shifted in, every mode
 * xterm implements (cursor keys, keypad, insert, origin, wraparound, reverse wraparound, focus,
 * bracketed paste, synchronized output, cursor visibility, style and blink, mouse protocol and
 * encoding, LNM) and the window title.
 *
 * Why not @xterm/addon-serialize: it restores characters and a few modes, and loses the scroll
 * region, the character sets, the mouse encoding, tab stops, saved cursors and the pending wrap
 * (its cursor lands a column to the left after a full last column), which full-screen programs
 * rely on (docs/decisions.md, "Exact restore"). Most of that state is not on xterm's public API,
 * so it is read from `_core` (see xterm-internals.ts); the conformance tests (vttest, and a
 * randomized differential test) compare a restored terminal with one that saw every byte, cell
 * by cell and mode by mode, so an xterm upgrade that moves something fails there first.
 *
 * The output assumes the receiving terminal starts in xterm's initial state, as a fresh or
 * reset() one does: default modes, charsets and attributes, the normal buffer active.
 */
export function serializeTerminal(term: HeadlessTerminal, scrollback = Number.POSITIVE_INFINITY): string {
  const core = coreOf(term);
  const normal = core?.buffers?.normal;
  const alt = core?.buffers?.alt;
  if (!core || !normal || !alt || !core._inputHandler?._curAttrData || !core._charsetService) {
    throw new Error('xterm internals the serializer needs are missing (xterm upgraded?)');
  }
  return new Serializer(term, core, scrollback).run(normal, alt, core.buffers?.active === alt);
}

const CSI = '\x1b[';
/** Width 2 under both Unicode 6 and 11: printed to make xterm leave a blank cell with given attributes. */
const WIDE_FILLER = '\u4e00';
const DEFAULT_ATTRS: XtermAttrs = { fg: 0, bg: 0, extended: { _ext: 0, urlId: 0 } };
/** Colour bits of bg: what an erase (ED, EL, ECH, scrolling) gives a blank cell. */
const ERASE_BG_MASK = Color.MODE_MASK | Color.RGB_MASK;

function colorParams(color: number, base: number): string {
  const mode = color & Color.MODE_MASK;
  // Palette colours keep stale bits above the index (xterm clears only the low byte): dropped.
  const value = color & (mode === Color.RGB ? Color.RGB_MASK : 0xff);
  if (mode === Color.P16) return String(value < 8 ? base + value : base + 60 + (value - 8));
  if (mode === Color.P256) return `${base + 8};5;${value}`;
  if (mode === Color.RGB)
    return `${base + 8};2;${(value >> 16) & 0xff};${(value >> 8) & 0xff};${value & 0xff}`;
  return '';
}

/** A blank cell as an erase leaves it: no flags, no extended attributes, maybe a background colour. */
function isEraseLike(a: XtermAttrs): boolean {
  return a.fg === 0 && (a.bg & ~ERASE_BG_MASK) === 0;
}

/** Where writing a row starts (see `writeRow`). */
interface RowStart {
  onRow: boolean;
  done: number;
  dirty: number;
}

class Serializer {
  private out = '';
  /** The receiving terminal's current attributes, as far as this output has set them: */
  /** the SGR parameters last written (a fresh terminal's are SGR 0's), */
  private sgr = '0';
  /** its background (what an erase or a scroll fills with), */
  private bg = 0;
  /** the attribute bits that produced them (a cache: -1 when unknown), */
  private lastFg = 0;
  private lastBg = 0;
  private lastExt = 0;
  private lastUrlId = 0;
  /** its hyperlink (OSC 8 parameters and URI; ';' for none) and DECSCA protection. */
  private link = ';';
  private protected = false;
  private readonly cols: number;
  private readonly rows: number;
  private readonly cell: XtermCell;
  private readonly cell2: XtermCell;

  constructor(
    private readonly term: HeadlessTerminal,
    private readonly core: XtermCore,
    private readonly scrollback: number,
  ) {
    this.cols = term.cols;
    this.rows = term.rows;
    this.cell = term.buffer.normal.getNullCell() as unknown as XtermCell;
    this.cell2 = term.buffer.normal.getNullCell() as unknown as XtermCell;
  }

  run(normal: XtermBuffer, alt: XtermBuffer, altActive: boolean): string {
    const core = this.core;
    const charsets = core._charsetService!;
    this.writeLines(
      normal,
      Math.max(0, normal.lines.length - this.rows - this.scrollback),
      normal.lines.length,
    );
    this.bufferState(normal);
    if (altActive || !isDefaultSaved(alt)) {
      this.attrs(DEFAULT_ATTRS);
      // 1047, not 1049: entering through 1049 would overwrite the normal buffer's saved cursor.
      this.out += `${CSI}?1047h${CSI}H`;
      if (altActive) this.writeLines(alt, 0, alt.lines.length);
      this.bufferState(alt);
      if (!altActive) this.out += `${CSI}?1047l`;
    }
    const active = altActive ? alt : normal;
    const modes = core.coreService?.decPrivateModes ?? {};

    // The active charset is G(glevel) unless DECRC set it from a saved cursor; then it can only
    // be reproduced by a DECRC (done first, since the cursor and attributes are set again below).
    const level = charsets.glevel ?? 0;
    const gsets = [0, 1, 2, 3].map((g) => charsets._charsets?.[g]);
    const viaRestore = charsets.charset !== gsets[level] && charsets.charset === active.savedCharset;
    if (viaRestore) {
      this.designate(gsets, level);
      this.out += '\x1b8';
      this.bg = active.savedCurAttrData.bg & ~(Bg.PROTECTED | Bg.HAS_EXTENDED);
      this.protected = (active.savedCurAttrData.bg & Bg.PROTECTED) !== 0;
      this.sgr = ''; // unknown: the next attrs() writes a full SGR
      this.lastFg = -1;
    }

    if (modes.origin) this.out += `${CSI}?6h`;
    if (!viaRestore) this.designate(gsets, level);
    const current = core._inputHandler!._curAttrData!;
    this.currentAttrs(current);
    this.out += this.modes();
    const input = core._inputHandler!;
    const title = input._windowTitle ?? '';
    const icon = input._iconName ?? '';
    if (title && title === icon) this.out += `\x1b]0;${title}\x07`;
    else {
      if (title) this.out += `\x1b]2;${title}\x07`;
      if (icon) this.out += `\x1b]1;${icon}\x07`;
    }
    // Last: any sequence after a print clears the parser's memory of the printed character.
    this.cursor(active, modes.origin === true, charsets.charset, current);
    return this.out;
  }

  /** Lines [from, to) of `buf`, written from the top of a fresh screen. */
  private writeLines(buf: XtermBuffer, from: number, to: number): void {
    const onScreen = to - from <= this.rows;
    // Without scrollback only the lines that hold something need writing.
    let end = to;
    if (onScreen) {
      while (end > from && isBlankLine(buf.lines.get(end - 1), this.cell, this.cols)) end--;
    }
    if (!(onScreen && end > from && buf.lines.get(from)?.isWrapped)) {
      this.writeRange(buf, from, end, from, { onRow: false, done: 0, dirty: 0 });
      return;
    }
    // The top line continues a line that is gone (deleted, scrolled off in a region, cleared
    // with the scrollback): only a wrap from a line above can mark it, so a filler line goes
    // above it and is deleted (DL) afterwards. Without scrollback nothing may scroll: if every
    // row is used, the bottom line is written after the deletion.
    this.attrs(DEFAULT_ATTRS);
    this.out += `${'x'.repeat(this.cols)} \r`;
    const start: RowStart = { onRow: true, done: 0, dirty: 1 };
    const fits = end - from < this.rows;
    this.writeRange(buf, from, fits ? end : end - 1, from - 1, start);
    this.attrs(DEFAULT_ATTRS);
    this.out += `${CSI}H${CSI}M`;
    if (fits) return;
    // Rewrite the row above the bottom one (over itself), so it wraps into the bottom one if
    // that continues it, then the bottom one.
    this.out += `${CSI}${this.rows - 1};1H`;
    this.writeRange(buf, end - 2, end, end - 2 - (this.rows - 2), { onRow: false, done: 0, dirty: 0 });
  }

  /**
   * Writes lines [from, end) of `buf` row after row, the first one from `start`; `top` is the
   * line that is on the screen's first row (to tell the bottom row, which must not wrap).
   */
  private writeRange(buf: XtermBuffer, from: number, end: number, top: number, start: RowStart): void {
    for (let y = from; y < end; y++) {
      const line = buf.lines.get(y);
      if (!line) continue;
      if (y === buf.savedY && !isDefaultSaved(buf) && this.savedWritten !== buf && buf.ybase > 0) {
        // On the saved line now (with scrollback: see saveCursor); the row goes on from where
        // the cursor stood.
        this.saveCursor(buf);
        this.out += `${CSI}${Math.max(0, start.done) + 1}G`;
      }
      const next = y + 1 < end ? buf.lines.get(y + 1) : undefined;
      const wrapsIntoNext = next?.isWrapped === true;
      // A row can wrap into the next one unless it is the screen's bottom row (that would scroll).
      const canWrap = y + 1 < end || y - top < this.rows - 1;
      start = this.writeRow(line, next, wrapsIntoNext, start, canWrap);
      if (y + 1 < end && !start.onRow) {
        // A scroll fills the new line with the current background: reset it first.
        if (this.bg & ERASE_BG_MASK) this.attrs(DEFAULT_ATTRS);
        this.out += '\r\n';
      }
    }
  }

  /**
   * Writes one row left to right, from column `start.done` (the columns before it are written
   * already), where the cursor stands. Columns before `start.dirty` hold something the row does
   * not and are written even where the row is blank. Returns where the next row starts: on that
   * row already (`onRow`, after a wrap into it) or still on this one (a CR LF follows).
   */
  private writeRow(
    line: XtermLine,
    next: XtermLine | undefined,
    wrapsIntoNext: boolean,
    start: RowStart,
    canWrap: boolean,
  ): RowStart {
    const cols = Math.min(line.length, this.cols);
    const cell = this.cell;
    let dirty = start.dirty;
    let x = start.done; // the receiving cursor's column; -1: unknown
    const notYet: RowStart = { onRow: false, done: 0, dirty: 0 };
    const moveTo = (col: number) => {
      if (x !== col) this.out += `${CSI}${col + 1}G`;
      x = col;
    };
    // The last column holding something: trailing default blanks need no writing. When the row
    // wraps into the next one, a blank last column is written at the end (below).
    const wraps = wrapsIntoNext && next !== undefined;
    let last = wraps && isBlank(line.loadCell(cols - 1, cell)) ? cols - 2 : cols - 1;
    while (last >= dirty && isDefaultBlank(line.loadCell(last, cell))) last--;
    for (let col = start.done; col <= last; col++) {
      line.loadCell(col, cell);
      const width = cell.getWidth();
      if (width === 0) continue; // the right half of a wide character, written with it
      const chars = cell.getChars();
      if (chars !== '') {
        moveTo(col);
        this.attrs(cell);
        this.out += chars;
        x = col + width >= this.cols ? -1 : col + width;
        continue;
      }
      // A blank cell.
      if (isEraseLike(cell)) {
        if ((cell.bg & ERASE_BG_MASK) === 0 && col >= dirty) continue; // as a fresh line has it
        let n = 1;
        while (col + n <= last && sameBlank(line, col + n, cell, this.cell2)) n++;
        moveTo(col);
        this.attrs({ fg: 0, bg: cell.bg, extended: DEFAULT_ATTRS.extended });
        this.out += `${CSI}${n}X`;
        col += n - 1;
        continue;
      }
      // A blank with attributes only printing leaves: the left half of an overwritten wide
      // character, or the last column a wide character did not fit in.
      if (col < this.cols - 1) {
        moveTo(col);
        this.attrs(DEFAULT_ATTRS);
        this.out += WIDE_FILLER;
        this.out += `${CSI}${col + 2}G`;
        this.attrs(cell);
        // xterm blanks the wide character's left half with the current attributes.
        this.out += ' ';
        x = col + 2 >= this.cols ? -1 : col + 2;
        // The space in col + 1 is written over next; if that cell is blank it must be erased.
        dirty = Math.max(dirty, col + 2);
        if (last < col + 1) last = col + 1;
      } else if (canWrap) {
        // Last column: a wide character printed there wraps and leaves this cell blank with
        // the current attributes. The next line is then cleaned (ECH keeps its wrap flag, EL at
        // column 0 clears it).
        moveTo(col);
        this.attrs(cell);
        this.out += WIDE_FILLER;
        this.attrs(DEFAULT_ATTRS);
        this.out += `\r${wrapsIntoNext ? `${CSI}${this.cols}X` : `${CSI}K`}`;
        return { onRow: true, done: 0, dirty: 0 };
      } else {
        moveTo(col);
        this.attrs({ fg: 0, bg: cell.bg & ERASE_BG_MASK, extended: DEFAULT_ATTRS.extended });
        this.out += `${CSI}1X`;
      }
    }
    if (!wraps || !next) return notYet;

    // The next line continues this one: the cursor must stand past the last column (pending
    // wrap) when the next line's first character is printed.
    const first = this.cell2;
    next.loadCell(0, first);
    line.loadCell(this.cols - 1, cell);
    const lastBlank = isBlank(cell);
    if (lastBlank && first.getWidth() === 2 && sameAttrs(cell, first)) {
      // A wide character that did not fit in the last column: printing it there does the same.
      moveTo(this.cols - 1);
      this.attrs(first);
      this.out += first.getChars();
      return { onRow: true, done: 2, dirty: this.scrolledIn() };
    }
    if (lastBlank && !isEraseLike(cell)) {
      // A blank with attributes an erase cannot give (a wide character's leftover): printing a
      // wide character there leaves it blank with the current ones, and wraps. Its two cells
      // on the next row are written over (dirty).
      moveTo(this.cols - 1);
      this.attrs(cell);
      this.out += `${WIDE_FILLER}\r`;
      return { onRow: true, done: 0, dirty: Math.max(2, this.scrolledIn()) };
    }
    const eraseBg = cell.bg & ERASE_BG_MASK;
    if (lastBlank) {
      // Printed over to reach the pending wrap, erased again once wrapped.
      moveTo(this.cols - 1);
      this.attrs(DEFAULT_ATTRS);
      this.out += ' ';
    }
    const firstChars = first.getChars();
    this.attrs(firstChars === '' ? DEFAULT_ATTRS : first);
    this.out += firstChars === '' ? ' ' : firstChars;
    const width = firstChars === '' ? 1 : first.getWidth();
    const scrolled = this.scrolledIn();
    if (lastBlank) {
      this.attrs({ fg: 0, bg: eraseBg, extended: DEFAULT_ATTRS.extended });
      this.out += `${CSI}A${CSI}${this.cols}G${CSI}X${CSI}B${CSI}${width + 1}G`;
    }
    if (firstChars === '') this.out += `${CSI}1G`;
    return firstChars === ''
      ? { onRow: true, done: 0, dirty: Math.max(1, scrolled) }
      : { onRow: true, done: width, dirty: scrolled };
  }

  /**
   * Columns of the row just wrapped into that must be written even where blank: a wrap on the
   * bottom row scrolls, and the line scrolled in is filled with the current background.
   */
  private scrolledIn(): number {
    return this.bg & ERASE_BG_MASK ? this.cols : 0;
  }

  /** Tab stops, scroll region and saved cursor of the active buffer `buf`. */
  private bufferState(buf: XtermBuffer): void {
    const width = this.core.optionsService?.rawOptions?.tabStopWidth ?? 8;
    const stops = Object.keys(buf.tabs)
      .map(Number)
      .filter((x) => buf.tabs[x] && x < this.cols)
      .sort((a, b) => a - b);
    const defaults = stops.length === Math.ceil(this.cols / width) && stops.every((x, i) => x === i * width);
    if (!defaults) {
      this.out += `${CSI}3g`;
      for (const x of stops) this.out += `${CSI}${x + 1}G\x1bH`;
    }
    if (buf.scrollTop !== 0 || buf.scrollBottom !== this.rows - 1) {
      this.out += `${CSI}${buf.scrollTop + 1};${buf.scrollBottom + 1}r`;
    }
    if (!isDefaultSaved(buf) && this.savedWritten !== buf) {
      const row = Math.min(this.rows - 1, Math.max(0, buf.savedY - buf.ybase));
      this.out += `${CSI}${row + 1};1H`;
      this.saveCursor(buf);
    }
  }

  /**
   * DECSC of `buf`'s saved cursor, with the cursor on the saved row: the saved row is an
   * absolute line (it stays with its line when the scrollback is cleared, ED 3), so the normal
   * buffer's is saved while that line is being written (see writeRange).
   */
  private saveCursor(buf: XtermBuffer): void {
    this.out += `${CSI}${Math.min(buf.savedX, this.cols - 1) + 1}G`;
    const charsetName = charsetDesignator(buf.savedCharset);
    if (charsetName !== 'B') this.out += `\x1b(${charsetName}`;
    this.rawAttrs(buf.savedCurAttrData.fg, buf.savedCurAttrData.bg);
    this.out += '\x1b7';
    if (charsetName !== 'B') this.out += '\x1b(B';
    this.savedWritten = buf;
  }

  /** The buffer whose saved cursor was set while its lines were written. */
  private savedWritten: XtermBuffer | null = null;

  /** The current attributes, and an underline colour kept while not underlined. */
  private currentAttrs(current: XtermAttrs): void {
    this.attrs(current);
    // An underline colour set while not underlined is kept (without HAS_EXTENDED) and shows on
    // the next SGR 4: set it the same way.
    const latentColor = (current.extended._ext ?? 0) & (Color.MODE_MASK | Color.RGB_MASK);
    if (underlineStyle(current) === 0 && latentColor !== 0) {
      const params = colorParams(latentColor, 50);
      if (params.startsWith('58')) this.out += `${CSI}${params}m`;
    }
  }

  /**
   * Prints `cell` again where it is (the cursor is there), leaving the current attributes as
   * they are: the printed character is what the parser remembers (see `cursor`).
   */
  private reprint(printable: string, cell: XtermCell, current: XtermAttrs): void {
    const before = this.out.length;
    this.attrs(cell);
    const changed = this.out.length !== before;
    this.out += printable;
    if (changed) this.currentAttrs(current);
  }

  /** Puts the cursor where the terminal has it, a pending wrap included. */
  private cursor(buf: XtermBuffer, origin: boolean, charset: object | undefined, current: XtermAttrs): void {
    const top = origin ? buf.scrollTop : 0;
    // (Clamped: with origin mode on, CUP cannot reach a cursor left above the region.)
    const row = Math.max(1, buf.y - top + 1);
    const line = buf.lines.get(buf.ybase + buf.y);
    if (buf.x < this.cols) {
      // The parser remembers the last printed character, which decides whether the next one
      // (a combining mark, a joiner) joins it: print it again, from the cell before the cursor.
      const joinState = this.core._inputHandler?._parser?.precedingJoinState ?? 0;
      let col = buf.x - 1;
      if (joinState !== 0 && line && col >= 0 && line.loadCell(col, this.cell).getWidth() === 0) col--;
      const chars = col >= 0 && line ? line.loadCell(col, this.cell).getChars() : '';
      const printable = joinState !== 0 && chars !== '' ? encodeFor(chars, charset) : undefined;
      if (printable !== undefined && col + this.cell.getWidth() === buf.x) {
        this.out += `${CSI}${row};${col + 1}H`;
        // In insert mode the print shifts the rest of the line right: shift it left first.
        if (this.core.coreService?.modes?.insertMode) this.out += `${CSI}${this.cell.getWidth()}P`;
        this.reprint(printable, this.cell, current);
      } else {
        this.out += `${CSI}${row};${buf.x + 1}H`;
      }
      return;
    }
    // Past the last column: the last character was printed and the next one wraps. Printing the
    // last cell again puts the cursor there.
    let col = this.cols - 1;
    if (line && line.loadCell(col, this.cell).getWidth() === 0 && col > 0) col--;
    line?.loadCell(col, this.cell);
    const chars = this.cell.getChars();
    const printable = chars === '' ? undefined : encodeFor(chars, charset);
    if (line && printable !== undefined) {
      this.out += `${CSI}${row};${col + 1}H`;
      this.reprint(printable, this.cell, current);
      if ((this.core._inputHandler?._parser?.precedingJoinState ?? 0) === 0) {
        // Something came after that print: any sequence makes the parser forget it.
        this.sgr = '';
        this.lastFg = -1;
        this.currentAttrs(current);
      }
      return;
    }
    if (line && chars === '' && isUniformBlank(line, this.cell, this.cell2, this.cols)) {
      // An erased line (EL 1/2, ED) leaves the cursor where it was: print, then erase again.
      this.out += `${CSI}${row};${this.cols}H`;
      this.attrs(DEFAULT_ATTRS);
      this.out += encodeFor(' ', charset) ?? ' ';
      this.attrs({ fg: 0, bg: this.cell.bg & ERASE_BG_MASK, extended: DEFAULT_ATTRS.extended });
      this.out += `${CSI}2K`;
      this.currentAttrs(current);
      return;
    }
    this.out += `${CSI}${row};${this.cols}H`;
  }

  /** G0–G3 and the shift state. */
  private designate(gsets: (object | undefined)[], level: number): void {
    const intermediates = ['(', ')', '*', '+'];
    gsets.forEach((set, g) => {
      const name = charsetDesignator(set);
      if (name !== 'B') this.out += `\x1b${intermediates[g]}${name}`;
    });
    if (level !== 0) this.out += ['', '\x0e', '\x1bn', '\x1bo'][level];
  }

  private modes(): string {
    const core = this.core;
    const m = core.coreService?.decPrivateModes ?? {};
    let out = '';
    if (m.applicationCursorKeys) out += `${CSI}?1h`;
    if (m.applicationKeypad) out += '\x1b=';
    if (m.bracketedPasteMode) out += `${CSI}?2004h`;
    if (core.coreService?.modes?.insertMode) out += `${CSI}4h`;
    if (m.reverseWraparound) out += `${CSI}?45h`;
    if (m.sendFocus) out += `${CSI}?1004h`;
    if (m.wraparound === false) out += `${CSI}?7l`;
    if (m.synchronizedOutput) out += `${CSI}?2026h`;
    const protocol = core.coreMouseService?.activeProtocol;
    const tracking = { X10: 9, VT200: 1000, DRAG: 1002, ANY: 1003 }[protocol ?? ''];
    if (tracking) out += `${CSI}?${tracking}h`;
    const encoding = core.coreMouseService?.activeEncoding;
    if (encoding === 'SGR') out += `${CSI}?1006h`;
    else if (encoding === 'SGR_PIXELS') out += `${CSI}?1016h`;
    if (core.coreService?.isCursorHidden) out += `${CSI}?25l`;
    if (m.cursorStyle) {
      const base = { block: 1, underline: 3, bar: 5 }[m.cursorStyle];
      out += `${CSI}${base + (m.cursorBlink ? 0 : 1)} q`;
    }
    // Options a stream can change: a fresh terminal has them as created.
    if (this.term.options.cursorBlink) out += `${CSI}?12h`;
    if (this.term.options.convertEol) out += `${CSI}20h`;
    return out;
  }

  /** Sets the receiving terminal's attributes (and hyperlink) to `a`'s, if they differ. */
  private attrs(a: XtermAttrs): void {
    this.rawAttrs(a.fg, a.bg, a.extended);
  }

  private rawAttrs(fg: number, bg: number, extended?: XtermAttrs['extended']): void {
    const ext = bg & Bg.HAS_EXTENDED && extended ? (extended._ext ?? 0) : 0;
    const urlId = bg & Bg.HAS_EXTENDED ? (extended?.urlId ?? 0) : 0;
    // Most cells have the attributes of the cell before: nothing to compute or write.
    if (fg === this.lastFg && bg === this.lastBg && ext === this.lastExt && urlId === this.lastUrlId) return;
    this.lastFg = fg;
    this.lastBg = bg;
    this.lastExt = ext;
    this.lastUrlId = urlId;
    // Compared by the SGR they need, not by their bits (stale bits render the same).
    const p = ['0'];
    if (fg & Fg.BOLD) p.push('1');
    if (bg & Bg.DIM) p.push('2');
    if (bg & Bg.ITALIC) p.push('3');
    // An underline flag with an extended style of "none" draws no underline (see captureState).
    const style = bg & Bg.HAS_EXTENDED ? (ext & Ext.UNDERLINE_STYLE) >>> 26 : 1;
    if (fg & Fg.UNDERLINE && style > 0) p.push(style > 1 ? `4:${style}` : '4');
    if (fg & Fg.BLINK) p.push('5');
    if (fg & Fg.INVERSE) p.push('7');
    if (fg & Fg.INVISIBLE) p.push('8');
    if (fg & Fg.STRIKETHROUGH) p.push('9');
    if (bg & Bg.OVERLINE) p.push('53');
    const fgColor = colorParams(fg, 30);
    if (fgColor) p.push(fgColor);
    const bgColor = colorParams(bg, 40);
    if (bgColor) p.push(bgColor);
    // Underline colours are kept as 256-colour or RGB ones (SGR 58;5 / 58;2).
    const underlineColor = colorParams(ext, 50);
    if (underlineColor.startsWith('58')) p.push(underlineColor);
    const sgr = p.join(';');
    if (sgr !== this.sgr) {
      this.out += `${CSI}${sgr}m`;
      this.sgr = sgr;
      this.bg = bg & ~(Bg.PROTECTED | Bg.HAS_EXTENDED);
      this.protected = false; // SGR 0 clears it
    }
    const protect = (bg & Bg.PROTECTED) !== 0;
    if (protect !== this.protected) {
      this.out += `${CSI}${protect ? 1 : 0}"q`;
      this.protected = protect;
    }
    // A cell's `extended` is only meaningful with HAS_EXTENDED (loadCell leaves it stale otherwise).
    const data = urlId ? this.core._oscLinkService?.getLinkData(urlId) : undefined;
    const link = data ? `${data.id ? `id=${data.id}` : ''};${data.uri}` : ';';
    if (link !== this.link) {
      this.out += `\x1b]8;${link}\x1b\\`;
      this.link = link;
    }
  }
}

/** The underline xterm draws for `a`: 0 none, 1 single … 5 dashed. */
export function underlineStyle(a: XtermAttrs): number {
  if (!(a.fg & Fg.UNDERLINE)) return 0;
  return a.bg & Bg.HAS_EXTENDED ? ((a.extended._ext ?? 0) & Ext.UNDERLINE_STYLE) >>> 26 : 1;
}

function sameAttrs(a: XtermAttrs, b: XtermAttrs): boolean {
  if (a.fg !== b.fg || a.bg !== b.bg) return false;
  if (!(a.bg & Bg.HAS_EXTENDED)) return true;
  return a.extended._ext === b.extended._ext && a.extended.urlId === b.extended.urlId;
}

function isBlank(cell: XtermCell): boolean {
  return cell.getChars() === '' && cell.getWidth() === 1;
}

function isDefaultBlank(cell: XtermCell): boolean {
  return cell.getChars() === '' && cell.getWidth() === 1 && cell.fg === 0 && cell.bg === 0;
}

/** Cell `x` of `line` is a blank with the same attributes as `like`. */
function sameBlank(line: XtermLine, x: number, like: XtermCell, scratch: XtermCell): boolean {
  line.loadCell(x, scratch);
  return scratch.getChars() === '' && scratch.getWidth() === 1 && sameAttrs(scratch, like);
}

function isBlankLine(line: XtermLine | undefined, cell: XtermCell, cols: number): boolean {
  if (!line) return true;
  if (line.isWrapped) return false;
  for (let x = 0; x < Math.min(line.length, cols); x++)
    if (!isDefaultBlank(line.loadCell(x, cell))) return false;
  return true;
}

function isUniformBlank(line: XtermLine, cell: XtermCell, scratch: XtermCell, cols: number): boolean {
  line.loadCell(0, cell);
  if (cell.getChars() !== '' || !isEraseLike(cell)) return false;
  for (let x = 1; x < cols; x++) if (!sameBlank(line, x, cell, scratch)) return false;
  line.loadCell(cols - 1, cell);
  return true;
}

function isDefaultSaved(buf: XtermBuffer): boolean {
  return (
    buf.savedX === 0 &&
    buf.savedY === 0 &&
    buf.savedCurAttrData.fg === 0 &&
    buf.savedCurAttrData.bg === 0 &&
    buf.savedCharset === undefined
  );
}

/**
 * Designator (the final byte of `ESC ( F`) of each of xterm's charset tables, found by asking a
 * scratch xterm once: the tables are module-level objects, shared by every terminal in the
 * process, so identity tells them apart.
 */
let designators: Map<object, string> | null = null;
const CHARSET_FINALS = '0AB4C5RQKYE6ZH7=';

function charsetDesignator(charset: object | undefined): string {
  if (charset === undefined) return 'B';
  if (!designators) {
    designators = new Map();
    const probe = new xtermHeadless.Terminal({ cols: 10, rows: 2, allowProposedApi: true, logLevel: 'off' });
    const cs = coreOf(probe)?._charsetService;
    const write = coreOf(probe)?.writeSync;
    for (const final of CHARSET_FINALS) {
      write?.call(coreOf(probe), `\x1b(${final}`);
      const table = cs?._charsets?.[0];
      if (table && !designators.has(table)) designators.set(table, final);
    }
    probe.dispose();
  }
  return designators.get(charset) ?? 'B';
}

/**
 * What to print so that `chars` lands in a cell while `charset` is shifted in: `chars` itself
 * if the charset leaves it alone, else the character the charset maps to it; undefined if none.
 */
function encodeFor(chars: string, charset: object | undefined): string | undefined {
  if (!charset) return chars;
  const table = charset as Record<string, string>;
  if (!(chars in table)) return chars;
  for (const [key, value] of Object.entries(table)) if (value === chars) return key;
  return undefined;
}
