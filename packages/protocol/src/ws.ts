import { z } from 'zod';
import {
  SCROLLBACK_MAX,
  TERMINAL_MAX_COLS,
  TERMINAL_MAX_ROWS,
  TERMINAL_MIN_COLS,
  TERMINAL_MIN_ROWS,
} from './limits.js';
import { HostNameSchema, PortSchema } from './target.js';

/**
 * WebSocket terminal protocol: one socket per attached terminal at `{BASE_PATH}/api/terminals/ws`.
 *
 * Text frames carry the JSON control messages below. Binary frames carry raw terminal bytes:
 * keystrokes client → server, output server → client. Output is never JSON-encoded.
 *
 * Ordering invariant: after a `ready { offset }`, the binary frames that follow carry the
 * terminal's output stream starting exactly at byte `offset`. A client that counts the bytes it
 * has rendered can therefore resume with `attach { resumeFrom }` and see nothing lost and
 * nothing twice.
 */
export const PROTOCOL_VERSION = 1;

/** Path of the terminal socket, relative to the broker's BASE_PATH. */
export const TERMINAL_SOCKET_PATH = '/api/terminals/ws';

/** Application close codes (4000-4999) plus the standard ones the broker uses. */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  TOO_LARGE: 1009,
  INTERNAL_ERROR: 1011,
  /** The broker is shutting down or restarting; reconnect with backoff. */
  SERVER_RESTARTING: 1012,
  /** A dependency (the database) is unavailable right now; retry with backoff. */
  TRY_AGAIN_LATER: 1013,
  /** No valid `auth` message in time, or the token was rejected. */
  UNAUTHENTICATED: 4001,
  /** The origin is not allowed, or the user lacks the permission. */
  FORBIDDEN: 4003,
  /** The terminal does not exist, or is not yours. */
  UNKNOWN_TERMINAL: 4004,
  /** Missed heartbeats. */
  HEARTBEAT_TIMEOUT: 4008,
  /** The same user signed in somewhere else; this web session is over. */
  SIGNED_IN_ELSEWHERE: 4009,
  /** The web session passed its idle or absolute timeout. */
  SESSION_EXPIRED: 4010,
  /** The web session was ended (logout, password change, admin revocation). */
  SESSION_REVOKED: 4011,
  /** The account was disabled. */
  ACCOUNT_DISABLED: 4012,
  /** The terminal ended (remote exit, terminate, detached timeout). */
  TERMINAL_ENDED: 4014,
  /**
   * The client stopped reading: its output was neither drained nor acknowledged for
   * `WS_STALL_TIMEOUT`. The terminal detached and keeps running; reconnect and attach.
   */
  STALLED: 4015,
  /** Too many terminals, connections or sockets (`error` says which). */
  LIMIT_REACHED: 4029,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

const cols = z.number().int().min(TERMINAL_MIN_COLS).max(TERMINAL_MAX_COLS);
const rows = z.number().int().min(TERMINAL_MIN_ROWS).max(TERMINAL_MAX_ROWS);
const offset = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
/**
 * The client's scrollback in lines. The broker's mirror of the terminal keeps as many (up to its
 * `maxScrollback`, see `authenticated`), so a snapshot after a reload brings them back.
 */
const scrollback = z.number().int().min(0).max(SCROLLBACK_MAX);

// ── client → server ──────────────────────────────────────────────────────────

export const AuthMessageSchema = z.object({ type: z.literal('auth'), token: z.string().min(1).max(8192) });

export const SshAuthSchema = z.discriminatedUnion('method', [
  z.object({ method: z.literal('password'), password: z.string().max(4096) }),
  z.object({
    method: z.literal('publickey'),
    privateKey: z.string().min(1).max(32_768),
    passphrase: z.string().max(4096).optional(),
    /** Used if the server asks for a password after the key (`publickey,password`). */
    password: z.string().max(4096).optional(),
  }),
  /** Ask the server for keyboard-interactive; prompts are relayed as `prompt` messages. */
  z.object({ method: z.literal('keyboard-interactive') }),
]);
export type SshAuth = z.infer<typeof SshAuthSchema>;

export const SshTargetSchema = z.object({
  host: HostNameSchema,
  port: PortSchema.default(22),
  username: z.string().min(1, 'is required').max(255, 'must be at most 255 characters'),
});
export type SshTarget = z.infer<typeof SshTargetSchema>;

