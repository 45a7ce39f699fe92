import {
  SCROLLBACK_MAX,
  ServerMessageSchema,
  SshAuthSchema,
  TERMINAL_MAX_COLS,
  TERMINAL_MAX_ROWS,
  TERMINAL_MIN_COLS,
  TERMINAL_MIN_ROWS,
} from '@tether/protocol';
import { z } from 'zod';

/**
 * Messages between a node's API and its terminal host (README.md). Every frame is one map with a
 * `t` (type). Requests that expect an answer carry `rid`, chosen by the API and echoed in the
 * `result`; viewers (one per attached browser socket) are named by `vid`, chosen by the API.
 * Terminal bytes (`data`) travel as MessagePack binary.
 */
export const HOST_PROTOCOL_VERSION = 1;

const id = z.uuid();
const rid = z.number().int().nonnegative();
const vid = z.number().int().nonnegative();
const offset = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const cols = z.number().int().min(TERMINAL_MIN_COLS).max(TERMINAL_MAX_COLS);
const rows = z.number().int().min(TERMINAL_MIN_ROWS).max(TERMINAL_MAX_ROWS);
const scrollback = z.number().int().min(0).max(SCROLLBACK_MAX);
const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'must be binary');
const target = z.object({
  host: z.string().min(1).max(253),
  port: z.number().int().min(1).max(65535),
  username: z.string().min(1).max(255),
});

// ── API → host ───────────────────────────────────────────────────────────────

/**
 * First frame of every connection; anything else first, or a wrong secret, closes it. On the
 * node's Unix socket it carries the secret shared through DATA_DIR. On the peer port (another
 * node's API, over TLS-PSK) it carries a ticket instead (peer-link.ts): that connection may then
 * only `list` (answered with the ticket's terminal alone), `attach` to that terminal for the
 * ticket's user, and `input`/`ack`/`resize`/`detach`/`terminate` it; a `terminate` ticket allows
 * `terminate` alone.
 */
export const HelloSchema = z
  .object({
    t: z.literal('hello'),
    protocol: z.number().int(),
    secret: z.string().min(1).max(512).optional(),
    ticket: z.string().min(1).max(2048).optional(),
  })
  .refine((h) => (h.secret === undefined) !== (h.ticket === undefined), {
    message: 'hello carries a secret or a ticket',
  });

/** → `result { value: TerminalInfo[] }`: every terminal the host holds, ended ones included. */
export const ListSchema = z.object({ t: z.literal('list'), rid });

/**
 * Connect and open a shell. Host-key and keyboard-interactive questions come back as `ask`
 * (same `rid`); → `result { value: TerminalInfo }` or `result { error }`.
 */
export const OpenSchema = z.object({
  t: z.literal('open'),
  rid,
  id,
  userId: id,
  target,
  auth: SshAuthSchema,
  cols,
  rows,
  title: z.string().max(200).nullable(),
  /** The browser's scrollback in lines (the host keeps up to its TERMINAL_SCROLLBACK_MAX). */
  scrollback: scrollback.optional(),
  /**
   * The user's trusted key for this host and port (the API's known-hosts store), or null: an
   * unknown key is asked about (`ask`), a changed one refused.
   */
  knownHost: z.object({ keyType: z.string().max(100), fingerprint: z.string().max(200) }).nullable(),
});

/** The answer to an `ask`. */
export const AnswerSchema = z.object({
  t: z.literal('answer'),
  rid,
  qid: z.number().int().nonnegative(),
  accept: z.boolean().optional(),
  responses: z.array(z.string().max(4096)).max(32).optional(),
});

/** Abandons an `open` still in progress (its browser went away). */
export const CancelSchema = z.object({ t: z.literal('cancel'), rid });

/**
 * Adds viewer `vid` to a terminal: it receives `msg`, `out` and at most one `close`, exactly
 * what the engine's TerminalViewer is given. → `result` once attached, or its error.
 */
export const AttachSchema = z.object({
  t: z.literal('attach'),
  rid,
  vid,
  id,
  userId: id,
  resumeFrom: offset.optional(),
  cols: cols.optional(),
  rows: rows.optional(),
  /** The browser's scrollback: the snapshot carries at most this many lines (see the engine). */
  scrollback: scrollback.optional(),
  /** The browser's input stream: its `ready` then says how much of that stream was applied. */
  inputStream: z.string().min(1).max(64).optional(),
});

