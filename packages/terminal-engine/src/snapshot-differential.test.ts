import { describe, expect, it } from 'vitest';
import { mulberry32, randomTerminalStream } from '../test/random-terminal-stream.js';
import { createHeadless, writeAsync } from '../test/screen.js';
import { captureState, diffStates } from '../test/terminal-state.js';
import { TerminalMirror } from './mirror.js';
import { ByteRing } from './ring-buffer.js';
import { coreOf, type HeadlessTerminal } from './xterm-internals.js';

/**
 * The randomized differential test of issue #23: random mixes of every kind of terminal state,
 * a mirror snapshot at random byte offsets (inside escape sequences and UTF-8 characters too),
 * and a fresh terminal restored from it compared, cell by cell and mode by mode, with one that
 * was fed every byte: at the snapshot, and again after the rest of the stream.
 *
 * CI runs SNAPSHOT_RANDOM_RUNS streams (default 40) from SNAPSHOT_RANDOM_SEED (default 23).
 * Longer run: SNAPSHOT_RANDOM_RUNS=2000 npx vitest run src/snapshot-differential.test.ts
 */
const runs = Number(process.env.SNAPSHOT_RANDOM_RUNS ?? 40);
const firstSeed = Number(process.env.SNAPSHOT_RANDOM_SEED ?? 23);
// The run stops after this many failing snapshots (each one is reported).
const maxFailures = Number(process.env.SNAPSHOT_RANDOM_MAX_FAILURES ?? 5);
const SIZES: Array<[number, number]> = [
  [80, 24],
  [20, 6],
  [41, 9],
];

describe('mirror snapshots of random terminal streams', () => {
  it(`restore exactly and render the rest exactly (${runs} streams from seed ${firstSeed})`, async () => {
    const failures: string[] = [];
    const gaps = new Map<string, number>();
    let cuts = 0;
    for (let run = 0; run < runs && failures.length < maxFailures; run++) {
      const seed = firstSeed + run;
      const random = mulberry32(seed);
      const [cols, rows] = SIZES[run % SIZES.length]!;
      const stream = Buffer.from(randomTerminalStream(random, 250, cols, rows).join(''), 'utf8');
      for (let c = 0; c < 3; c++) {
        const cut = Math.floor(random() * (stream.length + 1));
        const failure = await checkCut(stream, cut, cols, rows, random);
        cuts++;
        if (failure && 'gap' in failure) gaps.set(failure.gap, (gaps.get(failure.gap) ?? 0) + 1);
        else if (failure) {
          failures.push(
            `seed ${seed} (${cols}×${rows}), cut at byte ${cut}:\n  ${failure.diffs.join('\n  ')}`,
          );
        }
      }
    }
    console.log(`${cuts} snapshots of ${runs} random streams compared`);
    for (const [gap, n] of gaps) console.log(`  ${n} in a documented gap: ${gap}`);
    expect(failures).toEqual([]);
  }, 600_000);
});

async function checkCut(
  stream: Buffer,
  cut: number,
  cols: number,
  rows: number,
  random: () => number,
): Promise<{ diffs: string[] } | { gap: string } | null> {
  const ring = new ByteRing(1 << 20);
  const mirror = new TerminalMirror({ ring, cols, rows, scrollback: 1000, hibernateAfterMs: 0 });
  mirror.watched = true;
  // In chunks of random sizes, as output arrives.
  for (let pos = 0; pos < cut; ) {
    const n = Math.min(cut - pos, 1 + Math.floor(random() * 512));
    const chunk = stream.subarray(pos, pos + n);
    mirror.beforeAppend(chunk);
    ring.append(chunk);
    pos += n;
  }
  const snap = await mirror.snapshot();
  mirror.dispose();
  const reference = createHeadless(cols, rows);
  const restored = createHeadless(cols, rows);
  try {
    await writeAsync(reference, stream.subarray(0, snap.offset));
    await writeAsync(restored, snap.data);
    const atSnapshot = diffStates(captureState(reference), captureState(restored), 6);
    const gap = knownGap(reference);
    if (atSnapshot.length > 0 && gap) return { gap };
    if (atSnapshot.length > 0) return { diffs: [`at the snapshot (offset ${snap.offset}):`, ...atSnapshot] };
    const rest = stream.subarray(snap.offset);
    await writeAsync(reference, rest);
    await writeAsync(restored, rest);
    const after = diffStates(captureState(reference), captureState(restored), 6);
    if (after.length > 0 && gap) return { gap };
    return after.length > 0
      ? { diffs: [`after the rest of the stream (from ${snap.offset}):`, ...after] }
      : null;
  } finally {
    reference.dispose();
    restored.dispose();
  }
}

/**
 * States the serializer documents as not reproducible (docs/decisions.md, "Exact restore"),
 * recognized on the reference terminal; a cut in one is counted and reported, not failed.
 */
function knownGap(term: HeadlessTerminal): string | null {
  const core = coreOf(term);
  const cs = core?._charsetService;
  const active = core?.buffers?.active;
  if (cs && active && cs.charset !== cs._charsets?.[cs.glevel ?? 0] && cs.charset !== active.savedCharset) {
    return "a charset shifted in by DECRC from the other buffer's saved cursor";
  }
  const join = core?._inputHandler?._parser?.precedingJoinState ?? 0;
  if (join !== 0 && active) {
    const line = term.buffer.active.getLine(active.ybase + active.y);
    const width = (join >> 1) & 3;
    const cell = line?.getCell(Math.min(active.x, term.cols) - width);
    if (!cell || cell.getWidth() !== width) {
      return 'the last printed character is not before the cursor (dropped at the margin)';
    }
  }
  return null;
}
