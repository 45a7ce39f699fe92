import { describe, expect, it } from 'vitest';
import { createHeadless, writeAsync } from '../test/screen.js';
import { captureState, diffStates } from '../test/terminal-state.js';
import { serializeTerminal } from './serialize.js';

/**
 * Writes `before` into a reference terminal, restores a fresh one from its serialization, then
 * writes `after` into both: the two must be equal in every cell and every mode, before and after.
 */
async function roundTrip(before: string, after: string, cols = 80, rows = 24) {
  const reference = createHeadless(cols, rows);
  await writeAsync(reference, before);
  const data = serializeTerminal(reference, 1000);
  const restored = createHeadless(cols, rows);
  await writeAsync(restored, data);
  const restoredDiffs = diffStates(captureState(reference), captureState(restored));
  await writeAsync(reference, after);
  await writeAsync(restored, after);
  const nextDiffs = diffStates(captureState(reference), captureState(restored));
  reference.dispose();
  restored.dispose();
  return { restoredDiffs, nextDiffs, data };
}

const cases: [string, string, string][] = [
  // [name, bytes before the snapshot, bytes after it]
  ['scroll region (DECSTBM)', 'top\r\n\x1b[5;10r\x1b[10;1Hin region', '\r\nscrolls the region\r\nagain'],
  ['DEC line drawing in G0', '\x1b(0lqqk\r\n', 'lqqk x mqqj'],
  ['G1 shifted in (SO)', '\x1b)0\x0e', 'lqk'],
  ['G2/G3 and locking shifts', '\x1b*0\x1b+A\x1bn', 'qq#\x1bo#q\x0f#'],
  ['SGR mouse encoding with tracking', '\x1b[?1002h\x1b[?1006h', ''],
  ['SGR-pixels mouse, any-event', '\x1b[?1003h\x1b[?1016h', ''],
  ['cursor after a full last column (pending wrap)', `${'E'.repeat(80)}`, 'x'],
  ['pending wrap mid-screen (vttest frame)', `\x1b[2J\x1b[1;1H${'E'.repeat(80)}\x1b[12;80HE`, 'next'],
  ['tab stops', '\x1b[3g\x1b[5G\x1bH\x1b[30G\x1bH\r', '\ta\tb\tc'],
  ['saved cursor (DECSC)', '\x1b[31m\x1b[5;7H\x1b7\x1b[0m\x1b[1;1Hhome', '\x1b8restored'],
  ['saved cursor with a charset', '\x1b(0\x1b7\x1b(B\x1b[3;3H', '\x1b8qqq'],
  ['?1048 saved cursor', '\x1b[9;9H\x1b[?1048h\x1b[1;1H', '\x1b[?1048lX'],
  ['alternate screen (?1049) and its saved cursor', 'shell $ \x1b[?1049h\x1b[2;2Hvim', '\x1b[?1049lafter'],
  ['alternate screen saved cursor of its own', '\x1b[?1049h\x1b[4;4H\x1b7\x1b[1;1H', '\x1b8alt'],
  ['insert mode', 'abcdef\x1b[1;3H\x1b[4h', 'XY'],
  ['reverse wraparound and no wraparound', '\x1b[?45h\x1b[?7l', `${'w'.repeat(90)}`],
  ['origin mode inside a region', '\x1b[3;20r\x1b[?6h\x1b[2;2H', 'o\x1b[1;1Htop'],
  ['cursor style (DECSCUSR) and hidden cursor', '\x1b[5 q\x1b[?25l', ''],
  ['window title', '\x1b]2;build: 3 failing\x07\x1b]1;icon\x07', ''],
  ['keypad, cursor keys, bracketed paste, focus', '\x1b=\x1b[?1h\x1b[?2004h\x1b[?1004h', ''],
  [
    'hyperlink (OSC 8) open across the snapshot',
    'see \x1b]8;id=a;https://example.test/x\x1b\\docs',
    ' here\x1b]8;;\x1b\\ plain',
  ],
  [
    'underline styles and colours',
    '\x1b[4:3;58;5;196mcurly\x1b[0m \x1b[21mdouble\x1b[4:0m \x1b[58;2;1;2;3;4mrgb',
    ' more',
  ],
  [
    'every SGR flag and colour form',
    '\x1b[1;2;3;5;7;8;9;53;31;42mA\x1b[0;38;5;100;48;2;9;8;7mB\x1b[0;95;104mC',
    'D',
  ],
  ['protected cells (DECSCA)', '\x1b[1"qkeep\x1b[0"q gone\x1b[1;1H', '\x1b[?2K'],
  ['erase with a background colour (BCE)', '\x1b[44m\x1b[2J\x1b[5;5Hx\x1b[K\x1b[0m', '\x1b[10;10Hy'],
  ['wrapped line with a blank tail', `${'a'.repeat(70)}\x1b[K\x1b[80G \x1b[D\x1b[Xb`, 'c'],
  ['wide characters and a wide one that did not fit', `${'x'.repeat(79)}中文\r\n中`, '\x1b[1;2Hy'],
  ['overwritten half of a wide character', '中文字\x1b[1;2H\x1b[31mz', 'w'],
  ['combining characters', 'e\u0301 a\u0308', 'o\u0302'],
  [
    'scrollback with wrapped lines',
    Array.from({ length: 60 }, (_, i) => `${i} ${'.'.repeat(i * 3)}`).join('\r\n'),
    '\r\nmore',
  ],
  ['lone blank line at the bottom with a colour', '\x1b[24;1H\x1b[41m\x1b[K\x1b[0m\x1b[1;1H', '\x1b[24;5Hz'],
  ['LNM (automatic newline) and cursor blink', '\x1b[20h\x1b[?12h', 'a\nb'],
  ['synchronized output pending', '\x1b[?2026hhalf', ' done\x1b[?2026l'],
];

describe('serializeTerminal', () => {
  for (const [name, before, after] of cases) {
    it(`restores ${name} exactly, and the next bytes render the same`, async () => {
      const { restoredDiffs, nextDiffs } = await roundTrip(before, after);
      expect(restoredDiffs).toEqual([]);
      expect(nextDiffs).toEqual([]);
    });
  }

  it('restores 1,000 lines of scrollback behind a full screen', async () => {
    const lines = Array.from(
      { length: 1100 },
      (_, i) => `\x1b[3${i % 8}mline ${i}\x1b[0m ${'#'.repeat(i % 70)}`,
    );
    const { restoredDiffs, nextDiffs } = await roundTrip(lines.join('\r\n'), '\r\nlast', 120, 40);
    expect(restoredDiffs).toEqual([]);
    expect(nextDiffs).toEqual([]);
  });
});
