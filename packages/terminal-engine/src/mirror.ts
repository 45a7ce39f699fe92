import { isAscii } from 'node:buffer';
import xtermUnicode11 from '@xterm/addon-unicode11';
import xtermHeadless from '@xterm/headless';
import type { ByteRing } from './ring-buffer.js';
import { serializeTerminal } from './serialize.js';
import { coreOf, type HeadlessTerminal } from './xterm-internals.js';

// Both packages are CommonJS bundles: named ESM imports are not reliably detected.
const { Terminal } = xtermHeadless;
const { Unicode11Addon } = xtermUnicode11;

/**
 * A serialized screen. Written into a freshly created (or `reset()`) xterm of `cols`×`rows`, it
 * reproduces the screen, scrollback, alternate screen, cursor and modes as of stream `offset`.
 */
export interface MirrorSnapshot {
  data: string;
  offset: number;
  cols: number;
  rows: number;
  /** Lines of scrollback `data` carries (at most what was asked, or fewer to fit `maxBytes`). */
  scrollback: number;
}

export interface SnapshotOptions {
  /** Most lines of scrollback to carry (the client's own scrollback); the mirror's by default. */
  scrollback?: number;
  /**
   * Most bytes the snapshot may take as a JSON string (control characters escaped), so it fits a
   * host-protocol frame: the oldest scrollback lines are left out until it does. Default
   * MAX_SNAPSHOT_JSON_BYTES.
   */
  maxBytes?: number;
}

/**
 * Largest snapshot (as a JSON string) sent by default: half the host protocol's 8 MiB frame. A
 * screen with a full 10,000-line scrollback of ordinary coloured text takes 1–3 MiB; only lines
 * whose every cell changes attributes come near this, and then the oldest lines are left out.
 */
export const MAX_SNAPSHOT_JSON_BYTES = 4 * 1024 * 1024;

export interface TerminalMirrorOptions {
  /** The terminal's output ring; the mirror reads the bytes it has not parsed yet from it. */
  ring: ByteRing;
  cols: number;
  rows: number;
  scrollback?: number;
  /**
   * After this long without output or snapshots, the headless terminal is serialized to a
   * string and disposed (≈100× smaller); it is rebuilt from that string on the next need.
   * 0 disables hibernation.
   */
  hibernateAfterMs?: number;
  /** Called whenever `backlog` changes, so the owner can apply flow control. */
  onBacklogChange?: () => void;
  /**
   * Whose terminal this is: parsing is shared out fairly between owners first, then between
   * an owner's terminals (see `MirrorScheduler`).
   */
  owner?: string;
  /** The scheduler that runs this mirror's parsing; the process-wide one by default. */
  scheduler?: MirrorScheduler;
  /**
   * Leave plain text that cannot affect the result unparsed (see `skippable`). Default true;
   * false parses every byte (the tests compare both).
   */
  skipPlainText?: boolean;
}

interface PendingResize {
  at: number;
  cols: number;
  rows: number;
}

const CR = Buffer.from('\r');
/** Plain text shorter than this is parsed even when it could be skipped: not worth a scan. */
const MIN_SKIP_BYTES = 64 * 1024;
const FEED_HEADROOM_BYTES = 256 * 1024;
/** Most plain text held back (see `deferred`) instead of parsed; longer tails are parsed. */
const MAX_DEFERRED_BYTES = 256 * 1024;
const MAX_PENDING_RESIZES = 32;

/**
 * The buffer a batch is copied into from the ring (`beforeAppend`), reused: feed() reads a batch
 * synchronously and copies out only what it queues for the parser or holds back, which under
 * bulk output is a small tail (the rest is skipped). A new buffer of most of a ring's worth per
 * batch was memory V8 counts as external: it set off a full collection of the terminal host's
 * heap every few hundred milliseconds (docs/benchmarks.md, session 15). One per process, taken
 * while in use, kept up to SPARE_BATCH_MAX_BYTES (a batch is at most TERMINAL_BUFFER_BYTES + one
 * read; the default ring is 1 MiB).
 */
let spareBatchBuffer: Buffer | null = null;
const SPARE_BATCH_MAX_BYTES = 4 * 1024 * 1024;

function takeBatchBuffer(n: number): Buffer {
  const spare = spareBatchBuffer;
  spareBatchBuffer = null;
  // Slow: never a slice of Node's shared pool, which others' buffers use.
  return spare && spare.length >= n ? spare : Buffer.allocUnsafeSlow(n);
}

