import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { hostBuild, sharedSecret } from '@tether/host/config';
import type { PeerLink, TerminalInfo } from '@tether/host-protocol';
import { CloseCode, ErrorCode, type OpenMessage, type SshAuth, type TerminalSummary } from '@tether/protocol';
import type { ConnectInteraction } from '@tether/terminal-engine';
import {
  createTargetPolicy,
  describeTargetPolicy,
  TerminalEnvShape,
  TerminalError,
  terminalManagerConfig,
} from '@tether/terminal-engine';
import fp from 'fastify-plugin';
import type { WebSocket } from 'ws';
import type { AuthContext } from '../auth/auth-service.js';
import type { SharedLimits } from '../cluster/shared-limits.js';
import type { TerminalRow, TerminalScreenRow } from '../db/schema/index.js';
import { AppError } from '../errors.js';
import { createKnownHostsRepo } from '../persistence/known-hosts-repo.js';
import { createTerminalsRepo } from '../persistence/terminals-repo.js';
import { BROKER_NODE_FLAGS } from '../system/node-flags.js';
import { HOST_STOPPED, type RemoteTerminal, RemoteTerminalManager } from '../terminals/remote.js';
import { createSessionSockets, type SessionSockets } from '../ws/session-sockets.js';

export const LOST_ON_RESTART = 'The broker restarted; this SSH session ended with it.';
/** How this node reaches a terminal another node holds (ws/terminal-socket.ts, routes). */
export type RemoteOwner =
  | { reachable: true; nodeId: string; peerUrl: string; link: PeerLink }
  | { reachable: false; nodeId: string; why: string };

const SHUTDOWN_REASON = 'The broker shut down; this SSH session ended with it.';
/** Longest a request that ends a terminal waits for its row to say so before answering. */
const END_WAIT_MS = 5_000;

/** Resolves a saved profile into a target and stored credentials (provided by the profiles plugin). */
export type ProfileResolver = (
  userId: string,
  profileId: string,
) => Promise<{ target: { host: string; port: number; username: string }; auth?: SshAuth; name?: string }>;

declare module 'fastify' {
  interface FastifyInstance {
    terminals: ReturnType<typeof createTerminalService>;
    sessionSockets: SessionSockets;
    /** Set by the saved-connections plugin when present. */
    resolveProfile?: ProfileResolver;
  }
}

