import fp from 'fastify-plugin';
import { type Database, openDatabase } from '../db/index.js';

declare module 'fastify' {
  interface FastifyInstance {
    database: Database;
  }
}

export default fp(
  async (app) => {
    const { config } = app;
    const database = await openDatabase({ url: config.database.url, dataDir: config.database.dataDir });
    app.decorate('database', database);
    app.log.info({ driver: database.driver }, 'database ready');
    app.addHook('onClose', async () => {
      await database.close();
    });
  },
  { name: 'db', dependencies: ['config'] },
);