export const DetachSchema = z.object({ t: z.literal('detach'), vid });

/** Output flow control for one viewer: what its browser acknowledged, what its socket holds. */
export const AckSchema = z.object({
  t: z.literal('ack'),
  vid,
  offset,
  /** The browser socket's `bufferedAmount` (bytes queued, not yet written). */
  buffered: z.number().int().nonnegative(),
});

/**
 * Keystrokes for a terminal. With `stream` and `at` (the client's own count of the input it has
 * sent, for the first byte of `data`), bytes the host already applied are skipped, so a client
 * that resends after a reconnect never types twice; the host answers `applied`.
 */
export const InputSchema = z.object({
  t: z.literal('input'),
  id,
  data: bytes,
  stream: z.string().min(1).max(64).optional(),
  at: offset.optional(),
});

export const ResizeSchema = z.object({ t: z.literal('resize'), id, cols, rows });

export const TerminateSchema = z.object({
  t: z.literal('terminate'),
  id,
  reason: z.string().min(1).max(500),
});

export const PingSchema = z.object({ t: z.literal('ping'), rid });

/** → `result { value: HostStats }`: the host process's own health, for the API's /metrics. */
export const StatsSchema = z.object({ t: z.literal('stats'), rid });

export const HostStatsSchema = z.object({
  pid: z.number().int(),
  startedAt: z.number(),
  rssBytes: z.number().nonnegative(),
  heapUsedBytes: z.number().nonnegative(),
  /** Event-loop delay since the previous `stats`, in ms (p99 and max). */
  eventLoopDelayP99Ms: z.number().nonnegative(),
  eventLoopDelayMaxMs: z.number().nonnegative(),
  connections: z.number().int().nonnegative(),
  /** Set while a newer generation has taken over: the drain deadline (epoch ms). */
  drainingUntil: z.number().nullable().optional(),
});
export type HostStats = z.infer<typeof HostStatsSchema>;

/**
 * Sent by a new generation of the host to the one it replaces (over the old one's socket, with
 * the same secret): stop taking new terminals, keep serving the ones held until they end or the
 * drain limit passes, then exit. → `result { value: null }`.
 */
export const DrainSchema = z.object({ t: z.literal('drain'), rid });

export const ApiMessageSchema = z.discriminatedUnion('t', [
  HelloSchema,
  ListSchema,
  OpenSchema,
  AnswerSchema,
  CancelSchema,
  AttachSchema,
  DetachSchema,
  AckSchema,
  InputSchema,
  ResizeSchema,
  TerminateSchema,
  PingSchema,
  StatsSchema,
  DrainSchema,
]);
export type ApiMessage = z.infer<typeof ApiMessageSchema>;

// ── host → API ───────────────────────────────────────────────────────────────

export const TerminalStatusSchema = z.enum(['running', 'exited', 'lost']);

export const EndDetailsSchema = z.object({
  code: z.number().int().nullable(),
  signal: z.string().nullable(),
  reason: z.string(),
});

export const TerminalInfoSchema = z.object({
  id,
  userId: id,
  status: TerminalStatusSchema,
  target,
  address: z.string(),
  title: z.string().nullable(),
  cols,
  rows,
  viewers: z.number().int().nonnegative(),
  /** Output bytes so far (the offset of the next byte). */
  outputOffset: offset,
  createdAt: z.number(),
  lastOutputAt: z.number().nullable(),
  ended: EndDetailsSchema.nullable(),
  /** Memory held for it (metrics, admin status). */
  memory: z.object({
    ringBytes: z.number().int().nonnegative(),
    mirror: z.enum(['empty', 'live', 'hibernated']),
    mirrorBacklog: z.number().int().nonnegative(),
    channelBuffered: z.number().int().nonnegative(),
  }),
});
export type TerminalInfo = z.infer<typeof TerminalInfoSchema>;

export const WelcomeSchema = z.object({
  t: z.literal('welcome'),
  protocol: z.number().int(),
  /** Stable for the host process's life; a new host (after a crash or upgrade) has a new one. */
  hostId: z.string(),
  pid: z.number().int(),
  startedAt: z.number(),
  version: z.string(),
  /** Set when this host is draining (a newer generation takes new terminals): the deadline. */
  drainingUntil: z.number().nullable().optional(),
  /**
   * The peer port this host was started to serve (null: none). An API that starts hosts starts a
   * new generation when its own peer configuration asks for another (e.g. the peer link was just
   * turned on).
   */
  peerPort: z.number().int().nullable().optional(),
});