function returnBatchBuffer(buffer: Buffer): void {
  if (buffer.length > SPARE_BATCH_MAX_BYTES) return;
  if (!spareBatchBuffer || spareBatchBuffer.length < buffer.length) spareBatchBuffer = buffer;
}

/** One step of a mirror's parsing: bytes for xterm, or an action between them. */
type MirrorWork =
  /** `stream`: a slice of the output stream (counted in `fed` and `queued`), not an extra byte. */
  { bytes: Uint8Array; stream?: boolean; done?: () => void } | { run: () => void };

/** Output is queued for the parser in slices of this size: ~1-2 ms of parsing each. */
const SLICE_BYTES = 8 * 1024;
/** A scheduler step parses slices of one mirror until this much time has passed. */
const STEP_BUDGET_MS = 1;
/** Most of the time detached terminals' parsing may take, all of them together. */
const BACKGROUND_SHARE = 0.25;

/** Round-robin between owners, then between each owner's mirrors. */
class FairQueue {
  private readonly owners = new Map<string, TerminalMirror[]>();
  /** Owners with work, in turn order. */
  private readonly turns: string[] = [];

  add(mirror: TerminalMirror): void {
    const list = this.owners.get(mirror.owner);
    if (!list) {
      this.owners.set(mirror.owner, [mirror]);
      this.turns.push(mirror.owner);
    } else if (!list.includes(mirror)) {
      list.push(mirror);
    }
  }

  get empty(): boolean {
    return this.turns.length === 0;
  }

  /** The next mirror with work, taken out of the queue (it rejoins with `add` after its step). */
  take(): TerminalMirror | undefined {
    while (this.turns.length > 0) {
      const owner = this.turns.shift()!;
      const list = this.owners.get(owner) ?? [];
      const m = list.shift();
      // The owner goes to the back of the line; the mirror rejoins its list after its step.
      if (list.length > 0) this.turns.push(owner);
      else this.owners.delete(owner);
      if (m?.hasWork) return m;
    }
    return undefined;
  }
}

/**
 * Runs the parsing of every mirror in the process, one step at a time, so that no terminal's
 * output can hold the event loop — and with it every other user's keystrokes — for longer than
 * one step. A step parses one mirror's slices for about STEP_BUDGET_MS (at least one slice),
 * synchronously; the next step is scheduled with `setImmediate`, after pending I/O, so a
 * keystroke waits for at most one step.
 *
 * Fair: steps go round-robin between owners (users) and, within an owner, between their
 * terminals, so six flooding terminals of one user get the parsing time one terminal of another
 * user gets. Three classes, in order: mirrors whose snapshot someone awaits (a user is waiting
 * for their screen), mirrors of watched terminals, and mirrors of detached ones. Nobody watches
 * a detached terminal, so its parsing gets at most BACKGROUND_SHARE of the time: the rest of the
 * machine stays with the people using it.
 *
 * Parsing that falls behind is bounded per terminal by the mirror's flow control: the terminal
 * pauses its SSH channel while its backlog is above the high watermark, so a flood runs at the
 * speed its share of parsing allows, and its memory stays bounded.
 */
export class MirrorScheduler {
  private readonly live = new FairQueue();
  private readonly background = new FairQueue();
  private readonly urgent: TerminalMirror[] = [];
  private running = false;
  private steps = 0;
  /** Detached mirrors may take their next step from this time on (performance.now()). */
  private backgroundAt = 0;
  private backgroundTimer: NodeJS.Timeout | null = null;

  private busy = 0;

  /** Steps run so far (tests, metrics). */
  get stepCount(): number {
    return this.steps;
  }

  /** Time spent parsing in steps so far, in ms (tests, metrics). */
  get busyMs(): number {
    return this.busy;
  }

  /** `mirror` has work (or more urgent work); it is scheduled if it was not. */
  wake(mirror: TerminalMirror, urgent: boolean): void {
    if (urgent && !this.urgent.includes(mirror)) this.urgent.push(mirror);
    if (!this.urgent.includes(mirror)) (mirror.watched ? this.live : this.background).add(mirror);
    this.kick();
  }

  private kick(): void {
    if (this.running) return;
    if (this.urgent.length === 0 && this.live.empty) {
      if (this.background.empty) return;
      const wait = this.backgroundAt - performance.now();
      if (wait > 0) {
        this.backgroundTimer ??= setTimeout(() => {
          this.backgroundTimer = null;
          this.kick();
        }, Math.ceil(wait));
        return;
      }
    }
    this.running = true;
    setImmediate(() => this.step());
  }

