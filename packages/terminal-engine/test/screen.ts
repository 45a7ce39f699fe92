import xtermUnicode11 from '@xterm/addon-unicode11';
import xtermHeadless from '@xterm/headless';

const { Terminal } = xtermHeadless;
export type HeadlessTerminal = InstanceType<typeof Terminal>;

/** An xterm as the browser's is set up (Unicode 11 widths), without the screen. */
export function createHeadless(cols: number, rows: number, scrollback = 1000): HeadlessTerminal {
  const term = new Terminal({ cols, rows, scrollback, allowProposedApi: true, logLevel: 'off' });
  term.loadAddon(new xtermUnicode11.Unicode11Addon());
  term.unicode.activeVersion = '11';
  return term;
}

export function writeAsync(term: HeadlessTerminal, data: string | Uint8Array): Promise<void> {
  return new Promise((resolve) => term.write(data, resolve));
}

/** What a user sees: active buffer type, visible lines, cursor, modes. */
export function screenOf(term: HeadlessTerminal) {
  const buf = term.buffer.active;
  const lines: string[] = [];
  for (let y = 0; y < term.rows; y++)
    lines.push(buf.getLine(buf.viewportY + y)?.translateToString(true) ?? '');
  return {
    type: buf.type,
    lines,
    cursor: [buf.cursorX, buf.cursorY],
    modes: { ...term.modes },
  };
}

/** Whole normal-buffer history (scrollback + screen), trailing blank lines trimmed. */
export function historyOf(term: HeadlessTerminal): string[] {
  const buf = term.buffer.normal;
  const out: string[] = [];
  for (let y = 0; y < buf.length; y++) out.push(buf.getLine(y)?.translateToString(true) ?? '');
  while (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out;
}

/** Creates a terminal from a snapshot plus the bytes that followed it, as a client would. */
export async function restore(
  snapshot: { data: string; cols: number; rows: number },
  after: Uint8Array[] = [],
  scrollback = 1000,
) {
  const term = createHeadless(snapshot.cols, snapshot.rows, scrollback);
  await writeAsync(term, snapshot.data);
  for (const chunk of after) await writeAsync(term, chunk);
  return term;
}
