import { z } from 'zod';
import { PASSWORD_MAX_LENGTH } from '../limits.js';
import { IsoDateSchema, PasswordSchema, UsernameSchema, UserSchema } from './common.js';

/**
 * Login input. The password is only length-capped here (not policy-checked) so that an
 * account created under an older policy can still sign in; oversized input is rejected
 * before any hashing work is done.
 */
export const LoginRequestSchema = z.object({
  username: z.string().trim().min(1, 'is required').max(64),
  password: z.string().min(1, 'is required').max(PASSWORD_MAX_LENGTH),
});
export type LoginRequest = z.infer<typeof LoginRequestSchema>;

export const LoginResponseSchema = z.object({
  token: z.string(),
  /** When the access token expires (ISO 8601). Refresh before then. */
  expiresAt: IsoDateSchema,
  user: UserSchema,
});
export type LoginResponse = z.infer<typeof LoginResponseSchema>;

export const RefreshResponseSchema = LoginResponseSchema;
export type RefreshResponse = LoginResponse;

export const RegisterRequestSchema = z.object({ username: UsernameSchema, password: PasswordSchema });
export type RegisterRequest = z.infer<typeof RegisterRequestSchema>;

export const AuthStatusSchema = z.discriminatedUnion('authenticated', [
  z.object({ authenticated: z.literal(false) }),
  z.object({
    authenticated: z.literal(true),
    user: UserSchema,
    session: z.object({ id: z.uuid(), idleExpiresAt: IsoDateSchema, absoluteExpiresAt: IsoDateSchema }),
  }),
]);
export type AuthStatus = z.infer<typeof AuthStatusSchema>;

export const MeResponseSchema = z.object({ user: UserSchema });
export type MeResponse = z.infer<typeof MeResponseSchema>;

export const ChangePasswordRequestSchema = z.object({
  currentPassword: z.string().min(1, 'is required').max(PASSWORD_MAX_LENGTH),
  newPassword: PasswordSchema,
});
export type ChangePasswordRequest = z.infer<typeof ChangePasswordRequestSchema>;

export const HealthResponseSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  version: z.string(),
  uptimeSeconds: z.number(),
  database: z.object({
    status: z.enum(['ok', 'down']),
    driver: z.enum(['postgres', 'pglite']),
    latencyMs: z.number().optional(),
  }),
});
export type HealthResponse = z.infer<typeof HealthResponseSchema>;
