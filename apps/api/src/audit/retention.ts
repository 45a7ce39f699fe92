import type { AuditRepo } from './audit-repo.js';

const DAY_MS = 86_400_000;

export interface AuditRetentionLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
}

/**
 * AUDIT_RETENTION_DAYS: deletes audit events older than the retention window, once at start-up
 * and then every `intervalMs` (hourly). The timer never keeps the process alive; `stop()` waits
 * for a run in progress so the database is not closed under it.
 */
export function startAuditRetention(deps: {
  audit: Pick<AuditRepo, 'deleteOlderThan'>;
  retentionDays: number;
  log: AuditRetentionLogger;
  intervalMs?: number;
  now?: () => number;
}) {
  const now = deps.now ?? Date.now;
  let running: Promise<number> | null = null;

  async function runOnce(): Promise<number> {
    const cutoff = new Date(now() - deps.retentionDays * DAY_MS);
    const deleted = await deps.audit.deleteOlderThan(cutoff);
    if (deleted > 0) deps.log.info({ deleted, cutoff: cutoff.toISOString() }, 'audit retention');
    return deleted;
  }

  function run(): Promise<number> {
    running ??= runOnce()
      .catch((err) => {
        deps.log.warn({ err: (err as Error).message }, 'audit retention failed');
        return 0;
      })
      .finally(() => {
        running = null;
      });
    return running;
  }

  void run();
  const timer = setInterval(() => void run(), deps.intervalMs ?? 3_600_000);
  timer.unref();

  return {
    /** Runs the deletion now (or joins the run in progress); resolves to the rows deleted. */
    run,
    async stop(): Promise<void> {
      clearInterval(timer);
      await running;
    },
  };
}
