import {
  DEFAULT_USER_SETTINGS,
  EMPTY_WORKSPACE,
  type UpdateUserSettingsRequest,
  type UserSettings,
  type UserSettingsResponse,
  UserSettingsSchema,
  type Workspace,
  type WorkspaceResponse,
  WorkspaceSchema,
} from '@tether/protocol';
import { eq } from 'drizzle-orm';
import type { DbOrTx } from '../db/index.js';
import { userPreferences } from '../db/schema/index.js';

type SettingKey = keyof UserSettings;

/**
 * The stored fields that are still valid under today's schema: a field a newer release dropped,
 * or whose rules tightened, falls back to its default instead of failing the whole read.
 */
function validSettings(stored: Record<string, unknown>): Partial<UserSettings> {
  const out: Partial<Record<SettingKey, unknown>> = {};
  for (const [key, schema] of Object.entries(UserSettingsSchema.shape)) {
    if (!(key in stored)) continue;
    const parsed = schema.safeParse(stored[key]);
    if (parsed.success) out[key as SettingKey] = parsed.data;
  }
  return out as Partial<UserSettings>;
}

function settingsResponse(stored: Record<string, unknown>): UserSettingsResponse {
  const custom = validSettings(stored);
  return { settings: { ...DEFAULT_USER_SETTINGS, ...custom }, custom: Object.keys(custom) };
}

/** Per-user terminal settings and workspace layout (one row per user, created on first write). */
export function createPreferencesRepo(db: DbOrTx) {
  async function row(userId: string) {
    const [r] = await db.select().from(userPreferences).where(eq(userPreferences.userId, userId)).limit(1);
    return r;
  }

  return {
    async settings(userId: string): Promise<UserSettingsResponse> {
      return settingsResponse((await row(userId))?.settings ?? {});
    },

    /** Applies a change (null: back to the default) in one statement, so two changes never lose one. */
    async updateSettings(userId: string, change: UpdateUserSettingsRequest): Promise<UserSettingsResponse> {
      const set: Record<string, unknown> = {};
      const reset: string[] = [];
      for (const [k, v] of Object.entries(change)) {
        if (v === undefined) continue;
        if (v === null) reset.push(k);
        else set[k] = v;
      }
      return db.transaction(async (tx) => {
        await tx
          .insert(userPreferences)
          .values({ userId, settings: {} })
          .onConflictDoNothing({ target: userPreferences.userId });
        const [current] = await tx
          .select({ settings: userPreferences.settings })
          .from(userPreferences)
          .where(eq(userPreferences.userId, userId))
          .for('update');
        const next: Record<string, unknown> = { ...validSettings(current?.settings ?? {}), ...set };
        for (const k of reset) delete next[k];
        await tx
          .update(userPreferences)
          .set({ settings: next, settingsUpdatedAt: new Date() })
          .where(eq(userPreferences.userId, userId));
        return settingsResponse(next);
      });
    },

    async workspace(userId: string): Promise<WorkspaceResponse> {
      const r = await row(userId);
      // A layout stored by an older release that no longer parses starts empty rather than failing.
      const parsed = r?.workspace ? WorkspaceSchema.safeParse(r.workspace) : null;
      return {
        workspace: parsed?.success ? parsed.data : EMPTY_WORKSPACE,
        updatedAt: parsed?.success ? (r?.workspaceUpdatedAt?.toISOString() ?? null) : null,
      };
    },

    async saveWorkspace(userId: string, workspace: Workspace): Promise<WorkspaceResponse> {
      const now = new Date();
      const value = workspace as unknown as Record<string, unknown>;
      await db
        .insert(userPreferences)
        .values({ userId, workspace: value, workspaceUpdatedAt: now })
        .onConflictDoUpdate({
          target: userPreferences.userId,
          set: { workspace: value, workspaceUpdatedAt: now },
        });
      return { workspace, updatedAt: now.toISOString() };
    },
  };
}