  private next(): { mirror: TerminalMirror; background: boolean } | undefined {
    while (this.urgent.length > 0) {
      const m = this.urgent[0]!;
      if (m.hasWork && m.awaitingSnapshot) return { mirror: m, background: false };
      // Its snapshot is served: whatever it has left takes turns like everyone else's.
      this.urgent.shift();
      if (m.hasWork) (m.watched ? this.live : this.background).add(m);
    }
    const live = this.live.take();
    if (live) return { mirror: live, background: false };
    if (performance.now() < this.backgroundAt) return undefined;
    const m = this.background.take();
    return m ? { mirror: m, background: true } : undefined;
  }

  private step(): void {
    const picked = this.next();
    if (!picked) {
      this.running = false;
      this.kick();
      return;
    }
    const { mirror: m, background } = picked;
    this.steps++;
    const started = performance.now();
    m.runStep(() => {
      this.running = false;
      const took = performance.now() - started;
      this.busy += took;
      if (background) {
        this.backgroundAt = performance.now() + (took * (1 - BACKGROUND_SHARE)) / BACKGROUND_SHARE;
      }
      if (m.hasWork) this.wake(m, m.awaitingSnapshot);
      else this.kick();
    });
  }
}

/** The process-wide scheduler every mirror uses unless given another. */
export const mirrorScheduler = new MirrorScheduler();

/**
 * Headless mirror of a terminal's screen, built and fed lazily.
 *
 * A full @xterm/headless instance costs ~3 MiB at 120×40 with 1,000 lines of scrollback
 * (DESIGN §6), far more than an idle terminal deserves. So the mirror does not parse output as
 * it arrives: the ring already holds it. Bytes are handed to the parser only when
 *  - the ring is about to overwrite bytes the mirror has not parsed (`beforeAppend`; a little
 *    ahead of that, see there), or
 *  - a snapshot is needed.
 * Until then the xterm instance need not even exist. Invariant: `fedOffset >= ring.start`, i.e.
 * every byte of the stream is either parsed (or queued to the parser) or still in the ring.
 *
 * Resizes are recorded with the stream offset at which they happened and applied between the
 * right bytes, because output produced before a resize was laid out for the old size.
 */
export class TerminalMirror {
  private readonly ring: ByteRing;
  private scrollbackLines: number;
  private readonly hibernateAfterMs: number;
  private readonly onBacklogChange: (() => void) | undefined;
  private readonly skipPlainText: boolean;

  private term: HeadlessTerminal | null = null;
  /** Serialized state at `fedOffset` while hibernating (UTF-8: flat and compact). */
  private hibernated: { data: Buffer; cols: number; rows: number } | null = null;
  /** Size of the mirror as of `fedOffset` (resizes past it are in `pendingResizes`). */
  private cols: number;
  private rows: number;
  private latestCols: number;
  private latestRows: number;
  private pendingResizes: PendingResize[] = [];
  private fed = 0;
  private queued = 0;
  private skipped = 0;
  /**
   * Plain text at the end of the last batch, counted in `fed` but not given to xterm yet: the
   * part after a skip, which has to be parsed only if no more plain text follows it (otherwise
   * the next batch's skip covers it too). It starts in column 0 with xterm at rest, so writing
   * it later gives the same state as writing it now. Written before anything else reaches xterm
   * (after the hibernated state, which stands for the bytes before it).
   */
  private deferred: Buffer | null = null;
  private hibernateTimer: NodeJS.Timeout | null = null;
  private disposed = false;
  /** Parsing not handed to xterm yet, in stream order; run by the scheduler. */
  private work: MirrorWork[] = [];
  /** Snapshots waiting for `work` to drain. */
  private waitingSnapshots = 0;
  private readonly scheduler: MirrorScheduler;
  readonly owner: string;

  constructor(options: TerminalMirrorOptions) {
    this.ring = options.ring;
    this.cols = this.latestCols = options.cols;
    this.rows = this.latestRows = options.rows;
    this.scrollbackLines = options.scrollback ?? 1000;
    this.hibernateAfterMs = options.hibernateAfterMs ?? 5 * 60_000;
    this.onBacklogChange = options.onBacklogChange;
    this.skipPlainText = options.skipPlainText ?? true;
    this.fed = this.ring.end;
    this.owner = options.owner ?? '';
    this.scheduler = options.scheduler ?? mirrorScheduler;
  }

  /** Work is queued for the scheduler. */
  get hasWork(): boolean {
    return !this.disposed && this.work.length > 0;
  }

