import { createHash } from 'node:crypto';
import { Socket } from 'node:net';
import { ErrorCode, type SshAuth } from '@tether/protocol';
import ssh2, { type AnyAuthMethod, type ClientChannel, type ParsedKey, type Prompt } from 'ssh2';
import type { TargetPolicy } from './target-policy.js';
import { TerminalError } from './terminal-error.js';

const { Client, utils } = ssh2;
export type SshClient = InstanceType<typeof Client>;

export interface HostKeyInfo {
  /** e.g. `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`. */
  keyType: string;
  /** `SHA256:` + unpadded base64 of sha256(key blob), exactly as OpenSSH prints it. */
  fingerprint: string;
}

/**
 * Trusted host keys (the DB layer implements it per user). Keyed by the host as the user typed
 * it (lower-cased) and the port, like OpenSSH's known_hosts, not by the resolved address.
 */
export interface KnownHostsStore {
  lookup(host: string, port: number): Promise<HostKeyInfo | null> | HostKeyInfo | null;
  remember(host: string, port: number, key: HostKeyInfo): Promise<void> | void;
}

export interface KeyboardInteractivePrompt {
  prompt: string;
  echo: boolean;
}

/**
 * Questions only the user can answer, relayed to the browser (hostkey_prompt / prompt). Both
 * receive a signal that aborts when the attempt is abandoned (timeout, socket closed), so the
 * caller can drop a pending dialog.
 */
export interface ConnectInteraction {
  confirmHostKey(info: HostKeyInfo & { host: string; port: number }, signal: AbortSignal): Promise<boolean>;
  prompt(
    name: string,
    instructions: string,
    prompts: KeyboardInteractivePrompt[],
    signal: AbortSignal,
    /** Who is asking (the broker adds it so the user knows which host and account). */
    asking?: { host: string; port: number; username: string },
  ): Promise<string[]>;
}

export interface SshConnectOptions {
  target: { host: string; port: number; username: string };
  auth: SshAuth;
  policy: TargetPolicy;
  knownHosts: KnownHostsStore;
  interaction: ConnectInteraction;
  /** CONNECTION_TIMEOUT: TCP connect + SSH handshake + authentication, excluding user think time. */
  connectTimeoutMs: number;
  /** How long a host-key or keyboard-interactive question may stay unanswered. */
  interactionTimeoutMs?: number;
  /** SSH-level keepalives, so a silent network partition is detected (DESIGN §7). */
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  signal?: AbortSignal;
  /** Structured debug hook; receives no secrets. */
  onEvent?: (event: string, details?: Record<string, unknown>) => void;
}

export interface SshConnection {
  client: SshClient;
  /** The IP actually connected to (after the target policy). */
  address: string;
  hostKey: HostKeyInfo;
}

