import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ErrorCode } from '@tether/protocol';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type BrokerProcess, startBroker, stopBrokers } from './broker-process.js';
import { ADMIN, Browser, buildTestApp, type TestApp } from './helpers.js';
import { HttpBrowser } from './http-browser.js';

const API_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Runs the command-line tool as an operator would, with the broker's environment. */
function cli(args: string[], env: Record<string, string>, stdin?: string) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
      cwd: API_ROOT,
      env: { PATH: process.env.PATH, NODE_ENV: 'production', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(stdin ?? '');
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const newPasswordOf = (stdout: string) => /New password \(shown once\): (\S+)/.exec(stdout)?.[1];

describe('reset-password from the server shell, embedded database', () => {
  const brokers: BrokerProcess[] = [];
  afterAll(() => {
    stopBrokers(brokers);
  });

  it('refuses while the broker holds the database, then resets a lost admin password once it is stopped', async () => {
    const broker = await startBroker();
    brokers.push(broker);
    const env = { DATA_DIR: broker.dataDir };
    expect((await new HttpBrowser(`${broker.base}/`).login()).status).toBe(200);

    const busy = await cli(['reset-password', 'admin'], env);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/in use by process \d+/);

    broker.child.kill('SIGTERM');
    expect((await broker.exit).code).toBe(0);
    const reset = await cli(['reset-password', 'ADMIN'], env);
    expect(reset.stderr).toBe('');
    expect(reset.code).toBe(0);
    const password = newPasswordOf(reset.stdout);
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);

    const again = await startBroker(env);
    brokers.push(again);
    const b = new HttpBrowser(`${again.base}/`);
    expect((await b.login(ADMIN.username, ADMIN.password)).status).toBe(401);
    expect((await b.login(ADMIN.username, password)).status).toBe(200);
    // The password never reached the broker's log.
    expect(again.output()).not.toContain(password!);
  }, 120_000);

  it('will not create an embedded database where there is none', async () => {
    const dataDir = `/tmp/tether-cli-${process.pid}-empty`;
    const res = await cli(['reset-password', 'admin'], { DATA_DIR: dataDir });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/there is none/);
    rmSync(dataDir, { recursive: true, force: true });
  });
});

describe('reset-password from the server shell, PostgreSQL while the broker runs', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('ends the live session, lifts a lock and records the reset', async () => {
    t = await buildTestApp('postgres', { LOGIN_MAX_FAILURES: '2', LOGIN_RATE_LIMIT: '1000' });
    const env = { DATABASE_URL: t.config.database.url! };
    const signedIn = new Browser(t.app);
    expect((await signedIn.login()).statusCode).toBe(200);
    const attacker = new Browser(t.app);
    await attacker.login(ADMIN.username, 'wrong-password-1');
    await attacker.login(ADMIN.username, 'wrong-password-2');
    expect((await attacker.login()).statusCode).toBe(423);

    const chosen = 'A-new-Passw0rd-from-stdin';
    const res = await cli(['reset-password', 'admin', '--password-stdin'], env, `${chosen}\n`);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/1 web session\(s\) ended; sign-in lock lifted/);
    expect(res.stdout).not.toContain(chosen);

    const me = await signedIn.request('GET', '/api/auth/me');
    expect(me.statusCode).toBe(401);
    expect(me.json().error.code).toBe(ErrorCode.SESSION_REVOKED);
    expect((await new Browser(t.app).login(ADMIN.username, ADMIN.password)).statusCode).toBe(401);
    expect((await new Browser(t.app).login(ADMIN.username, chosen)).statusCode).toBe(200);
    const [event] = await t.app.audit.query({ limit: 1, type: 'admin.password_reset' });
    expect(event).toMatchObject({ target: 'admin', detail: { via: 'command line', sessionsEnded: 1 } });
  });

  it('answers an unknown user, a weak password and bad usage clearly', async () => {
    t = await buildTestApp('postgres');
    const env = { DATABASE_URL: t.config.database.url! };
    const unknown = await cli(['reset-password', 'nobody'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('error: there is no user "nobody" (admins: admin)\n');
    const weak = await cli(['reset-password', 'admin', '--password-stdin'], env, 'short\n');
    expect(weak.code).toBe(1);
    expect(weak.stderr).toMatch(/^error: the new password .*8/);
    const usage = await cli(['reset-password'], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^Usage: node dist\/cli.js reset-password/);
  });
});