  /**
   * Someone watches this terminal (set by its owner on attach and detach). Detached terminals'
   * parsing runs in the background share (see `MirrorScheduler`).
   */
  watched = false;

  /** Someone awaits a snapshot of this mirror. */
  get awaitingSnapshot(): boolean {
    return this.waitingSnapshots > 0;
  }

  private submit(item: MirrorWork): void {
    this.work.push(item);
    this.scheduler.wake(this, this.waitingSnapshots > 0);
  }

  /**
   * One scheduler step: this mirror's queued slices (and the actions between them) for about
   * STEP_BUDGET_MS, parsed synchronously; `done` when the step is over.
   */
  runStep(done: () => void): void {
    const term = this.term;
    if (!term || this.disposed || this.work.length === 0) {
      done();
      return;
    }
    const writeSync = syncWriter(term);
    if (!writeSync) {
      // xterm without a synchronous write (an upgrade): one item per step, through its queue.
      const item = this.work.shift()!;
      term.write('run' in item ? '' : item.bytes, () => {
        if ('run' in item) item.run();
        else item.done?.();
        done();
      });
      return;
    }
    const started = performance.now();
    do {
      const item = this.work.shift()!;
      if ('run' in item) {
        // '' drains anything xterm still holds (a restored hibernation), so the action sees
        // every byte before it parsed.
        this.parse(writeSync, '');
        item.run();
      } else {
        this.parse(writeSync, item.bytes);
        item.done?.();
      }
    } while (this.work.length > 0 && !this.disposed && performance.now() - started < STEP_BUDGET_MS);
    done();
  }

  /**
   * Bytes from the terminal's program reach xterm's parser here. An exception from it (an xterm
   * bug: 6.0.0 threw on ED 1 in the bottom right corner until patched) must not take the
   * process and every other terminal with it: it is counted, and parsing goes on with the next
   * chunk (this one's rest is lost to the mirror, which may then differ from the browser's).
   */
  private parse(writeSync: (data: string | Uint8Array) => void, data: string | Uint8Array): void {
    try {
      writeSync(data);
    } catch (err) {
      this.parseErrors++;
      this.lastParseError = err instanceof Error ? err.message : String(err);
    }
  }

  /** Exceptions xterm's parser threw on this terminal's output (see `parse`). */
  parseErrors = 0;
  lastParseError: string | null = null;

  /** Stream offset up to which bytes have been handed to the parser (or skipped, or held back). */
  get fedOffset(): number {
    return this.fed;
  }

  /** Bytes handed to the parser but not parsed yet (xterm parses asynchronously). */
  get backlog(): number {
    return this.queued;
  }

  /** Bytes of plain text never parsed because they could not affect the screen (see `skippable`). */
  get skippedBytes(): number {
    return this.skipped;
  }

  get state(): 'empty' | 'live' | 'hibernated' {
    return this.term ? 'live' : this.hibernated ? 'hibernated' : 'empty';
  }

  /**
   * Must be called before `ring.append(chunk)`: if the append would overwrite bytes the mirror
   * has not parsed (or come within a headroom of that), everything pending (including `chunk`)
   * is fed now, in one batch.
   */
  beforeAppend(chunk: Uint8Array): void {
    if (this.disposed) return;
    // Fed a little before the ring is full (not at the last byte): a batch of ~3/4 of the ring
    // stays under the mirror's flow-control high watermark, so sustained output (a build log,
    // `cat` of a big file) is parsed in the background instead of pausing the channel while a
    // whole ring's worth is parsed. Terminals that print less than that are never parsed.
    const headroom = Math.min(FEED_HEADROOM_BYTES, this.ring.capacity >> 2);
    if (this.ring.end + chunk.length - (this.ring.capacity - headroom) <= this.fed) return;
    // One batch, so the plain-text fast path sees the whole run: copied into the reused batch
    // buffer (feed() copies out what the parser's queue keeps). It starts with the bytes feed()
    // takes back, when the ring still holds them.
    const back = this.takenBackBytes();
    const withBack = back > 0 && this.fed - back >= this.ring.start;
    const from = withBack ? this.fed - back : this.fed;
    if (from < this.ring.start) throw new Error('mirror invariant violated: unparsed bytes were overwritten');
    const scratch = takeBatchBuffer(this.ring.end - from + chunk.length);
    try {
      const batch = this.ring.sliceWith(from, chunk, scratch)!;
      this.feed(batch, this.ring.end + chunk.length, true, withBack, true);
    } finally {
      // feed() keeps no view of it.
      returnBatchBuffer(scratch);
    }
  }