function createTerminalService(deps: {
  manager: RemoteTerminalManager;
  repo: ReturnType<typeof createTerminalsRepo>;
  knownHosts: ReturnType<typeof createKnownHostsRepo>;
  nodeId: string;
  audit: import('../audit/audit-repo.js').AuditRepo;
  resolveProfile: () => ProfileResolver | undefined;
  track: <T>(p: Promise<T>) => Promise<T>;
  /** SSH_OPEN_FAILURES_PER_MINUTE: failed opens a user may have, in bursts of as many. */
  openFailuresPerMinute: number;
  /** Whether another node answers (membership): its running terminals are `unreachable` if not. */
  nodeAnswers: (nodeId: string) => boolean;
  /** Limits shared by every node (failed opens per user). */
  limits: SharedLimits;
  /** How to reach another node's terminals (peer link and membership), or why not. */
  reachNode: (nodeId: string) => RemoteOwner;
  /** Resolves once this terminal's row says it ended (or after `withinMs`). */
  rowEnded: (terminalId: string, withinMs: number) => Promise<void>;
}) {
  const { manager, repo, knownHosts, nodeId, audit, track } = deps;
  // Every failed open tells its user something about a network (refused, filtered, not SSH,
  // wrong password): budgeted per user, so the broker is neither a port scanner nor a password
  // guesser at network speed.
  // Counted in the database: a client spreading its attempts over the nodes gains nothing.
  const failedOpens = {
    key: (userId: string) => `ssh-open-failures:${userId}`,
    async wait(userId: string): Promise<number> {
      const { hits, ttlMs } = await deps.limits.peek(this.key(userId));
      return hits >= deps.openFailuresPerMinute ? Math.max(1, ttlMs) : 0;
    },
    spend(userId: string): Promise<unknown> {
      return deps.limits.hit(this.key(userId), 60_000);
    },
  };
  const sockets = new Map<WebSocket, (code: number, reason: string) => void>();
  /** The TCP sockets under terminal WebSockets (told of a shutdown by a close frame). */
  const websocketRaw = new WeakSet<Duplex>();
  let closing: { code: number; reason: string } | null = null;

  function summary(row: TerminalRow): TerminalSummary {
    const live = manager.get(row.id, row.userId);
    return {
      id: row.id,
      host: row.host,
      port: row.port,
      username: row.sshUsername,
      profileId: row.profileId,
      title: row.title,
      cols: live?.cols ?? row.cols,
      rows: live?.rows ?? row.rows,
      // The row can say "running" for a terminal another node owns; only this node's live
      // object is authoritative for ours, and the membership says whether that node answers.
      status: live
        ? live.ended
          ? live.status === 'lost'
            ? 'lost'
            : 'exited'
          : 'running'
        : (row.status === 'running' || row.status === 'connecting') && !deps.nodeAnswers(row.nodeId)
          ? 'unreachable'
          : row.status,
      attached: live && !live.ended ? live.viewerCount : 0,
      exitCode: row.exitCode,
      exitSignal: row.exitSignal,
      endReason: row.endReason,
      createdAt: row.createdAt.toISOString(),
      lastAttachedAt: row.lastAttachedAt?.toISOString() ?? null,
      lastOutputAt: (live?.lastOutputAt ?? row.lastOutputAt)?.toISOString() ?? null,
      endedAt: row.endedAt?.toISOString() ?? null,
    };
  }

  return {
    manager,
    summary,

    /**
     * Brings this node's rows in line with what its terminal host holds (`held`, else asked now):
     * what it still runs is running (after an API restart or deploy, or after this node was cut
     * off long enough for another to record its terminals lost), what it ended meanwhile gets
     * its real end.
     */
    async reconcile(held?: TerminalInfo[]): Promise<void> {
      for (const info of held ?? (await manager.refresh())) {
        if (info.status !== 'running' && info.ended) {
          await repo.update(info.id, {
            status: info.status === 'lost' ? 'lost' : 'exited',
            exitCode: info.ended.code,
            exitSignal: info.ended.signal,
            endReason: info.ended.reason,
            endedAt: new Date(),
          });
        } else if (info.status === 'running') {
          await repo.update(info.id, { status: 'running', endedAt: null, endReason: null });
        }
      }
    },

    /** SSH connect → PTY → registered terminal, with a row from the first moment. */
    async open(
      user: AuthContext,
      msg: OpenMessage,
      interaction: ConnectInteraction,
      signal: AbortSignal,
      ip: string | null,
    ) {
      let target = msg.target
        ? { host: msg.target.host, port: msg.target.port ?? 22, username: msg.target.username }
        : undefined;
      let auth: SshAuth | undefined = msg.auth;
      let title = msg.title ?? null;
      if (msg.profileId) {
        const resolver = deps.resolveProfile();
        if (!resolver) throw new AppError(404, ErrorCode.NOT_FOUND, 'Saved connections are not available.');
        const resolved = await resolver(user.userId, msg.profileId);
        target = resolved.target;
        auth = msg.auth ?? resolved.auth;
        title ??= resolved.name ?? null;
      }
      if (!target) throw new AppError(400, ErrorCode.VALIDATION_FAILED, 'A target or profile is required.');
      const waitMs = await failedOpens.wait(user.userId);
      if (waitMs > 0) {
        const seconds = Math.ceil(waitMs / 1000);
        throw new TerminalError(
          ErrorCode.RATE_LIMITED,
          `Too many failed connection attempts; try again in ${seconds} s.`,
          { details: { retryAfter: String(seconds) } },
        );
      }
      const id = randomUUID();
      const t0 = performance.now();
      await repo.insert({
        id,
        userId: user.userId,
        nodeId,
        host: target.host,
        port: target.port,
        sshUsername: target.username,
        profileId: msg.profileId ?? null,
        title,
        cols: msg.cols,
        rows: msg.rows,
        status: 'connecting',
      });
      try {
        const terminal = await manager.create({
          id,
          userId: user.userId,
          target,
          // Without credentials, ask the server: OpenSSH relays its password prompt through
          // keyboard-interactive, which the browser answers.
          auth: auth ?? { method: 'keyboard-interactive' },
          cols: msg.cols,
          rows: msg.rows,
          title: title ?? undefined,
          ...(msg.scrollback !== undefined ? { scrollback: msg.scrollback } : {}),
          signal,
          interaction: wrapInteraction(interaction, user, ip, target),
          knownHosts: {
            lookup: (host, port) => knownHosts.lookup(user.userId, host, port),
            remember: (host, port, key) => knownHosts.remember(user.userId, host, port, key),
          },
        });
        await repo.update(id, { status: 'running', lastAttachedAt: new Date() });
        await audit.record({
          type: 'terminal.opened',
          outcome: 'success',
          userId: user.userId,
          username: user.username,
          sessionId: user.sessionId,
          ip,
          target: `${target.username}@${target.host}:${target.port}`,
          detail: { terminalId: id, connectMs: Math.round(performance.now() - t0) },
        });
        return terminal;
      } catch (err) {
        const code = (err as { code?: string }).code ?? ErrorCode.INTERNAL;
        // A socket that went away while connecting is not a probe; every other failure is.
        if (!signal.aborted) await failedOpens.spend(user.userId).catch(() => {});
        await repo.update(id, {
          status: 'exited',
          endedAt: new Date(),
          endReason: `Connection failed (${code}).`,
        });
        await audit.record({
          type: 'terminal.open_failed',
          outcome: 'failure',
          userId: user.userId,
          username: user.username,
          sessionId: user.sessionId,
          ip,
          target: `${target.username}@${target.host}:${target.port}`,
          detail: { code },
        });
        throw err;
      }

      function wrapInteraction(
        inner: ConnectInteraction,
        u: AuthContext,
        from: string | null,
        asking: { host: string; port: number; username: string },
      ): ConnectInteraction {
        return {
          // The prompt says which host and account are asking (a profile's tab shows its name).
          prompt: (name, instructions, prompts, signal) =>
            inner.prompt(name, instructions, prompts, signal, {
              host: asking.host,
              port: asking.port,
              username: asking.username,
            }),
          async confirmHostKey(info, abort) {
            const accepted = await inner.confirmHostKey(info, abort);
            await audit.record({
              type: accepted ? 'hostkey.accepted' : 'hostkey.rejected',
              outcome: 'success',
              userId: u.userId,
              username: u.username,
              sessionId: u.sessionId,
              ip: from,
              target: `${info.host}:${info.port}`,
              detail: { keyType: info.keyType, fingerprint: info.fingerprint },
            });
            return accepted;
          },
        };
      }
    },

    get: (id: string, userId: string) => manager.get(id, userId),

    /**
     * A live terminal of this user that another node holds (null: not live, or ours): its row,
     * and that node's peer port or why it cannot be reached.
     */
    async remoteTerminal(
      id: string,
      userId: string,
    ): Promise<{ row: TerminalRow; owner: RemoteOwner } | null> {
      const row = await repo.findForUser(userId, id);
      if (!row || row.nodeId === nodeId || (row.status !== 'running' && row.status !== 'connecting'))
        return null;
      return { row, owner: deps.reachNode(row.nodeId) };
    },

    /**
     * Reaches another node's terminal for one socket, straight to that node's terminal host over
     * the peer link (a ticket for this terminal, user and session): the socket then attaches to
     * it as to one of ours (RemoteTerminalManager.connectPeer).
     */
    connectRemote(
      row: TerminalRow,
      owner: Extract<RemoteOwner, { reachable: true }>,
      ctx: Pick<AuthContext, 'userId' | 'sessionId'>,
      act: 'attach' | 'terminate' = 'attach',
    ): Promise<RemoteTerminal> {
      const url = new URL(owner.peerUrl);
      return manager.connectPeer(
        {
          id: row.id,
          userId: row.userId,
          status: 'running',
          target: { host: row.host, port: row.port, username: row.sshUsername },
          address: row.host,
          title: row.title,
          cols: row.cols,
          rows: row.rows,
          viewers: 0,
          outputOffset: 0,
          createdAt: row.createdAt.getTime(),
          lastOutputAt: row.lastOutputAt?.getTime() ?? null,
          ended: null,
          memory: { ringBytes: 0, mirror: 'empty', mirrorBacklog: 0, channelBuffered: 0 },
        },
        {
          host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
          port: Number(url.port || 443),
          tls: owner.link.clientTls(),
          ticket: owner.link.sign({
            act,
            tid: row.id,
            uid: ctx.userId,
            sid: ctx.sessionId,
            to: owner.nodeId,
          }),
        },
      );
    },

    /**
     * Ends a live terminal another node holds, for its owner or an administrator (`ctx`, checked
     * by the caller), over the peer link, and audits it here. Throws 503 TERMINAL_UNREACHABLE
     * when that node cannot be asked.
     */
    async terminateOnOwner(row: TerminalRow, ctx: AuthContext): Promise<void> {
      const owner = deps.reachNode(row.nodeId);
      if (!owner.reachable) throw new AppError(503, ErrorCode.TERMINAL_UNREACHABLE, owner.why);
      const reason = row.userId === ctx.userId ? 'Ended by the user.' : 'Ended by an administrator.';
      try {
        const remote = await this.connectRemote(row, owner, ctx, 'terminate');
        try {
          remote.terminate(reason);
          // Frames are taken in order: once this is answered, the terminate was.
          await manager.pingPeer(remote);
        } finally {
          manager.releasePeer(remote);
        }
      } catch (err) {
        throw new AppError(
          503,
          ErrorCode.TERMINAL_UNREACHABLE,
          `Broker node ${row.nodeId}, which holds this terminal, could not be asked: ${(err as Error).message}`,
        );
      }
      await audit.record({
        type: 'terminal.terminated',
        outcome: 'success',
        userId: ctx.userId,
        username: ctx.username,
        target: row.id,
        detail: { reason, node: row.nodeId },
      });
    },

    /** An ended terminal of the user's, with its last screen if one was kept. */
    async endedInfo(
      id: string,
      userId: string,
    ): Promise<{ row: TerminalRow; screen: TerminalScreenRow | undefined } | undefined> {
      const row = await repo.findForUser(userId, id);
      if (!row || (row.status !== 'exited' && row.status !== 'lost')) return undefined;
      return { row, screen: await repo.screenFor(userId, id) };
    },

    async terminate(
      terminal: RemoteTerminal,
      user: Pick<AuthContext, 'userId' | 'username'>,
      reason: string,
    ) {
      const ended = terminal.ended ? Promise.resolve() : deps.rowEnded(terminal.id, END_WAIT_MS);
      terminal.terminate(reason);
      // Answered once the row says so: a list fetched right after shows the terminal ended.
      await ended;
      await audit.record({
        type: 'terminal.terminated',
        outcome: 'success',
        userId: user.userId,
        username: user.username,
        target: terminal.id,
        detail: { reason },
      });
    },

    markAttached(terminal: RemoteTerminal) {
      void track(repo.update(terminal.id, { lastAttachedAt: new Date() })).catch(() => {});
    },
    markDetached(_terminal: RemoteTerminal) {},

    trackSocket(socket: WebSocket, close: (code: number, reason: string) => void, raw?: Duplex) {
      if (raw) websocketRaw.add(raw);
      // A socket that arrives while this process shuts down (a client reconnecting at once) is
      // told to come back at once, or it would hold the shutdown open.
      if (closing) {
        close(closing.code, closing.reason);
        setTimeout(() => socket.terminate(), 1_000).unref();
        return;
      }
      sockets.set(socket, close);
      socket.once('close', () => sockets.delete(socket));
    },

    /** Whether `raw` carries a terminal WebSocket (rather than a refused or unfinished upgrade). */
    isTerminalSocket(raw: Duplex): boolean {
      return websocketRaw.has(raw);
    },

    closeAllSockets(code: number, reason: string) {
      closing = { code, reason };
      for (const close of sockets.values()) close(code, reason);
      sockets.clear();
    },

    async list(userId: string): Promise<TerminalSummary[]> {
      return (await repo.listForUser(userId)).map(summary);
    },
  };
}