/** OpenSSH-style fingerprint and key type of a raw host key blob. */
export function hostKeyInfo(keyBlob: Buffer): HostKeyInfo {
  const typeLen = keyBlob.length >= 4 ? keyBlob.readUInt32BE(0) : 0;
  const keyType =
    typeLen > 0 && typeLen <= keyBlob.length - 4 ? keyBlob.toString('latin1', 4, 4 + typeLen) : 'unknown';
  const fingerprint = `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
  return { keyType, fingerprint };
}

/**
 * Parses a private key up front: ssh2 silently skips a key it cannot parse and would report
 * a generic auth failure, while the user needs to hear "wrong passphrase".
 */
export function parsePrivateKey(privateKey: string, passphrase?: string): ParsedKey {
  let parsed: ParsedKey | ParsedKey[] | Error;
  try {
    parsed = utils.parseKey(privateKey, passphrase === '' ? undefined : passphrase) as
      | ParsedKey
      | ParsedKey[]
      | Error;
  } catch {
    parsed = new Error('unparsable');
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) {
    const reason = key instanceof Error ? key.message : '';
    if (/passphrase|decrypt|encrypted/i.test(reason)) {
      throw new TerminalError(
        ErrorCode.KEY_INVALID,
        passphrase
          ? 'The key passphrase is wrong.'
          : 'The private key is encrypted: a passphrase is required.',
      );
    }
    throw new TerminalError(
      ErrorCode.KEY_INVALID,
      'The private key could not be read (unsupported or damaged key).',
    );
  }
  if (!key.isPrivateKey()) {
    throw new TerminalError(ErrorCode.KEY_INVALID, 'This is a public key; a private key is required.');
  }
  return key;
}

type Method = 'publickey' | 'password' | 'keyboard-interactive';

/**
 * Connects, verifies the host key, authenticates. Resolves once the server accepted the user;
 * every failure is a TerminalError with a protocol code and a message free of secrets.
 */
/**
 * ssh2's keepalive settings that make a silent peer dead after `intervalMs × countMax`, as
 * documented. ssh2 sends a ping every `keepaliveInterval` after the last answer and gives up at
 * the tick after its `keepaliveCountMax`-th unanswered ping, i.e. after
 * `(keepaliveCountMax + 1) × keepaliveInterval`: with the configured values, one interval late
 * (2 s × 2 was detected at 5.9 s). Pinging `countMax` times within the window keeps every
 * documented keepalive and puts the deadline exactly at `intervalMs × countMax`.
 */
export function keepalive(intervalMs: number, countMax: number) {
  return {
    keepaliveInterval: Math.max(1, Math.round((intervalMs * countMax) / (countMax + 1))),
    keepaliveCountMax: countMax,
  };
}

export async function connectSsh(options: SshConnectOptions): Promise<SshConnection> {
  const { target, auth, interaction } = options;
  const hostId = target.host.trim().toLowerCase();
  const interactionTimeoutMs = options.interactionTimeoutMs ?? 120_000;
  const emit = options.onEvent ?? (() => {});

  // Key problems are the user's to fix and need no network round trip.
  const key = auth.method === 'publickey' ? parsePrivateKey(auth.privateKey, auth.passphrase) : undefined;

  if (options.signal?.aborted) throw cancelled();
  const resolved = await options.policy.resolve(target.host);
  if (options.signal?.aborted) throw cancelled();

  const client = new Client();
  const attempt = new AbortController();

  return new Promise<SshConnection>((resolve, reject) => {
    let settled = false;
    let failure: TerminalError | null = null;
    let acceptedHostKey: HostKeyInfo | null = null;
    let rememberOnHandshake = false;

    // Our own connect timer instead of ssh2's readyTimeout: readyTimeout keeps running while the
    // user reads a host-key fingerprint or types an OTP, so it would fire mid-dialog.
    let timer: NodeJS.Timeout | null = null;
    let remainingMs = options.connectTimeoutMs;
    let startedAt = 0;
    const startTimer = () => {
      startedAt = Date.now();
      timer = setTimeout(
        () => fail(new TerminalError(ErrorCode.CONNECTION_TIMEOUT, 'The SSH server did not answer in time.')),
        Math.max(remainingMs, 1),
      );
    };
    const suspendTimer = () => {
      if (timer) clearTimeout(timer);
      timer = null;
      remainingMs -= Date.now() - startedAt;
    };

    const waitForUser = async <T>(ask: (signal: AbortSignal) => Promise<T>): Promise<T> => {
      suspendTimer();
      const userTimer = setTimeout(() => {
        fail(new TerminalError(ErrorCode.CONNECTION_TIMEOUT, 'No answer was given in time.'));
      }, interactionTimeoutMs);
      try {
        return await ask(attempt.signal);
      } finally {
        clearTimeout(userTimer);
        if (!settled) startTimer();
      }
    };

    const cleanup = () => {
      if (timer) clearTimeout(timer);
      timer = null;
      options.signal?.removeEventListener('abort', onAbort);
    };

    const fail = (err: TerminalError) => {
      failure ??= err;
      if (settled) return;
      settled = true;
      cleanup();
      attempt.abort();
      client.removeAllListeners('ready');
      // Keep an error listener: ssh2 may still emit while tearing down.
      client.on('error', () => {});
      client.end();
      client.destroy();
      emit('connect_failed', { code: err.code });
      reject(err);
    };

    const onAbort = () => fail(cancelled());
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const hostVerifier = (keyBlob: Buffer, verify: (valid: boolean) => void): void => {
      const presented = hostKeyInfo(keyBlob);
      void (async () => {
        try {
          const known = await options.knownHosts.lookup(hostId, target.port);
          if (known) {
            if (known.fingerprint === presented.fingerprint && known.keyType === presented.keyType) {
              acceptedHostKey = presented;
              return verify(true);
            }
            // Refused during key exchange, so no credential has been sent to this server.
            failure ??= new TerminalError(
              ErrorCode.HOSTKEY_CHANGED,
              `The host key of ${target.host}:${target.port} has changed. This may be an attack (someone intercepting the connection) or the server was reinstalled. The connection was refused and no credentials were sent.`,
              {
                details: {
                  host: target.host,
                  port: String(target.port),
                  keyType: presented.keyType,
                  expectedKeyType: known.keyType,
                  expectedFingerprint: known.fingerprint,
                  presentedFingerprint: presented.fingerprint,
                },
              },
            );
            emit('hostkey_changed', { host: hostId, port: target.port });
            return verify(false);
          }
          const accepted = await waitForUser((signal) =>
            interaction.confirmHostKey({ host: target.host, port: target.port, ...presented }, signal),
          );
          if (settled) return verify(false);
          if (!accepted) {
            failure ??= new TerminalError(ErrorCode.HOSTKEY_REJECTED, 'The host key was not accepted.');
            return verify(false);
          }
          acceptedHostKey = presented;
          rememberOnHandshake = true;
          verify(true);
        } catch {
          failure ??= new TerminalError(ErrorCode.HOSTKEY_REJECTED, 'The host key could not be verified.');
          verify(false);
        }
      })();
    };

    const relayPrompts = (
      name: string,
      instructions: string,
      prompts: Prompt[],
      finish: (answers: string[]) => void,
    ): void => {
      const normalized = prompts.map((p) => ({ prompt: p.prompt, echo: p.echo === true }));
      // With password auth, answer a lone hidden "Password:" prompt ourselves (servers that only
      // offer keyboard-interactive via PAM); anything else (OTP, …) goes to the user.
      if (
        auth.method !== 'keyboard-interactive' &&
        passwordFor(auth) !== undefined &&
        normalized.length === 1 &&
        !normalized[0]?.echo &&
        /password/i.test(normalized[0]?.prompt ?? '') &&
        !usedPasswordForKbd
      ) {
        usedPasswordForKbd = true;
        finish([passwordFor(auth) ?? '']);
        return;
      }
      void waitForUser((signal) => interaction.prompt(name, instructions, normalized, signal)).then(
        (answers) => {
          if (!settled) finish(normalized.map((_, i) => answers[i] ?? ''));
        },
        () => fail(new TerminalError(ErrorCode.AUTH_FAILED, 'Authentication was cancelled.')),
      );
    };
    let usedPasswordForKbd = false;

    const priority: Method[] =
      auth.method === 'publickey'
        ? ['publickey', 'password', 'keyboard-interactive']
        : auth.method === 'password'
          ? ['password', 'keyboard-interactive']
          : ['keyboard-interactive'];
    const failed = new Set<Method>();
    let last: Method | null = null;

    /**
     * Walks the methods the server still accepts. After a partial success (e.g.
     * `AuthenticationMethods publickey,password`), the next required method follows; the
     * password for a second step comes from the credentials or, if absent, is asked for.
     */
    const authHandler = (
      methodsLeft: string[] | null,
      partialSuccess: boolean | null,
      next: (method: AnyAuthMethod | false) => void,
    ): void => {
      if (last && partialSuccess !== true) failed.add(last);
      const allowed = methodsLeft ?? priority;
      const method = priority.find(
        (m) =>
          allowed.includes(m) &&
          !failed.has(m) &&
          (m !== last || partialSuccess !== true) &&
          // keyboard-interactive only stands in for a password the server would not take as
          // such; after a rejected password it would just fail again (slowly, with PAM delays).
          !(m === 'keyboard-interactive' && auth.method !== 'keyboard-interactive' && failed.has('password')),
      );
      if (!method) {
        last = null;
        next(false);
        return;
      }
      last = method;
      emit('auth_method', { method, partial: partialSuccess === true });
      const username = target.username;
      if (method === 'publickey') {
        if (key) next({ type: 'publickey', username, key });
        else authHandler(methodsLeft, false, next);
        return;
      }
      if (method === 'password') {
        const password = passwordFor(auth);
        if (password !== undefined) {
          next({ type: 'password', username, password });
          return;
        }
        // Second factor without a stored password: ask the user, like ssh does.
        void waitForUser((signal) =>
          interaction.prompt(
            '',
            '',
            [{ prompt: `${target.username}@${target.host}'s password: `, echo: false }],
            signal,
          ),
        ).then(
          (answers) => {
            if (!settled) next({ type: 'password', username, password: answers[0] ?? '' });
          },
          () => fail(new TerminalError(ErrorCode.AUTH_FAILED, 'Authentication was cancelled.')),
        );
        return;
      }
      next({
        type: 'keyboard-interactive',
        username,
        prompt: (n, i, _lang, p, finish) => relayPrompts(n, i, p, finish),
      });
    };

    client.on('handshake', () => {
      if (rememberOnHandshake && acceptedHostKey) {
        // After key exchange, i.e. after the server proved it holds the key.
        const keyToStore = acceptedHostKey;
        void Promise.resolve(options.knownHosts.remember(hostId, target.port, keyToStore)).catch(() => {
          emit('known_host_store_failed');
        });
      }
    });

    client.once('ready', () => {
      if (settled) return;
      settled = true;
      cleanup();
      emit('connected', { address: resolved.address });
      if (!acceptedHostKey) {
        client.end();
        return reject(new TerminalError(ErrorCode.HOSTKEY_REJECTED, 'The host key was not verified.'));
      }
      resolve({ client, address: resolved.address, hostKey: acceptedHostKey });
    });

    client.on('error', (err: Error & { level?: string; code?: string }) => {
      if (settled) return;
      fail(failure ?? mapConnectError(err, target));
    });

    client.on('close', () => {
      if (!settled) {
        fail(
          failure ??
            new TerminalError(ErrorCode.SSH_ERROR, 'The SSH server closed the connection during login.'),
        );
      }
    });

    startTimer();
    try {
      const sock = sshServerSocket();
      client.connect({
        sock,
        username: target.username,
        readyTimeout: 0,
        ...keepalive(options.keepaliveIntervalMs ?? 15_000, options.keepaliveCountMax ?? 3),
        hostVerifier,
        authHandler: authHandler as unknown as ssh2.AuthHandlerMiddleware,
      });
      // Interactive traffic: a keystroke must not wait behind Nagle's algorithm for the ACK of
      // earlier output-window adjustments (OpenSSH sets TCP_NODELAY for PTY sessions too).
      client.setNoDelay(true);
      sock.connect({ host: resolved.address, port: target.port });
    } catch {
      fail(new TerminalError(ErrorCode.SSH_ERROR, 'The SSH connection could not be started.'));
    }
  });
}