  /**
   * How many bytes before `fed` the next feed() takes back and parses again in front of the new
   * ones: the deferred plain text, or stream output queued for the parser but not handed to it.
   */
  private takenBackBytes(): number {
    if (this.deferred) return this.deferred.length;
    if (this.work.length === 0 || !this.work.every((w) => 'bytes' in w && w.stream)) return 0;
    return this.work.reduce((sum, w) => sum + (w as { bytes: Uint8Array }).bytes.length, 0);
  }

  /** Lines of scrollback the mirror keeps. */
  get scrollback(): number {
    return this.scrollbackLines;
  }

  /**
   * Keeps up to `lines` of scrollback from now on (a viewer with a longer scrollback attached).
   * Never shrinks: another viewer of the terminal may have asked for more. Lines that had
   * already left the shorter scrollback do not come back.
   */
  growScrollback(lines: number): void {
    if (this.disposed || lines <= this.scrollbackLines) return;
    this.scrollbackLines = lines;
    // In stream order with the parsing queued before it; a hibernated or not yet built mirror
    // gets it when materialized.
    if (this.term)
      this.submit({
        run: () => {
          if (this.term) this.term.options.scrollback = this.scrollbackLines;
        },
      });
  }

  /** Records a resize at the current end of the stream. */
  resize(cols: number, rows: number): void {
    if (this.disposed || (cols === this.latestCols && rows === this.latestRows)) return;
    this.latestCols = cols;
    this.latestRows = rows;
    const at = this.ring.end;
    const last = this.pendingResizes[this.pendingResizes.length - 1];
    if (last && last.at === at) {
      last.cols = cols;
      last.rows = rows;
    } else {
      this.pendingResizes.push({ at, cols, rows });
    }
    if (this.pendingResizes.length > MAX_PENDING_RESIZES) this.flush();
  }

