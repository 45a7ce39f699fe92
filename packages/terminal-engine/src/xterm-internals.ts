import type xtermHeadless from '@xterm/headless';

export type HeadlessTerminal = InstanceType<typeof xtermHeadless.Terminal>;

/**
 * The parts of xterm's internal state the mirror and its serializer read. xterm's public API
 * exposes the buffer's cells and a few modes, not the scroll region, the character sets, the
 * tab stops, the saved cursor or the parser's state, so these are read from `_core`: typed here
 * as optional, so every reader checks what it uses and an xterm upgrade that renames something
 * shows up as a failed check (and a failing conformance test), not as a crash.
 */
export interface XtermCore {
  writeSync?: (data: string | Uint8Array) => void;
  coreService?: {
    isCursorHidden?: boolean;
    modes?: { insertMode?: boolean };
    decPrivateModes?: {
      applicationCursorKeys?: boolean;
      applicationKeypad?: boolean;
      bracketedPasteMode?: boolean;
      cursorBlink?: boolean;
      cursorStyle?: 'block' | 'underline' | 'bar';
      origin?: boolean;
      reverseWraparound?: boolean;
      sendFocus?: boolean;
      synchronizedOutput?: boolean;
      wraparound?: boolean;
    };
  };
  coreMouseService?: { activeEncoding?: string; activeProtocol?: string };
  buffer?: XtermBuffer;
  buffers?: { active?: XtermBuffer; normal?: XtermBuffer; alt?: XtermBuffer };
  optionsService?: { rawOptions?: { cursorBlink?: boolean; convertEol?: boolean; tabStopWidth?: number } };
  _charsetService?: { charset?: object; glevel?: number; _charsets?: (object | undefined)[] };
  _oscLinkService?: { getLinkData(id: number): { id?: string; uri: string } | undefined };
  _writeBuffer?: { _pendingData?: number; _writeBuffer?: unknown[] };
  _inputHandler?: {
    _parser?: { currentState?: number; precedingJoinState?: number };
    _utf8Decoder?: { interim?: Uint8Array };
    _curAttrData?: XtermAttrs;
    _windowTitle?: string;
    _iconName?: string;
  };
}

export interface XtermAttrs {
  fg: number;
  bg: number;
  extended: XtermExtended;
}

export interface XtermExtended {
  /** Raw underline style, underline colour and variant bits (the getters rewrite them for links). */
  _ext?: number;
  urlId: number;
}

export interface XtermBuffer {
  x: number;
  y: number;
  ybase: number;
  scrollTop: number;
  scrollBottom: number;
  tabs: Record<number, boolean | undefined>;
  savedX: number;
  savedY: number;
  savedCurAttrData: XtermAttrs;
  savedCharset: object | undefined;
  lines: { length: number; get(i: number): XtermLine | undefined };
}

export interface XtermLine {
  isWrapped: boolean;
  length: number;
  loadCell(x: number, cell: XtermCell): XtermCell;
}

export interface XtermCell extends XtermAttrs {
  content: number;
  getChars(): string;
  getWidth(): number;
}

export function coreOf(term: HeadlessTerminal): XtermCore | undefined {
  return (term as unknown as { _core?: XtermCore })._core;
}

/** Foreground flags and colour bits (xterm's `common/buffer/Constants.ts`). */
export const Fg = {
  INVERSE: 0x4000000,
  BOLD: 0x8000000,
  UNDERLINE: 0x10000000,
  BLINK: 0x20000000,
  INVISIBLE: 0x40000000,
  STRIKETHROUGH: 0x80000000,
} as const;

export const Bg = {
  ITALIC: 0x4000000,
  DIM: 0x8000000,
  HAS_EXTENDED: 0x10000000,
  PROTECTED: 0x20000000,
  OVERLINE: 0x40000000,
} as const;

export const Color = {
  MODE_MASK: 0x3000000,
  P16: 0x1000000,
  P256: 0x2000000,
  RGB: 0x3000000,
  RGB_MASK: 0xffffff,
} as const;

export const Ext = {
  UNDERLINE_STYLE: 0x1c000000,
  VARIANT_OFFSET: 0xe0000000,
} as const;
