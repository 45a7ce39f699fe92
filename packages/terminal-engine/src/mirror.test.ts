import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../test/random-terminal-stream.js';
import {
  createHeadless,
  type HeadlessTerminal,
  historyOf,
  restore,
  screenOf,
  writeAsync,
} from '../test/screen.js';
import { captureState, diffStates } from '../test/terminal-state.js';
import { MirrorScheduler, TerminalMirror } from './mirror.js';
import { ByteRing } from './ring-buffer.js';

function setup(capacity = 1 << 20, cols = 80, rows = 24, hibernateAfterMs = 0) {
  const ring = new ByteRing(capacity);
  const mirror = new TerminalMirror({ ring, cols, rows, scrollback: 1000, hibernateAfterMs });
  // As with a viewer attached: parsed at full speed (detached mirrors get a background share).
  mirror.watched = true;
  const reference = createHeadless(cols, rows);
  const written: Buffer[] = [];
  const output = (data: string | Buffer) => {
    const chunk = typeof data === 'string' ? Buffer.from(data) : data;
    mirror.beforeAppend(chunk);
    ring.append(chunk);
    written.push(chunk);
  };
  const referenceScreen = async () => {
    await writeAsync(reference, Buffer.concat(written.splice(0)));
    return screenOf(reference);
  };
  return { ring, mirror, reference, output, referenceScreen };
}