  /**
   * A snapshot at exactly `ring.end` as of the call. xterm parses asynchronously, so the state
   * is serialized inside the write callback of the last pending chunk: xterm runs that
   * callback after parsing the chunk and before parsing anything queued later.
   */
  snapshot(options: SnapshotOptions = {}): Promise<MirrorSnapshot> {
    if (this.disposed) return Promise.reject(new Error('mirror disposed'));
    const maxBytes = options.maxBytes ?? MAX_SNAPSHOT_JSON_BYTES;
    this.flush();
    const offset = this.fed;
    const term = this.materialize();
    return new Promise((resolve, reject) => {
      // Someone is waiting for this screen: the scheduler serves this mirror first until then.
      this.waitingSnapshots++;
      this.submit({
        run: () => {
          this.waitingSnapshots--;
          try {
            const tail = this.incompleteTail(term, offset);
            const lines = Math.min(options.scrollback ?? this.scrollbackLines, this.scrollbackLines);
            const state = this.serialize(term, lines, maxBytes - jsonBytes(tail.text));
            resolve({
              data: state.data + tail.text,
              offset: offset - tail.utf8Bytes,
              cols: term.cols,
              rows: term.rows,
              scrollback: state.lines,
            });
          } catch (err) {
            reject(err);
          }
        },
      });
      this.armHibernation();
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.hibernateTimer) clearTimeout(this.hibernateTimer);
    this.hibernateTimer = null;
    this.term?.dispose();
    this.term = null;
    this.hibernated = null;
    this.deferred = null;
    this.pendingResizes = [];
    this.work = [];
  }

  /** Feeds everything still pending in the ring. */
  private flush(): void {
    const end = this.ring.end;
    if (end === this.fed && this.pendingResizes.length === 0 && !this.deferred) return;
    const back = this.takenBackBytes();
    const withBack = back > 0 && this.fed - back >= this.ring.start;
    const pending = this.ring.slice(withBack ? this.fed - back : this.fed);
    if (pending === null) throw new Error('mirror invariant violated: unparsed bytes were overwritten');
    this.feed(pending, end, false, withBack);
  }

  /**
   * Feeds `bytes`, which cover [fed, endOffset), applying recorded resizes in between. With
   * `mayDefer`, plain text left at the end after a skip may be held back (see `deferred`).
   * `startsWithTakenBack`: `bytes` already begin with what takenBackBytes() counted (sliced
   * from the ring), so they cover [fed − that, endOffset). `borrowed`: `bytes` is reused after
   * the call, so what is queued for the parser is copied out of it.
   */
  private feed(
    bytes: Buffer,
    endOffset: number,
    mayDefer = true,
    startsWithTakenBack = false,
    borrowed = false,
  ): void {
    const term = this.materialize();
    if (!this.deferred && this.work.length > 0 && this.work.every((w) => 'bytes' in w && w.stream)) {
      // Output queued for the parser but not handed to it yet continues exactly where xterm's
      // parser stands: taken back and fed again in front of the new bytes, so the plain-text
      // fast path sees the whole run even when parsing fell behind (a bulk stream otherwise
      // stops skipping as soon as one batch is still queued when the next arrives).
      const taken = this.work.map((w) => (w as { bytes: Uint8Array }).bytes);
      const n = taken.reduce((sum, b) => sum + b.length, 0);
      this.work = [];
      this.queued -= n;
      this.fed -= n;
      if (!startsWithTakenBack) {
        bytes = Buffer.concat([...taken, bytes]);
        borrowed = false;
      }
    }
    if (this.deferred) {
      // Taken back and fed again in front of the new bytes, as if never held back.
      this.fed -= this.deferred.length;
      if (!startsWithTakenBack) {
        bytes = Buffer.concat([this.deferred, bytes]);
        borrowed = false;
      }
      this.deferred = null;
    }
    const skip = this.pendingResizes.length === 0 ? this.skippable(term, bytes) : 0;
    if (skip > 0) {
      // The skipped text ended with CR LF, so the cursor was in column 0: put it there.
      this.submit({ bytes: CR });
      bytes = bytes.subarray(skip);
      this.fed += skip;
      this.skipped += skip;
      if (
        mayDefer &&
        bytes.length <= MAX_DEFERRED_BYTES &&
        this.pendingResizes.length === 0 &&
        plainPrefixLength(bytes) === bytes.length
      ) {
        // Copied: `bytes` may be a view of the ring, which will overwrite it.
        this.deferred = Buffer.from(bytes);
        this.fed = endOffset;
        this.armHibernation();
        return;
      }
    }
    // One copy of what the parser will read, sliced below (parsing it costs far more).
    if (borrowed && bytes.length > 0) bytes = Buffer.from(bytes);
    let pos = this.fed;
    let cursor = 0;
    while (pos < endOffset || (this.pendingResizes[0] && this.pendingResizes[0].at <= endOffset)) {
      const next = this.pendingResizes[0];
      const stop = next && next.at <= endOffset ? next.at : endOffset;
      while (pos < stop) {
        const n = Math.min(SLICE_BYTES, stop - pos);
        const piece = bytes.subarray(cursor, cursor + n);
        cursor += n;
        pos += n;
        this.queued += n;
        this.submit({
          bytes: piece,
          stream: true,
          done: () => {
            this.queued -= n;
            this.onBacklogChange?.();
          },
        });
      }
      if (next && next.at === pos) {
        this.pendingResizes.shift();
        this.cols = next.cols;
        this.rows = next.rows;
        // Applied in stream order: after the bytes before it are parsed, before the rest.
        this.submit({ run: () => term.resize(next.cols, next.rows) });
      }
      if (!next || next.at > endOffset) break;
    }
    this.fed = endOffset;
    if (this.queued > 0) this.onBacklogChange?.();
    this.armHibernation();
  }

  /**
   * How many leading bytes of `bytes` can be left unparsed without changing the screen, the
   * scrollback or any mode: the bulk-output fast path (a build log, `cat` of a big file, the
   * bench's base64 stream), where xterm's parser would otherwise be the broker's main cost.
   *
   * Plain text (see `plainPrefixLength`) only prints characters and moves the cursor: it changes
   * no mode, attribute, charset or title. If it is followed by more plain text holding at least
   * 2 × rows + scrollback line feeds, everything the skipped part wrote has scrolled out of the
   * scrollback by the end of it: the first `rows` line feeds bring the cursor to the bottom row
   * wherever it started, the next `rows + scrollback` push every older line out. Cutting right
   * after a CR LF puts the cursor in column 0 on both paths (feed() writes a CR to match). This
   * holds only from a known parser state, so the skip happens only when xterm has parsed
   * everything written so far and its parser is in the ground state (not inside an escape
   * sequence or an OSC/DCS string, no partial UTF-8 character), on the normal screen with
   * full-screen margins and insert mode off. xterm internals are read defensively: if any is
   * missing (an xterm upgrade), nothing is skipped and the mirror is exactly as before.
   */
  private skippable(term: HeadlessTerminal, bytes: Buffer): number {
    if (!this.skipPlainText || this.queued !== 0 || this.work.length > 0 || bytes.length < MIN_SKIP_BYTES)
      return 0;
    if (!atRest(term)) return 0;
    const plainEnd = plainPrefixLength(bytes);
    if (plainEnd < MIN_SKIP_BYTES) return 0;
    const needed = 2 * term.rows + this.scrollbackLines;
    let lineFeeds = 0;
    for (let i = bytes.lastIndexOf(0x0a, plainEnd - 1); i >= 1; i = bytes.lastIndexOf(0x0a, i - 1)) {
      if (lineFeeds >= needed && bytes[i - 1] === 0x0d) return i + 1 >= MIN_SKIP_BYTES ? i + 1 : 0;
      lineFeeds++;
    }
    return 0;
  }

  private materialize(): HeadlessTerminal {
    if (this.term) return this.term;
    const restored = this.hibernated;
    const term = new Terminal({
      cols: restored?.cols ?? this.cols,
      rows: restored?.rows ?? this.rows,
      scrollback: this.scrollbackLines,
      allowProposedApi: true,
      logLevel: 'off',
    });
    // The browser's xterm measures characters with Unicode 11 (apps/web terminal-view): so
    // does the mirror, or wide characters (emoji) would be laid out differently.
    term.loadAddon(new Unicode11Addon());
    term.unicode.activeVersion = '11';
    if (restored) term.write(restored.data);
    this.hibernated = null;
    this.term = term;
    return term;
  }

  /**
   * The state with at most `lines` of scrollback, as large as fits `maxBytes` as a JSON string:
   * halving the scrollback until it does (the screen alone always goes out).
   */
  private serialize(
    term: HeadlessTerminal,
    lines: number,
    maxBytes: number,
  ): { data: string; lines: number } {
    for (;;) {
      const data = serializeTerminal(term, lines);
      // A UTF-16 unit takes at most 6 bytes in JSON (\u001b): most snapshots need no measuring.
      if (lines === 0 || data.length * 6 <= maxBytes || jsonBytes(data) <= maxBytes) return { data, lines };
      lines = Math.floor(lines / 2);
    }
  }

  /**
   * The escape sequence (or control string) and UTF-8 character xterm has begun but not
   * finished parsing at `offset`. The serialized state does not show them (a sequence acts on
   * its final byte), so the snapshot carries the sequence begun so far after the state, as
   * text, and the client's parser ends up where the mirror's is; C0 controls inside an escape
   * sequence are left out, having been executed already. A partial UTF-8 character cannot be
   * carried in a string: the snapshot's offset moves back before it and the client receives
   * its bytes again in the stream. If the sequence's start has left the ring, nothing is
   * carried (the client misreads the rest of that one sequence).
   */
  private incompleteTail(term: HeadlessTerminal, offset: number): { text: string; utf8Bytes: number } {
    const input = coreOf(term)?._inputHandler;
    const interim = input?._utf8Decoder?.interim;
    let utf8Bytes = 0;
    while (interim && utf8Bytes < interim.length && interim[utf8Bytes] !== 0) utf8Bytes++;
    const state = input?._parser?.currentState ?? 0;
    if (state === 0) return { text: '', utf8Bytes };
    const from = Math.max(this.ring.start, offset - MAX_SEQUENCE_LOOKBACK);
    const bytes = this.ring.slice(from)?.subarray(0, offset - utf8Bytes - from);
    const at = bytes ? lastSequenceStart(bytes) : -1;
    if (!bytes || at === -1) return { text: '', utf8Bytes };
    let text = bytes.subarray(at).toString('utf8');
    // ESC and CSI states (1–6) execute C0 controls as they come; strings (7+) keep or ignore them.
    if (state <= CSI_IGNORE_STATE) text = text[0] + dropC0(text.slice(1));
    return { text, utf8Bytes };
  }

  private armHibernation(): void {
    if (this.hibernateAfterMs <= 0 || this.disposed) return;
    if (this.hibernateTimer) this.hibernateTimer.refresh();
    else {
      this.hibernateTimer = setTimeout(() => this.hibernate(), this.hibernateAfterMs);
      this.hibernateTimer.unref();
    }
  }

  private hibernate(): void {
    this.hibernateTimer = null;
    const term = this.term;
    if (!term || this.disposed) return;
    if (this.queued > 0 || this.work.length > 0 || !atRest(term, false)) {
      // Not in the middle of a sequence either: the state must stand for exactly `fedOffset`.
      this.armHibernation();
      return;
    }
    // The serialized state stands for exactly the bytes fed so far; bytes after it stay in the
    // ring (the invariant still holds) and pending resizes stay recorded.
    // A Buffer, not the string: serialize() builds a rope of thousands of small strings that
    // would cost several times its length until flattened.
    const data = Buffer.from(serializeTerminal(term, this.scrollbackLines), 'utf8');
    this.hibernated = { data, cols: term.cols, rows: term.rows };
    term.dispose();
    this.term = null;
  }
}

export function createTerminalMirror(options: TerminalMirrorOptions): TerminalMirror {
  return new TerminalMirror(options);
}

/**
 * xterm's synchronous write (`_core.writeSync`): parses now, in order after anything queued by
 * `write`. Internal, so read defensively: without it the scheduler falls back to `write`.
 */
function syncWriter(term: HeadlessTerminal): ((data: string | Uint8Array) => void) | null {
  const core = coreOf(term);
  return typeof core?.writeSync === 'function' ? (data) => core.writeSync!(data) : null;
}

/**
 * Length of the leading run of plain text: ASCII without ESC, SO or SI. In the parser's ground
 * state such bytes print characters or move the cursor (CR, LF, BS, TAB…) and change nothing
 * else; ESC starts a sequence, SO/SI switch the character set, and non-ASCII bytes could carry
 * C1 controls. Found with memchr-speed scans (indexOf, isAscii), not a loop per byte.
 */
function plainPrefixLength(bytes: Buffer): number {
  let end = bytes.length;
  for (const control of [0x1b, 0x0e, 0x0f]) {
    const at = bytes.indexOf(control);
    if (at !== -1 && at < end) end = at;
  }
  if (isAscii(bytes.subarray(0, end))) return end;
  // Binary search for the first non-ASCII byte: [0, lo) is ASCII, it lies in [lo, hi).
  let lo = 0;
  let hi = end;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (isAscii(bytes.subarray(lo, mid))) lo = mid;
    else hi = mid;
  }
  return lo;
}

