import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import websocket from '@fastify/websocket';
import { CloseCode } from '@tether/protocol';
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import { pino } from 'pino';
import { ensureFirstAdmin } from './auth/bootstrap.js';
import { sharedRateLimitStore } from './cluster/shared-limits.js';
import type { Config } from './config.js';
import { type Database, openDatabase } from './db/index.js';
import authPlugin from './plugins/auth.js';
import clusterPlugin from './plugins/cluster.js';
import configPlugin from './plugins/config.js';
import dbPlugin from './plugins/db.js';
import errorsPlugin from './plugins/errors.js';
import metricsPlugin from './plugins/metrics.js';
import netboxPlugin from './plugins/netbox.js';
import profilesPlugin from './plugins/profiles.js';
import requestLogPlugin from './plugins/request-log.js';
import terminalsPlugin from './plugins/terminals.js';
import webPlugin, { spaScriptHashes } from './plugins/web.js';
import adminRoutes from './routes/admin.js';
import authRoutes from './routes/auth.js';
import healthRoutes from './routes/health.js';
import netboxRoutes from './routes/netbox.js';
import preferenceRoutes from './routes/preferences.js';
import profileRoutes from './routes/profiles.js';
import terminalRoutes from './routes/terminals.js';

export interface BuildOptions {
  logger?: FastifyServerOptions['logger'];
  /** Skip creating the first admin (tests that manage users themselves). */
  skipBootstrap?: boolean;
}

/** Paths whose values must never reach a log line. */
export const LOG_REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
  '*.token',
  '*.passphrase',
  '*.privateKey',
  '*.secret',
];

/**
 * JSON lines on stdout, written asynchronously: pino's default destination writes every line
 * with a blocking `write(2)` on the event loop, a fifth of a millisecond per request under load
 * (a sixth of the event loop's time during saturated sign-ins, bench logins --profile). Lines
 * that arrive while a write is in flight go out together in the next one. pino flushes what is
 * buffered when the process exits (normally, on a signal or an uncaught exception); only a
 * kill -9 or a power cut can lose the last lines.
 */
export function loggerOptions(config: Config): FastifyServerOptions['logger'] {
  return {
    level: config.logLevel,
    redact: { paths: LOG_REDACT, censor: '[redacted]' },
    stream: pino.destination({ dest: 1, sync: false }),
  };
}

/**
 * Builds the broker. Plugins are registered explicitly and in dependency order:
 * config → db → auth → websocket → error handler → routes.
 */
export async function buildApp(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  // Opened outside Fastify's plugin loading, whose 10 s per-plugin timeout a first start of the
  // embedded database on a slow or busy machine can exceed; openDatabase has its own limits.
  const database = await openDatabase({
    url: config.database.url,
    dataDir: config.database.dataDir,
    statementTimeoutMs: config.database.statementTimeoutMs,
    lockTimeoutMs: config.database.lockTimeoutMs,
  });
  try {
    return await assemble(config, options, database);
  } catch (err) {
    await database.close().catch(() => {});
    throw err;
  }
}

async function assemble(config: Config, options: BuildOptions, database: Database): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    logger: options.logger ?? loggerOptions(config),
    trustProxy: config.trustProxy,
    bodyLimit: 1024 * 1024,
    // Request ids in every log line; honour an upstream proxy's id when present.
    requestIdHeader: 'x-request-id',
    // One line per request instead of two (plugins/request-log.ts).
    logController: new LogController({ disableRequestLogging: true }),
  });

  await app.register(configPlugin, { config });
  await app.register(requestLogPlugin);
  await app.register(dbPlugin, { database });
  await app.register(authPlugin);
  await app.register(clusterPlugin);
  await app.register(profilesPlugin);
  await app.register(netboxPlugin);
  await app.register(rateLimit, {
    global: false,
    // With PostgreSQL (several nodes may share it) sign-in attempts per address are counted in
    // the database, the same on every node; PGlite serves one process, whose memory is exact.
    ...(database.driver === 'postgres' ? { store: sharedRateLimitStore(app.sharedLimits) as never } : {}),
    // A database that cannot count refuses the sign-in itself a moment later, with its own 503.
    skipOnError: true,
  });
  await app.register(websocket, {
    options: {
      maxPayload: config.limits.messageSizeLimit,
      // Compression on terminal sockets costs throughput and ~232 KiB per socket (DESIGN §6).
      perMessageDeflate: false,
    },
    // On shutdown every client hears "server restarting" (and reconnects with backoff) rather
    // than an anonymous close.
    // The close handshake needs each client's answer; one that never gives it (frozen, or gone
    // without a FIN) is cut after a second instead of holding the shutdown (ws waits for every
    // client before its server closes).
    preClose(done) {
      for (const client of this.websocketServer.clients)
        client.close(CloseCode.SERVER_RESTARTING, 'server restarting');
      const cut = setTimeout(() => {
        for (const client of this.websocketServer.clients) client.terminate();
      }, 1_000);
      this.websocketServer.close(() => {
        clearTimeout(cut);
        done();
      });
    },
  });
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        'script-src': ["'self'", ...spaScriptHashes(config.webDist)],
        // xterm.js and React set inline styles on elements.
        'style-src': ["'self'", "'unsafe-inline'"],
        'connect-src': ["'self'"],
        'img-src': ["'self'", 'data:'],
        'upgrade-insecure-requests': null,
      },
    },
    // Served over plain HTTP in the quick start; HSTS belongs on the TLS-terminating proxy.
    strictTransportSecurity: false,
  });
  if (config.corsOrigins.length) {
    await app.register(cors, { origin: config.corsOrigins, credentials: true });
  }
  await app.register(terminalsPlugin);
  // Before every route, so its onResponse hook times them all.
  await app.register(metricsPlugin);
  await app.register(errorsPlugin);
  await app.register(webPlugin);

  const prefix = config.basePath;
  await app.register(healthRoutes, { prefix });
  await app.register(authRoutes, { prefix });
  await app.register(adminRoutes, { prefix });
  await app.register(profileRoutes, { prefix });
  await app.register(netboxRoutes, { prefix });
  await app.register(terminalRoutes, { prefix });
  await app.register(preferenceRoutes, { prefix });

  if (!options.skipBootstrap) {
    app.addHook('onReady', async () => {
      await ensureFirstAdmin(app.auth, config, app.log);
    });
  }
  return app;
}