/**
 * Terminals: the engine (manager), their rows, the terminal socket's session binding, start-up
 * recovery ("lost" rows) and shutdown (sockets told "server restarting", SSH sessions ended, rows
 * written before the database closes).
 */
export default fp(
  async (app) => {
    const { config, database, auth, audit } = app;
    const repo = createTerminalsRepo(database.db);
    const knownHosts = createKnownHostsRepo(database.db);
    const pending = new Set<Promise<unknown>>();
    const track = <T>(p: Promise<T>): Promise<T> => {
      pending.add(p);
      p.finally(() => pending.delete(p)).catch(() => {});
      return p;
    };

    app.log.info(
      {
        sshTargets: describeTargetPolicy({
          allowed: config.ssh.allowedTargets,
          denied: config.ssh.deniedTargets,
        }),
      },
      'SSH target policy',
    );
    /** Emits a terminal's id once its row says it ended (see the service's `terminate`). */
    const rowsEnded = new EventEmitter().setMaxListeners(0);
    const rowEnded = (terminalId: string, withinMs: number) =>
      once(rowsEnded, terminalId, { signal: AbortSignal.timeout(withinMs) }).then(
        () => {},
        () => {}, // timed out: answer anyway
      );
    const onStatus = (
      terminal: RemoteTerminal,
      status: string,
      details: { code: number | null; signal: string | null; reason: string } | null,
    ) => {
      if (status === 'running' || !details) return;
      void track(
        repo.update(terminal.id, {
          status: status as 'exited' | 'lost',
          exitCode: details.code,
          exitSignal: details.signal,
          endedAt: new Date(),
          endReason: details.reason,
          lastOutputAt: terminal.lastOutputAt,
        }),
      )
        .catch((err) => app.log.warn({ err, terminalId: terminal.id }, 'terminal row update failed'))
        .finally(() => rowsEnded.emit(terminal.id));
      void track(
        audit.record({
          type: 'terminal.ended',
          outcome: 'success',
          userId: terminal.userId,
          target: `${terminal.target.username}@${terminal.target.host}:${terminal.target.port}`,
          detail: {
            terminalId: terminal.id,
            status,
            code: details.code,
            signal: details.signal,
            reason: details.reason,
          },
        }),
      ).catch(() => {});
    };

    // The node's terminal host: in this process (embedded), or its own process that outlives
    // this one (spawned here when none answers, or run as a service).
    const { mode, socketPath, drainMs } = config.terminalHost;
    const log = app.log.child({ component: 'terminals' });
    let embedded: { close(reason?: string): Promise<void> } | null = null;
    if (mode === 'embedded') {
      const { createTerminalHost } = await import('@tether/host');
      const host = createTerminalHost({
        socketPath,
        secret: sharedSecret(config.dataDir),
        engine: terminalManagerConfig({
          DATA_DIR: config.dataDir,
          MAX_CONNECTIONS: config.limits.maxConnections,
          MAX_TERMINALS_PER_USER: config.limits.maxTerminalsPerUser,
          CONNECTION_TIMEOUT: config.limits.connectionTimeoutMs,
          TERMINAL_BUFFER_BYTES: config.limits.terminalBufferBytes,
          TERMINAL_DETACHED_TIMEOUT: config.limits.terminalDetachedTimeoutMs,
          TERMINAL_ENDED_RETENTION: config.limits.terminalEndedRetentionMs,
          TERMINAL_SCROLLBACK: config.limits.terminalScrollback,
          TERMINAL_SCROLLBACK_MAX: config.limits.terminalScrollbackMax,
          SSH_ALLOWED_TARGETS: config.ssh.allowedTargets,
          SSH_DENIED_TARGETS: config.ssh.deniedTargets,
          SSH_KEEPALIVE_INTERVAL: config.ssh.keepaliveIntervalMs,
          SSH_KEEPALIVE_COUNT_MAX: config.ssh.keepaliveCountMax,
          TERMINAL_HOST_SOCKET: socketPath,
          TERMINAL_HOST_DRAIN: drainMs,
          LOG_LEVEL: 'info',
        }),
        drainLimitMs: drainMs,
        policy: createTargetPolicy({ allowed: config.ssh.allowedTargets, denied: config.ssh.deniedTargets }),
        log,
        ...(config.peer && app.peerLink
          ? { peer: { host: config.peer.host, port: config.peer.port, link: app.peerLink } }
          : {}),
      });
      await host.listen();
      embedded = host;
    }
    const manager = new RemoteTerminalManager({
      socketPath,
      peerHeartbeat: {
        intervalMs: config.limits.heartbeatIntervalMs,
        timeoutMs: config.limits.heartbeatTimeoutMs,
      },
      secret: sharedSecret(config.dataDir),
      ...(mode === 'spawn'
        ? {
            startHost: () =>
              startHostProcess(config.dataDir, config.terminalHost.memoryMiB, log, {
                // The host listens on the peer port (other nodes attach there) as this node.
                NODE_ID: config.nodeId,
                ...(config.peer
                  ? {
                      PEER_SECRET: config.peer.secret,
                      PEER_HOST: config.peer.host,
                      PEER_PORT: String(config.peer.port),
                    }
                  : {}),
              }),
            // After an upgrade of this API, a new generation of the host too (the old one drains);
            // the same when the peer link's port changed.
            expectedBuild: hostBuild(),
            expectedPeerPort: config.peer?.port ?? null,
          }
        : {}),
      events: {
        onStatus,
        onOutput(terminal, at) {
          void track(repo.setLastOutput([terminal.id], at)).catch(() => {});
        },
        onScreen(terminal, screen) {
          void track(
            repo.saveScreen({
              terminalId: terminal.id,
              userId: terminal.userId,
              data: screen.data,
              cols: screen.cols,
              rows: screen.rows,
              outputOffset: screen.offset,
            }),
          ).catch((err) => app.log.warn({ err, terminalId: terminal.id }, 'last screen not stored'));
        },
      },
      log,
    });
    const held = await manager.start();
    const service = createTerminalService({
      manager,
      repo,
      knownHosts,
      nodeId: config.nodeId,
      audit,
      resolveProfile: () => app.resolveProfile,
      track,
      openFailuresPerMinute: config.ssh.openFailuresPerMinute,
      limits: app.sharedLimits,
      nodeAnswers: (id) => {
        if (id === config.nodeId) return true;
        const state = app.membership.node(id)?.state;
        return state === 'up' || state === 'draining';
      },
      rowEnded,
      reachNode: (id) => {
        const node = app.membership.node(id);
        if (!node || (node.state !== 'up' && node.state !== 'draining'))
          return {
            reachable: false,
            nodeId: id,
            why: `This terminal runs on broker node ${id}, which is not answering.`,
          };
        if (!app.peerLink || !node.peerUrl)
          return {
            reachable: false,
            nodeId: id,
            why: `This terminal runs on broker node ${id}, and no peer link joins the nodes (PEER_SECRET, PEER_URL).`,
          };
        return { reachable: true, nodeId: id, peerUrl: node.peerUrl, link: app.peerLink };
      },
    });
    // Reconcile this node's rows with what the host holds (see `reconcile`).
    await service.reconcile(held);
    const lost = await repo.markNodeTerminalsLost(
      config.nodeId,
      mode === 'embedded' ? LOST_ON_RESTART : HOST_STOPPED,
      held.map((i) => i.id),
    );
    if (lost)
      app.log.warn({ count: lost, nodeId: config.nodeId }, 'terminals from a previous run marked lost');
    if (held.length > 0)
      app.log.info(
        { count: held.filter((i) => i.status === 'running').length },
        'terminals carried over from the terminal host',
      );

    const sessionSockets = createSessionSockets({
      auth,
      idleTimeoutMs: config.session.idleTimeoutMs,
      sweepIntervalMs: config.session.checkIntervalMs,
      log: app.log,
    });
    app.decorate('terminals', service);
    app.decorate('sessionSockets', sessionSockets);

    // A disabled account's terminals end with it (DESIGN §7), whichever node disabled it.
    const DISABLED = 'The account was disabled.';
    auth.events.on('user-disabled', ({ userId }) => {
      manager.terminateAllForUser(userId, DISABLED);
    });
    // Events missed while the bus was not listening: read what they would have said.
    app.cluster.on('listening', () => {
      void sessionSockets.check();
      void repo
        .disabledUsersWithLiveTerminals(config.nodeId)
        .then((ids) => {
          for (const userId of ids) manager.terminateAllForUser(userId, DISABLED);
        })
        .catch((err: Error) => log.warn({ err: err.message }, 'disabled-account check failed'));
    });

    // Every upgrade's socket, to end them at shutdown: an upgrade that arrives while this process
    // closes gets a 503 on a socket the HTTP server no longer tracks, and a client that keeps it
    // open (a reconnect loop) would otherwise hold the shutdown until its grace period ran out.
    const upgrades = new Set<Duplex>();
    let shuttingDown = false;
    app.server.on('upgrade', (_req, socket) => {
      if (shuttingDown) {
        // Answered 503 right away (Fastify refuses requests while closing); once that is written
        // the socket is of no use, and a client that keeps it would hold this process's exit (a
        // reconnecting browser does exactly that: it retries the moment it hears 1012).
        setTimeout(() => socket.destroy(), 100).unref();
        return;
      }
      upgrades.add(socket);
      socket.once('close', () => upgrades.delete(socket));
    });

    app.addHook('preClose', async () => {
      shuttingDown = true;
      sessionSockets.dispose();
      service.closeAllSockets(CloseCode.SERVER_RESTARTING, 'server restarting');
      // An upgrade that never became a terminal socket was refused (503: it arrived as the close
      // began); terminal sockets get a second for their close handshake.
      for (const socket of upgrades)
        if (!service.isTerminalSocket(socket)) setTimeout(() => socket.destroy(), 100).unref();
      setTimeout(() => {
        for (const socket of upgrades) socket.destroy();
      }, 1_000).unref();
      // The terminals stay with the host; only an embedded host ends them, with this process.
      const ending = embedded ? manager.list().filter((t) => !t.ended) : [];
      await manager.shutdown();
      if (embedded) {
        await embedded.close(SHUTDOWN_REASON);
        for (const t of ending) {
          void track(
            repo.update(t.id, { status: 'lost', endedAt: new Date(), endReason: SHUTDOWN_REASON }),
          ).catch(() => {});
        }
      }
      await Promise.allSettled([...pending]);
    });
  },
  { name: 'terminals', dependencies: ['config', 'db', 'auth', 'cluster'] },
);