/**
 * True when xterm has parsed everything written to it (resizes included), its parser is in the ground state with
 * no partial UTF-8 character, and it shows the normal screen with full-screen margins and
 * insert mode off. False when unsure (any internal missing or of another shape).
 */
function atRest(term: HeadlessTerminal, plainScreen = true): boolean {
  const core = coreOf(term);
  const input = core?._inputHandler;
  const interim = input?._utf8Decoder?.interim;
  const parserAtRest =
    core?._writeBuffer?._pendingData === 0 &&
    core._writeBuffer._writeBuffer?.length === 0 &&
    input?._parser?.currentState === 0 &&
    interim instanceof Uint8Array &&
    interim[0] === 0;
  if (!parserAtRest || !plainScreen) return parserAtRest;
  return (
    core.buffers?.active !== undefined &&
    core.buffers.active === core.buffers.normal &&
    core.buffer?.scrollTop === 0 &&
    core.buffer.scrollBottom === term.rows - 1 &&
    core.coreService?.modes?.insertMode === false
  );
}

/** `text` without the C0 controls an escape sequence executes as they come (ESC, CAN, SUB stay). */
function dropC0(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.charCodeAt(0);
    if (code >= 0x20 || code === 0x18 || code === 0x1a || code === 0x1b) out += ch;
  }
  return out;
}

/** xterm's parser states up to CSI_IGNORE are escape and control sequences; after it, strings. */
const CSI_IGNORE_STATE = 6;
/** Most bytes searched back for the start of an unfinished sequence at a snapshot's offset. */
const MAX_SEQUENCE_LOOKBACK = 64 * 1024;

/**
 * Index of the last byte that starts an escape sequence or control string in `bytes`: ESC, or
 * a C1 introducer (DCS, SOS, CSI, OSC, PM, APC) in its UTF-8 form; -1 if none.
 */
function lastSequenceStart(bytes: Uint8Array): number {
  for (let i = bytes.length - 1; i >= 0; i--) {
    const b = bytes[i];
    if (b === 0x1b) return i;
    if (b === 0xc2 && i + 1 < bytes.length) {
      const c1 = bytes[i + 1];
      if (c1 === 0x90 || c1 === 0x98 || c1 === 0x9b || c1 === 0x9d || c1 === 0x9e || c1 === 0x9f) return i;
    }
  }
  return -1;
}

/** Bytes `text` takes as a JSON string (quotes, escapes, UTF-8). */
function jsonBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(text));
}
