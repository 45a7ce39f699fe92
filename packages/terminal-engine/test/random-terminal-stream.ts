/** Deterministic PRNG (mulberry32): the same seed gives the same stream on every machine. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CSI = '\x1b[';
const CHARSET_FINALS = '0AB4C5RQKYE6ZH7=';
const TEXT = [
  'hello',
  'lqqqk',
  'x',
  'abc def',
  '中文',
  '日本語テキスト',
  'e\u0301',
  'a\u0308o\u0302',
  '✓ ok',
  '😀',
  '£$#',
  '~|}{',
  '    ',
];

/**
 * A random mix of everything a terminal keeps as state (the list of issue #23): text that wraps,
 * wide and combining characters, every SGR form, cursor movement, erases, insert/delete, scroll
 * regions and scrolling, saved cursors (DECSC, ?1048), the alternate screens (47, 1047, 1049),
 * G0–G3 charsets and shifts, tab stops, insert/origin/wraparound/reverse-wrap modes, cursor
 * style and visibility, titles, mouse protocols and encodings, keypad and other input modes,
 * hyperlinks, protection, REP, IND/RI/NEL, DECALN, LNM. Returned as pieces (one operation
 * each), so callers can cut between them or anywhere inside.
 */
export function randomTerminalStream(
  random: () => number,
  operations: number,
  cols: number,
  rows: number,
): string[] {
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const color = (base: number): string =>
    pick([
      `${base + int(8)}`,
      `${base + 60 + int(8)}`,
      `${base + 8};5;${int(256)}`,
      `${base + 8};2;${int(256)};${int(256)};${int(256)}`,
      `${base + 9}`,
    ]);
  const sgr = (): string => {
    const params: string[] = [];
    const n = 1 + int(4);
    for (let i = 0; i < n; i++) {
      params.push(
        pick([
          '0',
          '1',
          '2',
          '3',
          '4',
          `4:${int(6)}`,
          '5',
          '7',
          '8',
          '9',
          '21',
          '22',
          '23',
          '24',
          '25',
          '27',
          '28',
          '29',
          '53',
          '55',
          color(30),
          color(40),
          `58;5;${int(256)}`,
          `58;2;${int(256)};${int(256)};${int(256)}`,
          '59',
        ]),
      );
    }
    return `${CSI}${params.join(';')}m`;
  };
  const ops: Array<() => string> = [
    () => pick(TEXT),
    () => pick(TEXT).repeat(1 + int(20)),
    () => 'W'.repeat(cols - int(3)),
    () => pick(['\r', '\n', '\r\n', '\b', '\t', '\x0b', '\x0c', '\x07']),
    sgr,
    sgr,
    () => `${CSI}${1 + int(rows + 2)};${1 + int(cols + 2)}H`,
    () => `${CSI}${int(6)}${pick(['A', 'B', 'C', 'D', 'E', 'F', 'G', 'd', 'e', 'a', '`', 'I', 'Z'])}`,
    () => `${CSI}${pick(['', '0', '1', '2', '3'])}J`,
    () => `${CSI}${pick(['', '0', '1', '2'])}K`,
    () => `${CSI}?${pick(['0', '1', '2'])}${pick(['J', 'K'])}`,
    () => `${CSI}${int(5)}${pick(['X', '@', 'P', 'L', 'M', 'S', 'T', 'b'])}`,
    () => {
      const top = 1 + int(rows);
      return `${CSI}${top};${top + int(rows - top + 1)}r`;
    },
    () => `${CSI}r`,
    () => pick(['\x1b7', `${CSI}?1048h`, `${CSI}s`]),
    // Restores are followed by SGR 0: xterm.js's DECRC restores colours and flags but not the
    // extended attributes (underline style/colour) they refer to, leaving the current ones
    // hidden behind them; that hidden state is not reproduced (docs/decisions.md).
    () => `${pick(['\x1b8', `${CSI}?1048l`, `${CSI}u`, `${CSI}?1049l`])}${CSI}0m`,
    () => `${CSI}?${pick(['47', '1047', '1049'])}h`,
    () => `${CSI}?${pick(['47', '1047'])}l`,
    () => `\x1b${pick(['(', ')', '*', '+', '-', '.'])}${pick([...CHARSET_FINALS])}`,
    () => pick(['\x0e', '\x0f', '\x1bn', '\x1bo', '\x1b~', '\x1b}', '\x1b|']),
    () => pick(['\x1bH', `${CSI}g`, `${CSI}3g`, `${CSI}0g`]),
    () => `${CSI}${pick(['4', '20'])}${pick(['h', 'l'])}`,
    () =>
      `${CSI}?${pick(['1', '6', '7', '12', '25', '45', '66', '1004', '2004', '2026', '9', '1000', '1002', '1003', '1006', '1016'])}${pick(['h', 'l'])}`,
    () => `${CSI}${int(7)} q`,
    () => `\x1b]${pick(['0', '1', '2'])};title ${int(1000)}${pick(['\x07', '\x1b\\'])}`,
    () => pick(['\x1b=', '\x1b>']),
    // Hyperlinks as programs write them: open, text, close (snapshots cut inside them).
    () =>
      `\x1b]8;${pick(['', 'id=x', `id=${int(5)}`])};https://example.test/${int(9)}\x1b\\${pick(TEXT)}\x1b]8;;\x1b\\`,
    () => `${CSI}${pick(['0', '1', '2'])}"q`,
    () => pick(['\x1bD', '\x1bM', '\x1bE']),
    () => (random() < 0.1 ? '\x1b#8' : 'y'),
  ];
  const out: string[] = [];
  for (let i = 0; i < operations; i++) out.push(pick(ops)());
  return out;
}