/**
 * Names the client's input stream into a terminal: a random id the client keeps (in memory) for
 * as long as it shows that terminal, across reconnects. The client numbers the bytes of its binary
 * input frames in that stream from 0; `ready` says how many the terminal has taken, and the
 * client resends only the rest. A keystroke is then never lost nor typed twice by a reconnect,
 * even when the broker itself restarted.
 */
export const InputStreamSchema = z.object({ stream: z.string().min(8).max(64) });

export const OpenMessageSchema = z
  .object({
    type: z.literal('open'),
    /** Either a target, or a saved profile id (its stored credentials are used). */
    target: SshTargetSchema.optional(),
    profileId: z.string().min(1).max(200).optional(),
    auth: SshAuthSchema.optional(),
    cols,
    rows,
    /** Optional label shown in terminal lists. */
    title: z.string().max(200).optional(),
    /** Lines of scrollback the client keeps; the broker's default (1,000) if omitted. */
    scrollback: scrollback.optional(),
    /** The client's input stream (see InputStreamSchema); input after `ready` starts at 0. */
    input: InputStreamSchema.optional(),
  })
  .refine(
    (m) => (m.target ? 1 : 0) + (m.profileId ? 1 : 0) === 1,
    'exactly one of target or profileId is required',
  );
export type OpenMessage = z.input<typeof OpenMessageSchema>;

export const AttachMessageSchema = z.object({
  type: z.literal('attach'),
  terminalId: z.uuid(),
  /** Offset of the next byte the client needs. Omit for a fresh client (→ snapshot). */
  resumeFrom: offset.optional(),
  /** Sent so the terminal is resized to the new viewer; omitted keeps the current size. */
  cols: cols.optional(),
  rows: rows.optional(),
  /**
   * Lines of scrollback the client keeps: a snapshot carries at most this many, and a terminal
   * that kept fewer keeps this many from now on (lines already gone do not come back).
   */
  scrollback: scrollback.optional(),
  /** The client's input stream; `ready` answers how much of it the terminal has taken. */
  input: InputStreamSchema.optional(),
});
export type AttachMessage = z.infer<typeof AttachMessageSchema>;

export const ResizeMessageSchema = z.object({ type: z.literal('resize'), cols, rows });
/** Cumulative: the offset just past the last byte the client has processed (rendered). */
export const AckMessageSchema = z.object({ type: z.literal('ack'), offset });
export const HostKeyDecisionMessageSchema = z.object({
  type: z.literal('hostkey_decision'),
  accept: z.boolean(),
});
export const PromptResponseMessageSchema = z.object({
  type: z.literal('prompt_response'),
  responses: z.array(z.string().max(4096)).max(16),
});
export const PingMessageSchema = z.object({ type: z.literal('ping'), t: z.number().optional() });
/** End the attached terminal (closing the socket only detaches). */
export const TerminateMessageSchema = z.object({ type: z.literal('terminate') });

export const ClientMessageSchema = z.discriminatedUnion('type', [
  AuthMessageSchema,
  OpenMessageSchema,
  AttachMessageSchema,
  ResizeMessageSchema,
  AckMessageSchema,
  HostKeyDecisionMessageSchema,
  PromptResponseMessageSchema,
  PingMessageSchema,
  TerminateMessageSchema,
]);
export type ClientMessage = z.input<typeof ClientMessageSchema>;
export type ParsedClientMessage = z.infer<typeof ClientMessageSchema>;

// ── server → client ──────────────────────────────────────────────────────────

export const AuthenticatedMessageSchema = z.object({
  type: z.literal('authenticated'),
  protocolVersion: z.number().int(),
  userId: z.uuid(),
  /** Largest text or binary frame the broker accepts from this client. */
  maxMessageBytes: z.number().int(),
  /** Ack at least this often (bytes) or output pauses. */
  ackWindowBytes: z.number().int(),
  heartbeatIntervalMs: z.number().int(),
  /**
   * Input flow control: keep at most this many input bytes sent but not yet confirmed by an
   * `input_ack`. The broker never drops input; a client that sends beyond the window is slowed
   * by TCP instead (the broker stops reading its socket), which also holds back its control
   * messages, so pace to the window. Absent from brokers before input flow control.
   */
  inputWindowBytes: z.number().int().positive().optional(),
  /** Most lines of scrollback the broker keeps for a terminal (`open`/`attach` `scrollback`). */
  maxScrollback: z.number().int().nonnegative().optional(),
});