export const ErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  details: z.record(z.string(), z.string()).optional(),
});
export type HostError = z.infer<typeof ErrorSchema>;

export const ResultSchema = z.object({
  t: z.literal('result'),
  rid,
  value: z.unknown().optional(),
  error: ErrorSchema.optional(),
});

/** A question from the SSH server side during an `open`, for its user. */
export const AskSchema = z.object({
  t: z.literal('ask'),
  rid,
  qid: z.number().int().nonnegative(),
  hostKey: z
    .object({
      host: z.string(),
      port: z.number().int(),
      keyType: z.string(),
      fingerprint: z.string(),
    })
    .optional(),
  prompt: z
    .object({
      name: z.string(),
      instructions: z.string(),
      prompts: z.array(z.object({ prompt: z.string(), echo: z.boolean() })),
    })
    .optional(),
});

/**
 * During an `open`: the key the user accepted was proven by the server (key exchange done);
 * the API stores it as trusted for this user, host and port.
 */
export const RememberSchema = z.object({
  t: z.literal('remember'),
  rid,
  host: z.string(),
  port: z.number().int(),
  keyType: z.string(),
  fingerprint: z.string(),
});

/** A control message for one viewer's browser, as the public protocol defines it. */
export const ViewerMessageSchema = z.object({ t: z.literal('msg'), vid, m: ServerMessageSchema });
/** Terminal output for one viewer (raw bytes, in stream order). */
export const ViewerOutputSchema = z.object({ t: z.literal('out'), vid, data: bytes });
/** The host ends a viewer (terminal ended, stalled...); the API closes its socket with these. */
export const ViewerCloseSchema = z.object({
  t: z.literal('close'),
  vid,
  code: z.number().int(),
  reason: z.string(),
});

/** A terminal changed status (persisted by the API). */
export const StatusSchema = z.object({
  t: z.literal('status'),
  id,
  status: TerminalStatusSchema,
  ended: EndDetailsSchema.nullable(),
});
/**
 * An ended terminal's last screen (no scrollback), sent once after its `status`, for the API to
 * keep after the host frees the terminal. Not sent when it is over FINAL_SCREEN_MAX_BYTES.
 */
export const ScreenSchema = z.object({
  t: z.literal('screen'),
  id,
  // A JSON string takes at least a byte per UTF-16 unit: a bound on its size as sent.
  data: z.string().max(256 * 1024),
  cols,
  rows,
  offset,
});
/** Largest last screen (as a JSON string) a host sends and the API keeps. */
export const FINAL_SCREEN_MAX_BYTES = 256 * 1024;
/** Output flowed (throttled by the host), for the terminal's `lastOutputAt`. */
export const ActivitySchema = z.object({ t: z.literal('activity'), id, at: z.number() });
export const ViewersSchema = z.object({
  t: z.literal('viewers'),
  id,
  count: z.number().int().nonnegative(),
});
/** An ended terminal's retention passed: the host freed it. */
export const RemovedSchema = z.object({ t: z.literal('removed'), id });
/** Input of `stream` applied up to `offset` (the SSH channel took it). */
export const AppliedSchema = z.object({
  t: z.literal('applied'),
  id,
  stream: z.string().optional(),
  offset,
});

/**
 * This host started draining (a newer generation took over its socket): new terminals go to the
 * newer one; these stay until they end or `until` (epoch ms), when the host ends them and exits.
 */
export const DrainingSchema = z.object({ t: z.literal('draining'), hostId: z.string(), until: z.number() });

export const HostMessageSchema = z.discriminatedUnion('t', [
  WelcomeSchema,
  ResultSchema,
  AskSchema,
  RememberSchema,
  ViewerMessageSchema,
  ViewerOutputSchema,
  ViewerCloseSchema,
  StatusSchema,
  ScreenSchema,
  ActivitySchema,
  ViewersSchema,
  RemovedSchema,
  AppliedSchema,
  DrainingSchema,
]);
export type HostMessage = z.infer<typeof HostMessageSchema>;
export type HostMessageOf<T extends HostMessage['t']> = Extract<HostMessage, { t: T }>;
export type ApiMessageOf<T extends ApiMessage['t']> = Extract<ApiMessage, { t: T }>;