/**
 * While an SSH server streams output (more than STREAMING_READ_BYTES within 2 × this), its
 * socket is not read for this long after each read: what arrives meanwhile is read at once.
 * sshd sends a PTY's output in pieces of a few KiB, and waking up for each costs the kernel a
 * task switch (~25 µs here, as much as the rest of the work on those bytes): at 30 MB/s that was
 * ~200 wake-ups per MB (docs/benchmarks.md, session 15). Typing and interactive output never
 * reach the threshold; bulk output waits at most this much more.
 */
export const READ_COALESCE_MS = 1;
export const STREAMING_READ_BYTES = 16 * 1024;

/** Bytes read from an SSH server at most at once. */
const SSH_READ_BUFFER_BYTES = 64 * 1024;
/**
 * One read buffer for every SSH socket of the process: a read is copied out of it in the same
 * callback that receives it, before any other socket's read can land, so sockets need not each
 * hold one (64 KiB × 5,000 terminals would be 312 MiB).
 */
const sharedReadBuffer = Buffer.allocUnsafe(SSH_READ_BUFFER_BYTES);

/**
 * A TCP socket that reads into the shared buffer and hands ssh2 each read as a fresh copy of just
 * the bytes read. ssh2 decrypts in place and emits channel data as views of what it was given,
 * which the engine and ssh2's own paused streams keep, so each read must own its bytes; but a
 * buffer Node allocates per read natively is not counted in V8's young generation, so under bulk
 * output those buffers drove a full mark-compact every few megabytes (docs/benchmarks.md). A copy
 * made here is young, and a scavenge frees it. While the server streams, the socket rests between
 * reads (READ_COALESCE_MS).
 */
