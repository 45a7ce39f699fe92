import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * A real OpenSSH `sshd` on loopback for integration tests (DESIGN §10: no mocked sshd).
 *
 * Each harness gets its own temp dir (config, host key, client keys, authorized_keys), its own
 * free loopback ports and its own sshd process tree, so harnesses never interfere with each
 * other. The only shared, global state is the test system user (created idempotently, with a
 * fixed password) and the privilege-separation dir `/run/sshd`.
 */

const run = promisify(execFile);

export const SSHD_PATH = '/usr/sbin/sshd';
export const DEFAULT_TEST_USER = 'tether-test';
/** Fixed, so concurrent harnesses (one per vitest worker) agree on it. Test-only account. */
export const DEFAULT_TEST_PASSWORD = 'tether-test-Pa55word';

export class SshdUnavailableError extends Error {
  override readonly name = 'SshdUnavailableError';
}

/**
 * Why a real sshd cannot be started here, or null when it can. Tests use this to skip with a
 * reason: `describe.skipIf(sshdSkipReason())(...)`.
 */
export function sshdSkipReason(): string | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return 'the sshd harness needs root (it creates a system user and runs sshd on loopback)';
  }
  if (!existsSync(SSHD_PATH)) return `${SSHD_PATH} is missing (apt-get install openssh-server)`;
  for (const tool of ['/usr/bin/ssh-keygen', '/usr/sbin/useradd', '/usr/sbin/chpasswd']) {
    if (!existsSync(tool)) return `${tool} is missing`;
  }
  return null;
}

export interface SshdHarnessOptions {
  username?: string;
  password?: string;
  /** Extra sshd_config lines appended to the global section (before the Match block). */
  extraConfig?: string[];
}

export interface SshdHarness {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Port where `AuthenticationMethods publickey,password` is required. */
  readonly multiStepPort: number;
  readonly username: string;
  readonly password: string;
  readonly keys: {
    /** OpenSSH-format ed25519 key protected by `passphrase`. */
    encrypted: { privateKey: string; passphrase: string; publicKey: string };
    plain: { privateKey: string; publicKey: string };
  };
  /** Current host key fingerprint as `ssh-keygen -lf` prints it: `SHA256:…`. */
  readonly hostKeyFingerprint: string;
  readonly hostKeyType: 'ssh-ed25519';
  /** Restarts sshd on the same ports with a brand-new host key; resolves to its fingerprint. */
  regenerateHostKey(): Promise<string>;
  /** Restarts sshd (same key, same ports), e.g. after kill(). */
  restart(): Promise<void>;
  /**
   * SIGKILLs the listening sshd only. Established sessions keep running: OpenSSH forks a
   * separate, setsid()'d process per connection.
   */
  kill(): Promise<void>;
  /** SIGKILLs the listener and every per-connection process (monitors, shells): "sshd died". */
  killAll(): Promise<void>;
  /**
   * SIGSTOPs every per-connection process (not the listener): established sessions go silent
   * while their TCP connections stay up, as in a network partition without a FIN. Returns a
   * function that SIGCONTs them again.
   */
  freezeSessions(): Promise<() => void>;
  /** Kills everything this harness started and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Last lines the current sshd process wrote to stderr (sshd -e), for diagnosing failing tests. */
  logs(): string;
}

