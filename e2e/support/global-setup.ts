import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FullConfig } from '@playwright/test';
import { REPO_ROOT, startBroker } from './server.ts';

export const STATE_FILE = join(REPO_ROOT, 'e2e/.state/broker.json');

/** Starts one broker for the whole run; tests read its URL and admin credentials from env. */
export default async function globalSetup(_config: FullConfig): Promise<() => Promise<void>> {
  const broker = await startBroker({ basePath: process.env.TETHER_E2E_BASE_PATH ?? '' });
  process.env.TETHER_E2E_BASE_URL = broker.baseURL;
  process.env.TETHER_E2E_ADMIN_USERNAME = broker.adminUsername;
  process.env.TETHER_E2E_ADMIN_PASSWORD = broker.adminPassword;
  process.env.TETHER_E2E_LOG_FILE = broker.logFile;
  mkdirSync(join(REPO_ROOT, 'e2e/.state'), { recursive: true });
  writeFileSync(
    STATE_FILE,
    JSON.stringify(
      { baseURL: broker.baseURL, adminUsername: broker.adminUsername, logFile: broker.logFile },
      null,
      2,
    ),
  );
  return async () => {
    await broker.stop();
  };
}