export function sshServerSocket(): Socket {
  const buffer = sharedReadBuffer;
  let windowStart = 0;
  let windowBytes = 0;
  let resumeTimer: NodeJS.Timeout | null = null;
  // `onread` is a constructor option at run time (net.connect passes it through); @types/node
  // lists it only for connect().
  const sock: Socket = new Socket({
    onread: {
      buffer,
      callback: (n: number) => {
        const chunk = Buffer.allocUnsafe(n);
        buffer.copy(chunk, 0, 0, n);
        sock.emit('data', chunk);
        // Bulk output: let it gather in the kernel for a moment instead of waking up for every
        // few KiB the server sends (see READ_COALESCE_MS).
        const now = performance.now();
        if (now - windowStart > 2 * READ_COALESCE_MS) {
          windowStart = now;
          windowBytes = 0;
        }
        windowBytes += n;
        // A read of more than half the buffer: the server is ahead, read on at once (a pause
        // then would only fill the TCP window and stall it).
        const behind = n > SSH_READ_BUFFER_BYTES / 2;
        if (windowBytes >= STREAMING_READ_BYTES && !behind && resumeTimer === null && !sock.destroyed) {
          sock.pause();
          resumeTimer = setTimeout(() => {
            resumeTimer = null;
            windowStart = performance.now();
            windowBytes = 0;
            if (!sock.destroyed) sock.resume();
          }, READ_COALESCE_MS);
        }
        return true;
      },
    },
  } as ConstructorParameters<typeof Socket>[0]);
  return sock;
}

