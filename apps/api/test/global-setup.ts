import { startPostgres, type TestPostgres } from '@tether/testkit';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL of the throwaway PostgreSQL cluster, or '' when none could be started. */
    postgresUrl: string;
    postgresSkipReason: string;
  }
}

/**
 * One real PostgreSQL cluster for the whole run (TEST_DATABASE_URL overrides it); each test
 * file creates its own database on it. In CI a missing server is a failure, not a skip.
 */
export default async function setup(project: TestProject) {
  let pg: TestPostgres | undefined;
  let url = process.env.TEST_DATABASE_URL ?? '';
  let reason = '';
  if (!url) {
    try {
      pg = await startPostgres();
      url = pg.url;
    } catch (err) {
      reason = (err as Error).message;
      if (process.env.CI) throw err;
    }
  }
  project.provide('postgresUrl', url);
  project.provide('postgresSkipReason', reason);
  return () => pg?.stop();
}
