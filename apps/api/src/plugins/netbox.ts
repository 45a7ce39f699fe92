import { createTargetPolicy } from '@tether/terminal-engine';
import fp from 'fastify-plugin';
import { SecretDecryptionError } from '../crypto/secret-box.js';
import { createNetboxService, type NetboxService } from '../netbox/netbox-service.js';
import { EncryptionKeyMismatchError } from '../profiles/profiles-service.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** NetBox search and import into saved connections (DESIGN §8). */
    netbox: NetboxService;
  }
}

export default fp(
  async (app) => {
    const { config, database, secretBox } = app;
    const log = app.log.child({ component: 'netbox' });
    const netbox = createNetboxService({
      db: database.db,
      box: secretBox,
      env: config.netbox,
      // The admin chooses NetBox's address, so internal networks are fine; link-local, cloud
      // metadata and SSH_DENIED_TARGETS are not.
      policy: createTargetPolicy({ denied: config.ssh.deniedTargets, internal: 'allow' }),
      onRetry: (info) => log.warn(info, 'netbox request retried'),
    });
    try {
      await netbox.verifyKey();
    } catch (err) {
      await database.close().catch(() => {});
      if (err instanceof SecretDecryptionError) throw new EncryptionKeyMismatchError();
      throw err;
    }
    app.decorate('netbox', netbox);
    app.addHook('onClose', async () => netbox.close());
  },
  { name: 'netbox', dependencies: ['config', 'db', 'profiles'] },
);