/**
 * Starts this node's terminal host as its own process, detached (its own session, no stdio tied
 * to the API), so that the API's exit, crash or restart does not take it along. Its output goes to
 * DATA_DIR/terminal-host.log. It reads the same environment as the API.
 */
function startHostProcess(
  dataDir: string,
  memoryMiB: number | undefined,
  log: { info(o: object, m: string): void },
  extra: Record<string, string>,
): void {
  const require = createRequire(import.meta.url);
  const main = path.join(path.dirname(require.resolve('@tether/host/package.json')), 'dist', 'main.js');
  const out = openSync(path.join(dataDir, 'terminal-host.log'), 'a', 0o600);
  try {
    // Only what the host reads (terminal limits, target policy, logging, the peer port): none
    // of the API's secrets (JWT_SECRET, ENCRYPTION_KEY, DATABASE_URL, ADMIN_PASSWORD) reach it.
    const env: NodeJS.ProcessEnv = { DATA_DIR: dataDir, ...extra };
    for (const name of [...Object.keys(TerminalEnvShape), 'PATH', 'NODE_ENV', 'TZ', 'LANG']) {
      if (name !== 'DATA_DIR' && process.env[name] !== undefined) env[name] = process.env[name];
    }
    // As the API itself is run (BROKER_NODE_FLAGS), with the heap limit TERMINAL_HOST_MEMORY asks for.
    const flags = [...BROKER_NODE_FLAGS, ...(memoryMiB ? [`--max-old-space-size=${memoryMiB}`] : [])];
    const child = spawn(process.execPath, [...flags, main], {
      detached: true,
      stdio: ['ignore', out, out],
      env,
    });
    child.unref();
    log.info({ pid: child.pid, flags }, 'terminal host started');
  } finally {
    closeSync(out);
  }
}