describe('TerminalMirror', () => {
  it('costs nothing until a snapshot is needed or the ring would lose bytes', async () => {
    const { mirror, output } = setup(4096);
    output('$ ls\r\nfile\r\n$ ');
    expect(mirror.state).toBe('empty');
    const snap = await mirror.snapshot();
    expect(mirror.state).toBe('live');
    expect(snap.offset).toBe(14);
    const restored = await restore(snap);
    expect(screenOf(restored).lines.slice(0, 3)).toEqual(['$ ls', 'file', '$ ']);
  });

  it('takes a snapshot in the middle of an escape sequence or a UTF-8 character at its start', async () => {
    for (const [before, rest] of [
      ['text \x1b[5;1', '0r\x1b[10;1Hregion'],
      ['title \x1b]2;half a ti', 'tle\x07 done'],
      ['wide \xe6\x97', '\xa5 after'],
      ['\x1b(', '0lqk'],
    ] as const) {
      const { mirror, output, reference } = setup();
      output(Buffer.from(before, 'latin1'));
      const snap = await mirror.snapshot();
      output(Buffer.from(rest, 'latin1'));
      const restored = await restore(snap, [Buffer.from(`${before}${rest}`, 'latin1').subarray(snap.offset)]);
      await writeAsync(reference, Buffer.from(`${before}${rest}`, 'latin1'));
      expect(diffStates(captureState(reference), captureState(restored)), JSON.stringify(before)).toEqual([]);
      mirror.dispose();
    }
  });

  it('parses ED 1 in the bottom right corner, which threw inside xterm.js 6.0.0 (patched)', async () => {
    const { mirror, output, reference } = setup();
    const bytes = 'top\x1b[24;80H\x1b[1Jafter';
    output(bytes);
    const snap = await mirror.snapshot();
    expect(mirror.parseErrors).toBe(0);
    await writeAsync(reference, bytes);
    const restored = await restore(snap);
    expect(diffStates(captureState(reference), captureState(restored))).toEqual([]);
    // 'a' went into the last column, the rest wrapped (and scrolled) onto a new bottom row.
    expect(screenOf(restored).lines[23]).toBe('fter');
  });

  it('feeds the bytes the ring is about to overwrite', async () => {
    const { mirror, output, ring, reference, referenceScreen } = setup(1024);
    for (let i = 0; i < 200; i++) output(`line ${i}\r\n`);
    expect(mirror.state).toBe('live');
    expect(mirror.fedOffset).toBeGreaterThanOrEqual(ring.start);
    const snap = await mirror.snapshot();
    const restored = await restore(snap);
    expect(screenOf(restored)).toEqual(await referenceScreen());
    expect(historyOf(restored)).toEqual(historyOf(reference));
  });

  it('takes a snapshot that corresponds exactly to its offset while output keeps arriving', async () => {
    const { mirror, output, ring, referenceScreen } = setup(1 << 16);
    for (let i = 0; i < 500; i++) output(`\x1b[3${i % 8}mrow ${i}\x1b[0m\r\n`);
    const pending = mirror.snapshot();
    // Bytes produced while the snapshot is being taken must not leak into it.
    for (let i = 0; i < 50; i++) output(`after ${i}\r\n`);
    const snap = await pending;
    const rest = ring.slice(snap.offset);
    expect(rest).not.toBeNull();
    expect(rest?.toString()).toMatch(/^after 0\r\n/);
    const restored = await restore(snap, [rest as Buffer]);
    expect(screenOf(restored)).toEqual(await referenceScreen());
  });

  it('restores the alternate screen, cursor, modes and scroll region of a full-screen program', async () => {
    const { mirror, output, referenceScreen } = setup();
    output('$ vim notes.txt\r\n');
    output('\x1b[?1049h\x1b[?1h\x1b=\x1b[?2004h\x1b[?1000h\x1b[?1006h\x1b[H\x1b[2J');
    for (let i = 1; i <= 22; i++) output(`\x1b[${i};1H${i === 1 ? 'hello world' : '~'}`);
    output('\x1b[24;1H"notes.txt" 1L, 12B\x1b[2;23r\x1b[1;5H\x1b[?25l');
    const snap = await mirror.snapshot();
    const restored = await restore(snap);
    const expected = await referenceScreen();
    expect(screenOf(restored)).toEqual(expected);
    expect(expected.type).toBe('alternate');
    expect(snap.data).toContain('\x1b[?25l');
    expect(snap.data).toContain('\x1b[2;23r');
    expect(snap.data).toContain('\x1b[?1006h');
    // Leaving the program brings back the shell screen in both.
    output('\x1b[?1049l');
    await writeAsync(restored, '\x1b[?1049l');
    expect(screenOf(restored).lines[0]).toBe('$ vim notes.txt');
  });

  it('applies a resize between the bytes written before and after it', async () => {
    const { mirror, output } = setup(1 << 16, 30, 5);
    output('a'.repeat(12));
    mirror.resize(40, 5);
    output(`\r\n${'b'.repeat(35)}\r\n`);
    mirror.resize(20, 6);
    output('c'.repeat(25));
    const snap = await mirror.snapshot();
    expect([snap.cols, snap.rows]).toEqual([20, 6]);
    // What a terminal that saw the same bytes and resizes in the same order shows.
    const reference = createHeadless(30, 5);
    await writeAsync(reference, 'a'.repeat(12));
    reference.resize(40, 5);
    await writeAsync(reference, `\r\n${'b'.repeat(35)}\r\n`);
    reference.resize(20, 6);
    await writeAsync(reference, 'c'.repeat(25));
    const restored = await restore(snap);
    expect(screenOf(restored)).toEqual(screenOf(reference));
    expect(historyOf(restored)).toEqual(historyOf(reference));
  });

  it('hibernates into a compact string and wakes up identical', async () => {
    const ring = new ByteRing(1 << 16);
    const mirror = new TerminalMirror({ ring, cols: 80, rows: 24, hibernateAfterMs: 20 });
    const out = (s: string) => {
      const b = Buffer.from(s);
      mirror.beforeAppend(b);
      ring.append(b);
    };
    for (let i = 0; i < 100; i++) out(`\x1b[1mbold ${i}\x1b[0m\r\n`);
    const before = await mirror.snapshot();
    await new Promise((r) => setTimeout(r, 60));
    expect(mirror.state).toBe('hibernated');
    out('more\r\n');
    const after = await mirror.snapshot();
    const a = await restore(before, [Buffer.from('more\r\n')]);
    const b = await restore(after);
    expect(screenOf(b)).toEqual(screenOf(a));
    expect(historyOf(b)).toEqual(historyOf(a));
    mirror.dispose();
  });

  describe('scrollback', () => {
    const lines = (from: number, to: number) => {
      let text = '';
      for (let i = from; i < to; i++) text += `\x1b[3${i % 8}mline ${i}\x1b[0m\r\n`;
      return text;
    };
    /** The first line of the restored terminal's history (`line N`), and how many lines it holds. */
    const history = async (snap: { data: string; cols: number; rows: number }) => {
      const restored = await restore(snap, [], 100_000);
      const all = historyOf(restored);
      return { first: all[0], length: all.length };
    };

    it('keeps the scrollback it was given and sends a viewer at most what it asked for', async () => {
      const ring = new ByteRing(1 << 20);
      const mirror = new TerminalMirror({ ring, cols: 80, rows: 24, scrollback: 5000 });
      mirror.watched = true;
      const text = Buffer.from(lines(0, 6000));
      mirror.beforeAppend(text);
      ring.append(text);
      const full = await mirror.snapshot();
      expect(full.scrollback).toBe(5000);
      // 6,000 lines and the empty prompt line: 5,000 in the scrollback, 24 rows on the screen.
      expect(await history(full)).toEqual({ first: 'line 977', length: 5023 });
      const asked = await mirror.snapshot({ scrollback: 2000 });
      expect(asked.scrollback).toBe(2000);
      expect(await history(asked)).toEqual({ first: 'line 3977', length: 2023 });
      // Asking for more than the mirror keeps gives what it keeps.
      expect((await mirror.snapshot({ scrollback: 50_000 })).scrollback).toBe(5000);
      mirror.dispose();
    });

    it('grows when a viewer with a longer scrollback attaches, and keeps it through hibernation', async () => {
      const ring = new ByteRing(1 << 20);
      const mirror = new TerminalMirror({ ring, cols: 80, rows: 24, scrollback: 1000, hibernateAfterMs: 20 });
      mirror.watched = true;
      const out = (s: string) => {
        const b = Buffer.from(s);
        mirror.beforeAppend(b);
        ring.append(b);
      };
      out(lines(0, 1500));
      // Parsed with 1,000 lines: 477 of the first 1,500 have left the scrollback for good.
      expect(await history(await mirror.snapshot())).toEqual({ first: 'line 477', length: 1023 });
      mirror.growScrollback(3000);
      mirror.growScrollback(2000); // never shrinks
      expect(mirror.scrollback).toBe(3000);
      out(lines(1500, 3000));
      const grown = await mirror.snapshot();
      expect(grown.scrollback).toBe(3000);
      expect(await history(grown)).toEqual({ first: 'line 477', length: 2523 });
      await new Promise((r) => setTimeout(r, 60));
      expect(mirror.state).toBe('hibernated');
      out(lines(3000, 4000));
      expect(await history(await mirror.snapshot())).toEqual({ first: 'line 977', length: 3023 });
      mirror.dispose();
    });

    it('leaves out the oldest lines when the snapshot would not fit its byte limit', async () => {
      const ring = new ByteRing(4 << 20);
      const mirror = new TerminalMirror({ ring, cols: 120, rows: 40, scrollback: 4000 });
      mirror.watched = true;
      // Every cell a colour of its own: ~20 bytes a cell once serialized.
      let text = '';
      for (let i = 0; i < 4100; i++) {
        for (let c = 0; c < 119; c++)
          text += `\x1b[38;5;${(i + c) % 256}m${String.fromCharCode(65 + (c % 26))}`;
        text += '\r\n';
      }
      const bytes = Buffer.from(text);
      mirror.beforeAppend(bytes);
      ring.append(bytes);
      const maxBytes = 1 << 20;
      const snap = await mirror.snapshot({ maxBytes });
      expect(Buffer.byteLength(JSON.stringify(snap.data))).toBeLessThanOrEqual(maxBytes);
      expect(snap.scrollback).toBeLessThan(4000);
      expect(snap.scrollback).toBeGreaterThan(0);
      const restored = await restore(snap, [], 100_000);
      // The screen is whole (its last row, the prompt line, is empty), the scrollback above it.
      const all = historyOf(restored);
      expect(all.length).toBe(snap.scrollback + 39);
      expect(all[all.length - 1]).toMatch(/^ABCDEFGHIJKLMNOPQRSTUVWXYZ/);
      // Without the limit it would not have fitted.
      const whole = await mirror.snapshot({ maxBytes: 64 << 20 });
      expect(whole.scrollback).toBe(4000);
      expect(Buffer.byteLength(JSON.stringify(whole.data))).toBeGreaterThan(maxBytes);
      mirror.dispose();
    });
  });

  describe('plain-text fast path', () => {
    it('leaves bulk plain text that scrolls out of the scrollback unparsed, with an identical result', async () => {
      const { mirror, output, reference, referenceScreen } = setup(1 << 20, 120, 40);
      output('\x1b[1;32mgreen from here on\r\n');
      for (let i = 0; i < 60_000; i++) {
        output(`${String(i).padStart(6, '0')} ${'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo='.repeat(2)}\r\n`);
        if (i % 1000 === 0) await settle();
      }
      output('$ ');
      // Parsed: the first batch (it starts with an escape sequence) and the last lines; the tail
      // of every other batch is held back, not parsed, because more plain text follows it.
      const total = 60_000 * 81;
      expect(mirror.skippedBytes).toBeGreaterThan(total - 1024 * 1024);
      await expectSameAsReference(mirror, reference, referenceScreen);
    });

    it('parses held-back plain text before hibernating, snapshotting or resizing', async () => {
      for (const step of ['hibernate', 'snapshot', 'resize'] as const) {
        const hibernateAfterMs = step === 'hibernate' ? 1_000 : 0;
        const { ring, mirror, output, reference, referenceScreen } = setup(
          1 << 20,
          120,
          40,
          hibernateAfterMs,
        );
        // Stop right after the chunk whose feed skipped and held back the tail: nothing follows it.
        let skipped = 0;
        for (let i = 0; i < 60_000; i++) {
          output(`${String(i).padStart(6, '0')} ${'y'.repeat(70)}\r\n`);
          if (i % 1000 === 0) await settle();
          if (i > 20_000 && mirror.skippedBytes > skipped) break;
          skipped = mirror.skippedBytes;
        }
        expect(mirror.skippedBytes).toBeGreaterThan(skipped);
        expect(mirror.fedOffset).toBe(ring.end);
        if (step === 'hibernate') {
          await new Promise((r) => setTimeout(r, 1_500));
          expect(mirror.state).toBe('hibernated');
        } else if (step === 'snapshot') {
          await expectSameAsReference(mirror, reference, referenceScreen);
        } else {
          mirror.resize(100, 30);
          await referenceScreen(); // the reference takes the resize after the same bytes
          reference.resize(100, 30);
        }
        output('\x1b[1;31mred\x1b[0m after\r\n$ ');
        expect(ring.end).toBeGreaterThan(1_500_000);
        await expectSameAsReference(mirror, reference, referenceScreen);
        mirror.dispose();
      }
    });

    it('does not skip when the parser is inside an escape sequence at the start of the batch', async () => {
      // "\x1b[" then "31m…" across a feed boundary: "31m" is printable, but it ends the CSI.
      const run = async (split: boolean) => {
        const { mirror, output, reference, referenceScreen } = setup(1 << 18, 80, 24);
        output(split ? 'before\x1b[' : 'before');
        await mirror.snapshot();
        await settle();
        output(split ? '31m' : 'x31m');
        for (let i = 0; i < 12_000; i++) {
          output(`line ${i} ${'.'.repeat(60)}\r\n`);
          if (i % 1000 === 0) await settle();
        }
        await expectSameAsReference(mirror, reference, referenceScreen);
        return mirror.skippedBytes;
      };
      expect(await run(false)).toBeGreaterThan(0);
      // Skipping here would lose the SGR: every later line would be white instead of red.
      const skippedAfterSplit = await run(true);
      expect(skippedAfterSplit).toBeGreaterThan(0); // later batches start in the ground state again
    });

    // One test per seed (each parses its stream twice, a few seconds on a loaded machine), then
    // one that checks the fast path was taken across them.
    const skippedBySeed = new Map<number, number>();
    it.each([1, 2, 3, 4, 5, 6, 7, 8])(
      'gives the same snapshot as parsing every byte, for random mixes of text, escapes and UTF-8 (seed %i)',
      async (seed) => {
        const chunks = randomStream(seed);
        const run = async (skipPlainText: boolean) => {
          const ring = new ByteRing(1 << 19);
          const mirror = new TerminalMirror({ ring, cols: 80, rows: 24, hibernateAfterMs: 0, skipPlainText });
          // Snapshots along the way (plain text may be held back at that moment) and at the end.
          const snaps = [];
          for (const { bytes, settleAfter, then } of chunks) {
            mirror.beforeAppend(bytes);
            ring.append(bytes);
            if (then === 'snapshot') snaps.push(await mirror.snapshot());
            else if (then) mirror.resize(then.cols, then.rows);
            if (settleAfter) await settle();
          }
          snaps.push(await mirror.snapshot());
          return { snaps, skipped: mirror.skippedBytes };
        };
        const everything = await run(false);
        const fast = await run(true);
        expect(everything.skipped).toBe(0);
        expect(fast.snaps.length).toBeGreaterThan(1);
        expect(fast.snaps, `seed ${seed}`).toEqual(everything.snaps);
        skippedBySeed.set(seed, fast.skipped);
      },
    );

    it('terminals fed in turn, faster than they parse, each parse their own bytes (batches share one buffer)', async () => {
      // Small rings: a batch every few chunks, so each mirror has bytes queued for its parser
      // while the next batches (its own and others') are cut.
      const terms = [21, 22, 23].map((seed) => {
        const ring = new ByteRing(1 << 16);
        // Every byte parsed (no plain-text skip): all of each batch is queued for the parser.
        const mirror = new TerminalMirror({
          ring,
          cols: 80,
          rows: 24,
          hibernateAfterMs: 0,
          skipPlainText: false,
        });
        mirror.watched = true;
        const chunks = randomStream(seed)
          .map((c) => c.bytes)
          .slice(0, 60);
        return { ring, mirror, chunks, reference: createHeadless(80, 24) };
      });
      const longest = Math.max(...terms.map((t) => t.chunks.length));
      for (let i = 0; i < longest; i++) {
        for (const { ring, mirror, chunks } of terms) {
          const chunk = chunks[i];
          if (!chunk) continue;
          mirror.beforeAppend(chunk);
          ring.append(chunk);
        }
        // Parsed now: what each mirror queued was cut before the others' batches were.
        while (terms.some((t) => t.mirror.hasWork)) await settle();
      }
      for (const { mirror, chunks, reference } of terms) {
        const all = Buffer.concat(chunks);
        expect(all.length).toBeGreaterThan(8 * (1 << 16));
        await writeAsync(reference, all);
        const restored = await restore(await mirror.snapshot());
        expect(screenOf(restored)).toEqual(screenOf(reference));
        expect(historyOf(restored)).toEqual(historyOf(reference));
        mirror.dispose();
      }
    });

    it('took the fast path, and often, in those random streams (this is about its correctness)', () => {
      expect(skippedBySeed.size).toBe(8);
      expect([...skippedBySeed.values()].filter((n) => n > 0).length).toBeGreaterThanOrEqual(4);
    });
  });
});

