import { z } from 'zod';
import { IsoDateSchema, PasswordSchema, RoleSchema, UsernameSchema, UserSchema } from './common.js';
import { TerminalSummarySchema } from './terminals.js';

export const AdminUserSchema = UserSchema.extend({
  disabledAt: IsoDateSchema.nullable(),
  lockedUntil: IsoDateSchema.nullable(),
  failedLoginCount: z.number().int(),
  online: z.boolean(),
});
export type AdminUser = z.infer<typeof AdminUserSchema>;

export const AdminUserListSchema = z.object({ users: z.array(AdminUserSchema) });
export type AdminUserList = z.infer<typeof AdminUserListSchema>;

export const CreateUserRequestSchema = z.object({
  username: UsernameSchema,
  password: PasswordSchema,
  role: RoleSchema.default('user'),
});
export type CreateUserRequest = z.input<typeof CreateUserRequestSchema>;

/** PATCH /api/admin/users/:id: every field optional, at least one required. */
export const UpdateUserRequestSchema = z
  .object({
    role: RoleSchema.optional(),
    disabled: z.boolean().optional(),
    /** true clears a lockout and the failure counter. */
    unlock: z.literal(true).optional(),
  })
  .refine((v) => Object.values(v).some((x) => x !== undefined), 'at least one field is required');
export type UpdateUserRequest = z.infer<typeof UpdateUserRequestSchema>;

export const ResetPasswordRequestSchema = z.object({ password: PasswordSchema });
export type ResetPasswordRequest = z.infer<typeof ResetPasswordRequestSchema>;

export const AdminSessionSchema = z.object({
  id: z.uuid(),
  userId: z.uuid(),
  username: z.string(),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  createdAt: IsoDateSchema,
  lastActivityAt: IsoDateSchema,
  expiresAt: IsoDateSchema,
  current: z.boolean(),
});
export type AdminSession = z.infer<typeof AdminSessionSchema>;

export const AdminSessionListSchema = z.object({ sessions: z.array(AdminSessionSchema) });
export type AdminSessionList = z.infer<typeof AdminSessionListSchema>;

export const AuditEventSchema = z.object({
  id: z.string(),
  at: IsoDateSchema,
  userId: z.uuid().nullable(),
  username: z.string().nullable(),
  sessionId: z.uuid().nullable(),
  ip: z.string().nullable(),
  type: z.string(),
  target: z.string().nullable(),
  outcome: z.enum(['success', 'failure']),
  detail: z.record(z.string(), z.unknown()).nullable(),
});
export type AuditEvent = z.infer<typeof AuditEventSchema>;

export const AuditQuerySchema = z.object({
  userId: z.uuid().optional(),
  type: z.string().max(64).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  /** Opaque cursor from the previous page's `nextCursor`. */
  cursor: z.string().max(200).optional(),
});
export type AuditQuery = z.input<typeof AuditQuerySchema>;

export const AuditPageSchema = z.object({
  events: z.array(AuditEventSchema),
  nextCursor: z.string().nullable(),
});
export type AuditPage = z.infer<typeof AuditPageSchema>;

/** GET /api/admin/terminals: `live` (default) = connecting and running; `all` adds recent ended ones. */
export const AdminTerminalQuerySchema = z.object({
  status: z.enum(['live', 'all']).default('live'),
  userId: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(500),
});
export type AdminTerminalQuery = z.input<typeof AdminTerminalQuerySchema>;

export const AdminTerminalSchema = TerminalSummarySchema.extend({
  userId: z.uuid(),
  /** The owner's username (null when the account was deleted). */
  ownerUsername: z.string().nullable(),
  /** Broker process that holds the SSH session. */
  nodeId: z.string(),
  /** True when this broker process holds it (only then can it end it). */
  local: z.boolean(),
});
export type AdminTerminal = z.infer<typeof AdminTerminalSchema>;

export const AdminTerminalListSchema = z.object({ terminals: z.array(AdminTerminalSchema) });
export type AdminTerminalList = z.infer<typeof AdminTerminalListSchema>;

const BytesSchema = z.number().nonnegative();

