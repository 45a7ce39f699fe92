import type { HealthResponse } from '@tether/protocol';
import type { FastifyPluginAsync } from 'fastify';
import { VERSION } from '../version.js';

/** Liveness plus a real database round trip; 503 when the database does not answer. */
const healthRoutes: FastifyPluginAsync = async (app) => {
  app.get('/api/health', async (_request, reply) => {
    let database: HealthResponse['database'] = { status: 'down', driver: app.database.driver };
    try {
      const latencyMs = await Promise.race([
        app.database.ping(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 2_000).unref()),
      ]);
      database = { status: 'ok', driver: app.database.driver, latencyMs: Math.round(latencyMs * 100) / 100 };
    } catch {
      // reported as down below
    }
    const body: HealthResponse = {
      status: database.status === 'ok' ? 'ok' : 'degraded',
      version: VERSION,
      uptimeSeconds: Math.round(process.uptime()),
      database,
    };
    return reply.status(database.status === 'ok' ? 200 : 503).send(body);
  });
};

export default healthRoutes;