export const ReadyMessageSchema = z.object({
  type: z.literal('ready'),
  terminalId: z.uuid(),
  /** The binary frames that follow start at this output offset. */
  offset,
  cols,
  rows,
  host: z.string(),
  port: z.number().int(),
  username: z.string(),
  /** true when the missing bytes are replayed from the ring (no snapshot was sent). */
  replay: z.boolean(),
  /**
   * When `open`/`attach` named an input stream: the bytes of it the terminal has taken. The
   * client resends its input from this stream offset on, and `input_ack` offsets on this socket
   * are stream offsets too. Absent from brokers before input streams.
   */
  input: z.object({ stream: z.string(), applied: offset }).optional(),
});

/** A serialized screen (escape sequences for @xterm/xterm) representing output up to `offset`. */
export const SnapshotMessageSchema = z.object({
  type: z.literal('snapshot'),
  terminalId: z.uuid(),
  offset,
  cols,
  rows,
  data: z.string(),
});

export const HostKeyPromptMessageSchema = z.object({
  type: z.literal('hostkey_prompt'),
  host: z.string(),
  port: z.number().int(),
  keyType: z.string(),
  /** As OpenSSH prints it: `SHA256:` + unpadded base64. */
  fingerprint: z.string(),
});

export const PromptMessageSchema = z.object({
  type: z.literal('prompt'),
  name: z.string(),
  instructions: z.string(),
  prompts: z.array(z.object({ prompt: z.string(), echo: z.boolean() })),
  /** Which host and account are asking (brokers since 0.12 send them). */
  host: z.string().optional(),
  port: z.number().int().optional(),
  username: z.string().optional(),
});

export const ExitMessageSchema = z.object({
  type: z.literal('exit'),
  terminalId: z.uuid(),
  code: z.number().int().nullable(),
  signal: z.string().nullable(),
  reason: z.string(),
});

export const ErrorMessageSchema = z.object({
  type: z.literal('error'),
  code: z.string(),
  message: z.string(),
  /** For HOSTKEY_CHANGED: the stored and presented fingerprints. */
  details: z.record(z.string(), z.string()).optional(),
});

/**
 * Input flow control: input up to `offset` has been written to the SSH channel. Cumulative; sent
 * as input is applied, not for every keystroke (at least every 16 KiB, and once the backlog is
 * empty). The offset is in the client's input stream when `ready` carried `input`, else it counts
 * the binary frames received on this socket from its first.
 */
export const InputAckMessageSchema = z.object({ type: z.literal('input_ack'), offset });

export const PongMessageSchema = z.object({ type: z.literal('pong'), t: z.number().optional() });

/**
 * Something the user should know about the attached terminal that is not an error; the terminal
 * carries on. `code` `HOST_DRAINING`: the node's terminal host was upgraded and this terminal
 * stays on the previous one, which ends it at `endsAt` (epoch ms) if it is still running then.
 * Clients show `message`; ones that do not know a code may ignore it.
 */
export const NoticeMessageSchema = z.object({
  type: z.literal('notice'),
  terminalId: z.uuid(),
  code: z.string(),
  message: z.string(),
  endsAt: z.number().nullable().optional(),
});

/** Sent just before the broker closes this socket because the web session was replaced. */
export const ReplacedMessageSchema = z.object({ type: z.literal('replaced'), reason: z.string() });

export const ServerMessageSchema = z.discriminatedUnion('type', [
  AuthenticatedMessageSchema,
  ReadyMessageSchema,
  SnapshotMessageSchema,
  HostKeyPromptMessageSchema,
  PromptMessageSchema,
  ExitMessageSchema,
  ErrorMessageSchema,
  PongMessageSchema,
  ReplacedMessageSchema,
  NoticeMessageSchema,
  InputAckMessageSchema,
]);
export type ServerMessage = z.infer<typeof ServerMessageSchema>;
export type ServerMessageOf<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;
export type ClientMessageOf<T extends ParsedClientMessage['type']> = Extract<ClientMessage, { type: T }>;