export async function startSshd(options: SshdHarnessOptions = {}): Promise<SshdHarness> {
  const reason = sshdSkipReason();
  if (reason) throw new SshdUnavailableError(reason);

  const username = options.username ?? DEFAULT_TEST_USER;
  const password = options.password ?? DEFAULT_TEST_PASSWORD;
  if (!/^[a-z_][a-z0-9_-]{0,30}$/.test(username)) throw new Error(`invalid test username: ${username}`);

  await ensureTestUser(username, password);
  // sshd refuses to start without its privilege-separation directory.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });

  const dir = await mkdtemp(join(tmpdir(), 'tether-sshd-'));
  // sshd reads authorized_keys as the target user, so the dir must be traversable; the
  // secrets inside are 0600 root-owned.
  await chmod(dir, 0o755);

  try {
    const passphrase = 'tether-test-key-passphrase';
    const encrypted = await generateKey(join(dir, 'id_encrypted'), passphrase);
    const plain = await generateKey(join(dir, 'id_plain'), '');
    const authorizedKeys = join(dir, 'authorized_keys');
    await writeFile(authorizedKeys, `${encrypted.publicKey}\n${plain.publicKey}\n`, { mode: 0o644 });

    const hostKeyPath = join(dir, 'ssh_host_ed25519_key');
    let hostKeyFingerprint = await generateHostKey(hostKeyPath);

    const port = await freePort();
    let multiStepPort = await freePort();
    while (multiStepPort === port) multiStepPort = await freePort();

    const configPath = join(dir, 'sshd_config');
    await writeFile(
      configPath,
      sshdConfig({
        port,
        multiStepPort,
        hostKeyPath,
        authorizedKeys,
        username,
        dir,
        extra: options.extraConfig ?? [],
      }),
      { mode: 0o600 },
    );

    let proc: ChildProcess | null = null;
    let logBuf = '';
    let stopped = false;

    const start = async (): Promise<void> => {
      const child = spawn(SSHD_PATH, ['-D', '-e', '-f', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
      proc = child;
      // logs() describes the current sshd process only; readiness must not match the lines an
      // earlier process logged.
      logBuf = '';
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (chunk: string) => {
        if (proc === child) logBuf = (logBuf + chunk).slice(-16_384);
      });
      await waitForListening(child, [port, multiStepPort], () => logBuf);
    };

    const killListener = async (): Promise<void> => {
      const p = proc;
      proc = null;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
      p.kill('SIGKILL');
      await exited;
    };

    const killTree = async (): Promise<void> => {
      const p = proc;
      // Collect the per-connection processes while they are still children of the listener.
      const victims = p?.pid ? await descendants(p.pid) : [];
      await killListener();
      for (const pid of victims) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    };

    await start();

    const signalSessions = async (signal: NodeJS.Signals): Promise<number[]> => {
      const pids = proc?.pid ? await descendants(proc.pid) : [];
      for (const pid of pids) {
        try {
          process.kill(pid, signal);
        } catch {
          // already gone
        }
      }
      return pids;
    };

    const harness: SshdHarness = {
      host: '127.0.0.1',
      port,
      multiStepPort,
      username,
      password,
      keys: {
        encrypted: { privateKey: encrypted.privateKey, passphrase, publicKey: encrypted.publicKey },
        plain: { privateKey: plain.privateKey, publicKey: plain.publicKey },
      },
      get hostKeyFingerprint() {
        return hostKeyFingerprint;
      },
      hostKeyType: 'ssh-ed25519',
      async regenerateHostKey() {
        await killListener();
        await rm(hostKeyPath, { force: true });
        await rm(`${hostKeyPath}.pub`, { force: true });
        hostKeyFingerprint = await generateHostKey(hostKeyPath);
        await start();
        return hostKeyFingerprint;
      },
      async restart() {
        await killListener();
        await start();
      },
      kill: killListener,
      killAll: killTree,
      async freezeSessions() {
        const pids = await signalSessions('SIGSTOP');
        return () => {
          for (const pid of pids) {
            try {
              process.kill(pid, 'SIGCONT');
            } catch {
              // already gone
            }
          }
        };
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await killTree();
        await rm(dir, { recursive: true, force: true });
      },
      logs: () => logBuf,
    };
    return harness;
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

function sshdConfig(o: {
  port: number;
  multiStepPort: number;
  hostKeyPath: string;
  authorizedKeys: string;
  username: string;
  dir: string;
  extra: string[];
}): string {
  return [
    `ListenAddress 127.0.0.1:${o.port}`,
    `ListenAddress 127.0.0.1:${o.multiStepPort}`,
    `HostKey ${o.hostKeyPath}`,
    `PidFile ${join(o.dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${o.authorizedKeys}`,
    // The authorized_keys file lives in a root-owned temp dir under /tmp (mode 1777), which
    // StrictModes would reject; the file itself is root-owned and 0644.
    'StrictModes no',
    `AllowUsers ${o.username}`,
    'PermitRootLogin no',
    'PubkeyAuthentication yes',
    'PasswordAuthentication yes',
    'KbdInteractiveAuthentication yes',
    'UsePAM yes',
    'PermitEmptyPasswords no',
    'MaxAuthTries 10',
    'MaxStartups 100:30:200',
    'LoginGraceTime 60',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    'Banner none',
    'X11Forwarding no',
    'AllowTcpForwarding no',
    'AllowAgentForwarding no',
    'PermitUserEnvironment no',
    'ClientAliveInterval 0',
    'LogLevel VERBOSE',
    ...o.extra,
    `Match LocalPort ${o.multiStepPort}`,
    '  AuthenticationMethods publickey,password',
    '',
  ].join('\n');
}

async function ensureTestUser(username: string, password: string): Promise<void> {
  try {
    await run('/usr/bin/id', ['-u', username]);
  } catch {
    try {
      await run('/usr/sbin/useradd', ['-m', '-s', '/bin/bash', username]);
    } catch (err) {
      // Another worker may have created it concurrently.
      try {
        await run('/usr/bin/id', ['-u', username]);
      } catch {
        throw err;
      }
    }
  }
  await new Promise<void>((resolve, reject) => {
    const child = execFile('/usr/sbin/chpasswd', (err) => (err ? reject(err) : resolve()));
    child.stdin?.end(`${username}:${password}\n`);
  });
  await run('/usr/sbin/usermod', ['-s', '/bin/bash', username]);

  const { stdout } = await run('/usr/bin/getent', ['passwd', username]);
  const home = stdout.trim().split(':')[5];
  if (!home) throw new Error(`cannot find the home directory of ${username}`);
  // A deterministic, fast shell: a fixed prompt, no history file, nothing else.
  const bashrc = [
    '# written by @tether/testkit',
    "PS1='$ '",
    'unset PROMPT_COMMAND',
    'HISTFILE=',
    'export LANG=C.UTF-8',
    '',
  ].join('\n');
  await writeFile(join(home, '.bashrc'), bashrc);
  await writeFile(join(home, '.bash_profile'), '. ~/.bashrc\n');
  // Silences pam_motd/last-login banners on login shells.
  await writeFile(join(home, '.hushlogin'), '');
  // A vimrc disables defaults.vim and .viminfo writes, so vim's screen is predictable.
  await writeFile(join(home, '.vimrc'), 'set nocompatible\nset viminfo=\nset noswapfile\n');
  await run('/usr/bin/chown', ['-R', `${username}:`, home]);
}

async function generateKey(
  path: string,
  passphrase: string,
): Promise<{ privateKey: string; publicKey: string }> {
  await run('/usr/bin/ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    passphrase,
    '-C',
    'tether-test',
    '-f',
    path,
  ]);
  return {
    privateKey: await readFile(path, 'utf8'),
    publicKey: (await readFile(`${path}.pub`, 'utf8')).trim(),
  };
}

async function generateHostKey(path: string): Promise<string> {
  await run('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'tether-test-host', '-f', path]);
  const { stdout } = await run('/usr/bin/ssh-keygen', ['-l', '-E', 'sha256', '-f', `${path}.pub`]);
  const fingerprint = stdout.split(/\s+/)[1];
  if (!fingerprint?.startsWith('SHA256:')) throw new Error(`unexpected ssh-keygen -l output: ${stdout}`);
  return fingerprint;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForListening(child: ChildProcess, ports: number[], logs: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`sshd exited during start-up:\n${logs()}`);
    }
    const text = logs();
    if (ports.every((p) => text.includes(`Server listening on 127.0.0.1 port ${p}.`))) return;
    if (Date.now() > deadline) throw new Error(`sshd did not start listening in time:\n${text}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** All descendants of `pid`, read from /proc (no process-name matching). */
async function descendants(pid: number): Promise<number[]> {
  const parentOf = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // Field 4 (ppid) follows the parenthesised command name, which may contain spaces.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parentOf.set(Number(entry), Number(rest[1]));
    } catch {
      // process exited while scanning
    }
  }
  const found: number[] = [];
  const frontier = [pid];
  while (frontier.length > 0) {
    const parent = frontier.pop();
    for (const [child, ppid] of parentOf) {
      if (ppid === parent) {
        found.push(child);
        frontier.push(child);
      }
    }
  }
  return found;
}
