/**
 * `pnpm bench [--quick] [--only=bulk,echo,reattach,snapshot,scrollback,logins,many] [--database=pglite|postgres]
 *   [--no-build] [--profile]`
 *
 * Runs the built broker (`node apps/api/dist/server.js`, NODE_ENV=production) against a real
 * loopback OpenSSH sshd and compares it with raw OpenSSH / ssh2 / argon2 in the same run,
 * alternating broker and reference over several rounds. The broker's database is embedded PGlite
 * (the quick start's default) or, with `--database=postgres`, a throwaway PostgreSQL cluster on
 * loopback (the production deployment's). Prints a table and writes
 * bench-results/<timestamp>.json. `--profile` also writes a V8 CPU profile of every broker the run
 * starts to bench-results/profiles/ (open in Chrome DevTools or speedscope).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import {
  type SshdHarness,
  sshdSkipReason,
  startPostgres,
  startSshd,
  type TestPostgres,
} from '@tether/testkit';
import { ADMIN, type Broker, buildBroker, createUser, login, ROOT, startBroker } from './broker.ts';
import type { BenchContext, FigureResult, Metric } from './context.ts';
import { bulkFigure } from './figures/bulk.ts';
import { echoFigure } from './figures/echo.ts';
import { loginsFigure } from './figures/logins.ts';
import { manyFigure } from './figures/many.ts';
import { peerFigure } from './figures/peer.ts';
import { reattachFigure } from './figures/reattach.ts';
import { restartFigure } from './figures/restart.ts';
import { scrollbackFigure } from './figures/scrollback.ts';
import { snapshotFigure } from './figures/snapshot.ts';

const FIGURES = {
  bulk: bulkFigure,
  echo: echoFigure,
  reattach: reattachFigure,
  snapshot: snapshotFigure,
  scrollback: scrollbackFigure,
  restart: restartFigure,
  logins: loginsFigure,
  many: manyFigure,
  peer: peerFigure,
} as const;
type FigureId = keyof typeof FIGURES;

function parseArgs(argv: string[]) {
  const quick = argv.includes('--quick');
  const noBuild = argv.includes('--no-build');
  const profile = argv.includes('--profile');
  const database = argv.find((a) => a.startsWith('--database='))?.slice('--database='.length) ?? 'pglite';
  if (database !== 'pglite' && database !== 'postgres')
    throw new Error(`unknown database "${database}" (pglite, postgres)`);
  const only = argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
  const ids = (only ? only.split(',') : Object.keys(FIGURES)) as FigureId[];
  for (const id of ids)
    if (!(id in FIGURES)) throw new Error(`unknown figure "${id}" (${Object.keys(FIGURES).join(', ')})`);
  // `many` runs last: it replaces the shared broker with its own.
  ids.sort((a, b) => Number(a === 'many') - Number(b === 'many'));
  return { quick, noBuild, profile, database: database as 'pglite' | 'postgres', ids };
}

const log = (line: string) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

function machine() {
  const cpus = os.cpus();
  let openssh = '';
  try {
    openssh = execFileSync('ssh', ['-V'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    openssh = String((err as { stderr?: string }).stderr ?? '').trim();
  }
  if (!openssh) openssh = execFileSync('sh', ['-c', 'ssh -V 2>&1'], { encoding: 'utf8' }).trim();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    openssh,
  };
}

function formatTable(metrics: Metric[]): string {
  const head = ['figure', 'metric', 'broker', 'reference', 'ratio', 'target', 'result'];
  const rows = metrics.map((m) => [
    m.figure,
    m.metric,
    m.broker === null ? '-' : `${m.broker} ${m.unit}`,
    m.reference === null ? '-' : `${m.reference} ${m.unit}`,
    m.ratio === null ? '-' : String(m.ratio),
    m.target,
    m.pass === null ? '' : m.pass ? 'PASS' : 'FAIL',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const skip = sshdSkipReason();
  if (skip) throw new Error(`cannot run the bench: ${skip}`);
  if (!args.noBuild) buildBroker(log);

  const tmpDir = mkdtempSync(join(os.tmpdir(), 'tether-bench-'));
  let sshd: SshdHarness | undefined;
  let broker: Broker | undefined;
  let postgres: TestPostgres | undefined;
  const cleanup = async () => {
    await broker?.stop().catch(() => {});
    await sshd?.stop().catch(() => {});
    postgres?.stop();
    if (process.env.BENCH_KEEP_TMP) log(`kept ${tmpDir}`);
    else rmSync(tmpDir, { recursive: true, force: true });
  };
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log('interrupted: cleaning up');
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const started = new Date();
  // A shared machine is the usual source of surprising tails: record how busy it was.
  const loadAtStart = os.loadavg();
  const results: FigureResult[] = [];
  const failures: Array<{ figure: string; error: string }> = [];
  try {
    log(`mode: ${args.quick ? 'quick' : 'full'}; figures: ${args.ids.join(', ')}`);
    sshd = await startSshd();
    const keyPath = join(tmpDir, 'id_plain');
    writeFileSync(keyPath, sshd.keys.plain.privateKey, { mode: 0o600 });
    const nodeArgs = [
      ...(args.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(ROOT, 'bench-results', 'profiles')}`] : []),
      // e.g. BENCH_NODE_ARGS=--trace-gc: extra flags for every broker (each one's output goes to
      // broker-<id>.log in the run's temporary directory, kept with BENCH_KEEP_TMP=1).
      ...(process.env.BENCH_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? []),
    ];
    if (args.database === 'postgres') postgres = await startPostgres();
    let brokers = 0;
    // e.g. BENCH_BROKER_ENV="WS_MESSAGE_RATE=1000 LOG_LEVEL=debug": settings for every broker (an A/B of one).
    const brokerEnv = Object.fromEntries(
      (process.env.BENCH_BROKER_ENV?.split(/\s+/).filter(Boolean) ?? []).map((kv) => {
        const at = kv.indexOf('=');
        if (at < 1) throw new Error(`BENCH_BROKER_ENV: expected NAME=value, got ${kv}`);
        return [kv.slice(0, at), kv.slice(at + 1)];
      }),
    );
    const newBroker = (extra: Record<string, string> = {}) => {
      // Each broker its own empty database, as each gets its own PGlite data directory.
      const env: Record<string, string> = postgres
        ? { ...brokerEnv, DATABASE_URL: postgres.createDatabase(`bench_${++brokers}`), ...extra }
        : { ...brokerEnv, ...extra };
      return startBroker({ tmpDir, nodeArgs, env });
    };
    broker = await newBroker();
    log(`broker pid ${broker.pid} at ${broker.url} (${args.database}); sshd on 127.0.0.1:${sshd.port}`);
    const admin = await login(broker.url, ADMIN.username, ADMIN.password);
    await createUser(broker.url, admin, 'bench-term', 'bench-term-password');
    const user = await login(broker.url, 'bench-term', 'bench-term-password');
    const ctx: BenchContext = {
      quick: args.quick,
      tmpDir,
      sshd,
      keyPath,
      broker,
      admin,
      user,
      database: args.database,
      startBroker: newBroker,
      log,
    };

    for (const id of args.ids) {
      if (id === 'many') {
        // Its own brokers: stop the shared one so it does not share the CPU.
        await broker?.stop();
        broker = undefined;
      }
      log(`figure: ${id}`);
      const t0 = performance.now();
      try {
        const r = await FIGURES[id](ctx);
        results.push(r);
        log(`figure ${id} done in ${Math.round((performance.now() - t0) / 1000)} s`);
      } catch (err) {
        log(`figure ${id} FAILED: ${(err as Error).stack ?? err}`);
        failures.push({ figure: id, error: String((err as Error).message ?? err) });
      }
    }
  } finally {
    await cleanup();
  }

  const metrics = results.flatMap((r) => r.metrics);
  const table = formatTable(metrics);
  process.stdout.write(`\n${table}\n`);
  process.stdout.write(
    `\ndatabase: ${args.database}; load average (1 min) at start ${loadAtStart[0]?.toFixed(2)}, at end ${os.loadavg()[0]?.toFixed(2)} on ${os.cpus().length} cores\n`,
  );
  if (failures.length)
    process.stdout.write(`\nfailed figures: ${failures.map((f) => `${f.figure} (${f.error})`).join('; ')}\n`);

  const outDir = join(ROOT, 'bench-results');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${started.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        startedAt: started.toISOString(),
        durationSeconds: Math.round((Date.now() - started.getTime()) / 1000),
        mode: args.quick ? 'quick' : 'full',
        database: args.database,
        command: `pnpm bench ${process.argv.slice(2).join(' ')}`.trim(),
        machine: machine(),
        loadAverage: {
          atStart: loadAtStart.map((v) => Math.round(v * 100) / 100),
          atEnd: os.loadavg().map((v) => Math.round(v * 100) / 100),
        },
        metrics,
        figures: Object.fromEntries(results.map((r) => [r.id, r.detail])),
        failures,
      },
      null,
      2,
    )}\n`,
  );
  process.stdout.write(`\nresults: ${file}\n`);
  process.exitCode = failures.length ? 1 : 0;
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
