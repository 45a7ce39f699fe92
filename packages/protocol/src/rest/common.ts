import { z } from 'zod';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, USERNAME_PATTERN } from '../limits.js';

export const RoleSchema = z.enum(['admin', 'user']);
export type Role = z.infer<typeof RoleSchema>;

export const Permission = {
  SSH_CONNECT: 'ssh:connect',
  PROFILES_WRITE: 'profiles:write',
  USERS_MANAGE: 'users:manage',
  SESSIONS_MANAGE: 'sessions:manage',
  TERMINALS_MANAGE: 'terminals:manage',
  SYSTEM_MONITOR: 'system:monitor',
  AUDIT_READ: 'audit:read',
  /** Instance-wide integration settings (the NetBox URL). */
  SETTINGS_MANAGE: 'settings:manage',
} as const;
export type Permission = (typeof Permission)[keyof typeof Permission];

/** Role → permissions. The broker checks permissions, never role names, per route and message. */
export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  admin: Object.values(Permission),
  user: [Permission.SSH_CONNECT, Permission.PROFILES_WRITE],
};

export const UsernameSchema = z
  .string()
  .trim()
  .regex(
    USERNAME_PATTERN,
    'must be 1-64 letters, digits, dot, dash or underscore, starting with a letter or digit',
  );

export const PasswordSchema = z
  .string()
  .min(PASSWORD_MIN_LENGTH, `must be at least ${PASSWORD_MIN_LENGTH} characters`)
  .max(PASSWORD_MAX_LENGTH, `must be at most ${PASSWORD_MAX_LENGTH} characters`);

export const IsoDateSchema = z.string();
export const UuidSchema = z.uuid();

export const UserSchema = z.object({
  id: z.uuid(),
  username: z.string(),
  role: RoleSchema,
  permissions: z.array(z.string()),
  createdAt: IsoDateSchema,
  passwordChangedAt: IsoDateSchema.nullable(),
});
export type User = z.infer<typeof UserSchema>;