async function expectSameAsReference(
  mirror: TerminalMirror,
  reference: HeadlessTerminal,
  referenceScreen: () => Promise<ReturnType<typeof screenOf>>,
): Promise<void> {
  const snap = await mirror.snapshot();
  const restored = await restore(snap);
  expect(screenOf(restored)).toEqual(await referenceScreen());
  expect(historyOf(restored)).toEqual(historyOf(reference));
  // Attributes, colours, wrapped lines and every mode too, not just the text.
  expect(diffStates(captureState(reference), captureState(restored))).toEqual([]);
}

type Then = 'snapshot' | { cols: number; rows: number } | null;

/**
 * Output a shell could produce: long runs of plain lines, mixed with colours, an OSC string that
 * swallows plain text, scroll regions, the alternate screen, insert mode, bare line feeds, UTF-8,
 * cursor moves and the DEC line-drawing charset; cut into chunks of random sizes (splitting
 * escapes and UTF-8 characters anywhere), with pauses that let xterm catch up, and now and
 * then a snapshot or a resize after a chunk.
 */
function randomStream(seed: number): Array<{ bytes: Buffer; settleAfter: boolean; then: Then }> {
  const random = mulberry32(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)]!;
  let stream = '';
  for (let segment = 0; segment < 40; segment++) {
    const lines = Math.floor(random() * 6000);
    const width = 10 + Math.floor(random() * 100);
    const body = Array.from({ length: lines }, (_, i) => `${i}:${'x'.repeat(width)}`).join('\r\n');
    stream += pick([
      `${body}\r\n`,
      `${body}\r\n`,
      `\x1b[3${Math.floor(random() * 8)};4${Math.floor(random() * 8)}m${body}\r\n`,
      `\x1b]0;title ${body}\x07`,
      `\x1b[5;15r${body}\r\n\x1b[r`,
      `\x1b[?1049h${body}\x1b[?1049l`,
      `\x1b[4h${body}\r\n\x1b[4l`,
      `${body.replaceAll('\r\n', '\n')}\n`,
      `héllo wörld ✓ 日本語 ${body}\r\n`,
      `\x1b[10;5H\x1b[K${body}\t\b\r\n`,
      '\x1b[0m',
      '\x1b(0lqqk\x1b(B\r\n',
      `\x1b)0\x0e${body}\x0f\r\n`, // G1 = line drawing, shifted in and out
      `\x07\x00\x7f${body.replaceAll(':', '\t')}\r\n`, // harmless controls
    ]);
  }
  const bytes = Buffer.from(stream, 'utf8');
  const chunks: Array<{ bytes: Buffer; settleAfter: boolean; then: Then }> = [];
  for (let pos = 0; pos < bytes.length; ) {
    const n = 1 + Math.floor(random() * 32 * 1024);
    const roll = random();
    const then: Then =
      roll < 0.03
        ? 'snapshot'
        : roll < 0.045
          ? { cols: 60 + Math.floor(random() * 60), rows: 20 + Math.floor(random() * 20) }
          : null;
    chunks.push({ bytes: Buffer.from(bytes.subarray(pos, pos + n)), settleAfter: random() < 0.3, then });
    pos += n;
  }
  return chunks;
}