function passwordFor(auth: SshAuth): string | undefined {
  if (auth.method === 'password') return auth.password;
  if (auth.method === 'publickey') return auth.password;
  return undefined;
}

function cancelled(): TerminalError {
  return new TerminalError(ErrorCode.CONNECTION_FAILED, 'The connection attempt was cancelled.');
}

function mapConnectError(
  err: Error & { level?: string; code?: string },
  target: { host: string; port: number },
): TerminalError {
  const where = `${target.host}:${target.port}`;
  switch (err.level) {
    case 'client-authentication':
      return new TerminalError(
        ErrorCode.AUTH_FAILED,
        'Authentication failed: the server rejected the credentials.',
      );
    case 'client-timeout':
      return new TerminalError(ErrorCode.CONNECTION_TIMEOUT, `${where} did not answer in time.`);
    case 'client-dns':
      return new TerminalError(ErrorCode.DNS_FAILED, `The host name "${target.host}" could not be resolved.`);
    case 'client-socket':
      switch (err.code) {
        case 'ECONNREFUSED':
          return new TerminalError(ErrorCode.CONNECTION_REFUSED, `${where} refused the connection.`);
        case 'ETIMEDOUT':
          return new TerminalError(ErrorCode.CONNECTION_TIMEOUT, `${where} did not answer in time.`);
        case 'EHOSTUNREACH':
        case 'ENETUNREACH':
          return new TerminalError(ErrorCode.CONNECTION_FAILED, `${where} is unreachable.`);
        case 'ECONNRESET':
        case 'EPIPE':
          return new TerminalError(ErrorCode.SSH_ERROR, `${where} closed the connection during login.`);
        default:
          return new TerminalError(ErrorCode.CONNECTION_FAILED, `The connection to ${where} failed.`);
      }
    case 'handshake':
      return new TerminalError(
        ErrorCode.SSH_ERROR,
        'The SSH handshake failed (no algorithms in common, or not an SSH server).',
      );
    default:
      return new TerminalError(ErrorCode.SSH_ERROR, 'The SSH connection failed.');
  }
}

export interface ShellOptions {
  cols: number;
  rows: number;
  term?: string;
}

/** Opens the interactive PTY shell on an authenticated connection. */
export function openShell(client: SshClient, options: ShellOptions): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    client.shell(
      { term: options.term ?? 'xterm-256color', cols: options.cols, rows: options.rows, width: 0, height: 0 },
      (err, channel) => {
        if (err) return reject(new TerminalError(ErrorCode.SSH_ERROR, 'The server refused to open a shell.'));
        resolve(channel);
      },
    );
  });
}
