import fp from 'fastify-plugin';
import type { Database } from '../db/index.js';

declare module 'fastify' {
  interface FastifyInstance {
    database: Database;
  }
}

/**
 * Exposes a database that buildApp opened *before* plugin loading: opening it (PGlite's first
 * initdb, migrations, a PostgreSQL server still starting) can legitimately take longer than
 * Fastify's per-plugin timeout, and has its own limits with clear errors (db/index.ts). The app
 * owns it from here on and closes it last.
 */
export default fp<{ database: Database }>(
  async (app, { database }) => {
    app.decorate('database', database);
    app.log.info({ driver: database.driver }, 'database ready');
    app.addHook('onClose', async () => {
      const started = performance.now();
      await database.close();
      app.log.info({ ms: Math.round(performance.now() - started) }, 'database closed');
    });
  },
  { name: 'db', dependencies: ['config'] },
);
