import { DEFAULT_USER_SETTINGS, type UserSettings, type UserSettingsResponse } from '@tether/protocol';
import { useApiQuery } from './queries';

/**
 * The signed-in user's terminal settings (`GET /api/settings`), the defaults until they load.
 * One query for the whole app: the settings page changes it, every terminal follows.
 */
export function useUserSettings(): UserSettings {
  const q = useApiQuery<UserSettingsResponse>('settings');
  return q.data?.settings ?? DEFAULT_USER_SETTINGS;
}