/** Lets xterm parse what it was given (it parses in timer-driven slices). */
const settle = () => new Promise((r) => setTimeout(r, 5));

describe('MirrorScheduler', () => {
  const FLOOD = Buffer.from('\x1b[1;31mred\x1b[0m \x1b[32mgreen\x1b[0m\x1b[K\r\n'.repeat(40_000));

  /** A mirror of `owner` whose ring just filled with colourful output: ~1 MiB queued to parse. */
  function flooded(scheduler: MirrorScheduler, owner: string, watched = true) {
    const ring = new ByteRing(1 << 20);
    const mirror = new TerminalMirror({ ring, cols: 80, rows: 24, scrollback: 100, owner, scheduler });
    mirror.watched = watched;
    const chunk = FLOOD.subarray(0, ring.capacity);
    mirror.beforeAppend(chunk);
    ring.append(chunk);
    expect(mirror.backlog).toBeGreaterThan(512 * 1024);
    return { mirror, ring };
  }

  it('shares parsing fairly between users, not terminals, and yields to I/O between steps', async () => {
    const scheduler = new MirrorScheduler();
    // One user with six flooding terminals, another with one.
    const alice = Array.from({ length: 6 }, () => flooded(scheduler, 'alice'));
    const bob = flooded(scheduler, 'bob');
    const aliceBacklog = () => alice.reduce((n, m) => n + m.mirror.backlog, 0);
    const before = aliceBacklog();
    const bobBefore = bob.mirror.backlog;
    // Timers keep running while all of that is parsed: the event loop is never held for long.
    let ticks = 0;
    let worst = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      worst = Math.max(worst, now - last);
      last = now;
      ticks++;
    }, 1);
    await waitUntil(() => bob.mirror.backlog === 0, 30_000);
    clearInterval(ticker);
    const parsedByAlice = before - aliceBacklog();
    console.log(
      `scheduler: alice's 6 terminals parsed ${parsedByAlice} B while bob's one parsed ${bobBefore} B; ${ticks} timer ticks, worst gap ${worst.toFixed(1)} ms`,
    );
    // By the time bob's one terminal was parsed, alice's six together got about as much.
    expect(parsedByAlice).toBeLessThan(bobBefore * 1.5);
    expect(parsedByAlice).toBeGreaterThan(bobBefore * 0.5);
    expect(ticks).toBeGreaterThan(20);
    for (const m of [...alice, bob]) m.mirror.dispose();
  });

  it('gives detached terminals a bounded share of the time, and a snapshot request priority', async () => {
    const scheduler = new MirrorScheduler();
    const detached = flooded(scheduler, 'carol', false);
    const t0 = performance.now();
    const busy0 = scheduler.busyMs;
    await new Promise((r) => setTimeout(r, 300));
    const share = (scheduler.busyMs - busy0) / (performance.now() - t0);
    console.log(`detached parsing took ${(share * 100).toFixed(0)} % of 300 ms`);
    expect(scheduler.busyMs - busy0).toBeGreaterThan(0);
    expect(share).toBeLessThan(0.4);
    // A snapshot does not wait for the background share: it is served first, in full.
    const started = performance.now();
    const snap = await detached.mirror.snapshot();
    expect(snap.offset).toBe(detached.ring.end);
    // The ring's last MiB ends inside an escape sequence: the snapshot carries its start.
    expect(snap.data.endsWith('\x1b')).toBe(true);
    expect(detached.mirror.backlog).toBe(0);
    console.log(`snapshot of the rest took ${(performance.now() - started).toFixed(0)} ms`);
    detached.mirror.dispose();
  });
});

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