/** A broker node sharing the database, as the membership table shows it (issue #16). */
export const ClusterNodeSchema = z.object({
  id: z.string(),
  /** `unreachable`: its heartbeat is older than NODE_UNREACHABLE_AFTER; `stopped`: it shut down. */
  state: z.enum(['up', 'draining', 'stopped', 'unreachable']),
  /** The node that answered this request. */
  local: z.boolean(),
  version: z.string(),
  peerUrl: z.string().nullable(),
  hostGeneration: z.string().nullable(),
  startedAt: IsoDateSchema,
  heartbeatAt: IsoDateSchema,
  heartbeatAgeMs: z.number().nonnegative(),
});
export type ClusterNode = z.infer<typeof ClusterNodeSchema>;

/** GET /api/admin/status: one broker process, as it sees itself right now. */
export const AdminStatusSchema = z.object({
  version: z.string(),
  nodeId: z.string(),
  /** Every node sharing the database (just this one with the embedded database). */
  nodes: z.array(ClusterNodeSchema),
  hostname: z.string(),
  runtime: z.object({ node: z.string(), platform: z.string(), arch: z.string(), pid: z.number().int() }),
  startedAt: IsoDateSchema,
  uptimeSeconds: z.number(),
  systemUptimeSeconds: z.number(),
  database: z.object({
    driver: z.enum(['postgres', 'pglite']),
    status: z.enum(['ok', 'down']),
    latencyMs: z.number().optional(),
  }),
  connections: z.object({
    /** Open WebSocket connections (terminal sockets). */
    websockets: z.number().int(),
    /** Live SSH sessions (terminals not yet ended) on this node. */
    sshSessions: z.number().int(),
    limits: z.object({
      maxConnections: z.number().int(),
      maxTerminalsPerUser: z.number().int(),
      messageSizeLimit: z.number().int(),
      terminalBufferBytes: z.number().int(),
      terminalDetachedTimeoutMs: z.number().int(),
      heartbeatIntervalMs: z.number().int(),
      heartbeatTimeoutMs: z.number().int(),
    }),
  }),
  terminals: z.object({
    running: z.number().int(),
    /** Running with no socket attached. */
    detached: z.number().int(),
    /** Ended, kept a few minutes so a client can still read the final output. */
    ended: z.number().int(),
    /** Sockets attached to terminals. */
    viewers: z.number().int(),
    ringBytes: BytesSchema,
  }),
  /** null when the database could not be asked. */
  users: z
    .object({
      /** Distinct users with a live web session. */
      online: z.number().int(),
      liveSessions: z.number().int(),
      total: z.number().int(),
    })
    .nullable(),
  memory: z.object({
    rssBytes: BytesSchema,
    heapUsedBytes: BytesSchema,
    heapTotalBytes: BytesSchema,
    externalBytes: BytesSchema,
    systemTotalBytes: BytesSchema,
    systemFreeBytes: BytesSchema,
  }),
  cpu: z.object({
    cores: z.number().int(),
    model: z.string(),
    /** This process, percent of one core, over the last sampling interval. */
    processPercent: z.number(),
    /** Whole machine, percent of all cores, over the last sampling interval. */
    systemPercent: z.number(),
    /** 1, 5 and 15 minute load averages. */
    loadAverage: z.tuple([z.number(), z.number(), z.number()]),
    eventLoopLagMs: z.number(),
  }),
  /** The file system holding DATA_DIR; null when it cannot be read. */
  disk: z
    .object({
      path: z.string(),
      totalBytes: BytesSchema,
      freeBytes: BytesSchema,
      availableBytes: BytesSchema,
    })
    .nullable(),
  /** Per-interface counters since boot (Linux /proc/net/dev); empty elsewhere. */
  network: z.array(
    z.object({
      interface: z.string(),
      rxBytes: BytesSchema,
      txBytes: BytesSchema,
      rxPackets: BytesSchema,
      txPackets: BytesSchema,
      rxErrors: BytesSchema,
      txErrors: BytesSchema,
    }),
  ),
});
export type AdminStatus = z.infer<typeof AdminStatusSchema>;
