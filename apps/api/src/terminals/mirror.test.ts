import { describe, expect, it } from 'vitest';
import { createHeadless, historyOf, restore, screenOf, writeAsync } from '../../test/terminals/screen.js';
import { TerminalMirror } from './mirror.js';
import { ByteRing } from './ring-buffer.js';

function setup(capacity = 1 << 20, cols = 80, rows = 24) {
  const ring = new ByteRing(capacity);
  const mirror = new TerminalMirror({ ring, cols, rows, scrollback: 1000, hibernateAfterMs: 0 });
  const reference = createHeadless(cols, rows);
  const written: Buffer[] = [];
  const output = (data: string | Buffer) => {
    const chunk = typeof data === 'string' ? Buffer.from(data) : data;
    mirror.beforeAppend(chunk);
    ring.append(chunk);
    written.push(chunk);
  };
  const referenceScreen = async () => {
    for (const chunk of written.splice(0)) await writeAsync(reference, chunk);
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
});
