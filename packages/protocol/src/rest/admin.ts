import { z } from 'zod';
import { IsoDateSchema, PasswordSchema, RoleSchema, UsernameSchema, UserSchema } from './common.js';

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
