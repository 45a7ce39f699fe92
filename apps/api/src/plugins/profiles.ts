import fp from 'fastify-plugin';
import { loadEncryptionKey } from '../crypto/encryption-key.js';
import { createSecretBox, type SecretBox } from '../crypto/secret-box.js';
import { createNetboxTokensRepo } from '../netbox/netbox-repo.js';
import { createCredentialsRepo } from '../profiles/credentials-repo.js';
import { closeImportParser } from '../profiles/parse-import.js';
import { createProfilesRepo } from '../profiles/profiles-repo.js';
import { createProfilesService, type ProfilesService } from '../profiles/profiles-service.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Saved connections: folders, profiles, credential sets, VelociTerm import/export. */
    profiles: ProfilesService;
    /** The saved-connection key, for other per-user secrets (NetBox tokens). */
    secretBox: SecretBox;
  }
}

/**
 * Saved connections (DESIGN §8). Resolves the encryption key at start-up and proves it opens the
 * stored secrets, so a lost or changed key stops the broker with a clear message instead of
 * failing later, one connection at a time.
 */
export default fp(
  async (app) => {
    const { config, database } = app;
    // A refused start-up closes the database in buildApp (app.ts).
    const loaded = await loadEncryptionKey({
      configured: config.encryptionKey,
      dataDir: config.dataDir,
      hasEncryptedValues: async () =>
        Boolean(
          (await createCredentialsRepo(database.db).sample()) ??
            (await createProfilesRepo(database.db).sample()) ??
            (await createNetboxTokensRepo(database.db).sample()),
        ),
    });
    if (loaded.source === 'generated') {
      app.log.warn(
        { file: loaded.file },
        database.driver === 'postgres'
          ? 'generated an encryption key for saved-connection secrets; set the same ENCRYPTION_KEY on every node and back it up'
          : 'generated an encryption key for saved-connection secrets; back it up with the data directory',
      );
    }
    const box = createSecretBox(loaded.key);
    const profiles = createProfilesService({ db: database.db, box });
    await profiles.verifyKey();
    app.decorate('profiles', profiles);
    app.addHook('onClose', async () => closeImportParser());
    app.decorate('secretBox', box);
    // The terminal layer opens `{ type: 'open', profileId }` through this hook (plugins/terminals.ts).
    app.decorate('resolveProfile', async (userId: string, profileId: string) => {
      const { target, auth, profile } = await profiles.resolveProfileForConnect(userId, profileId);
      return { target, ...(auth ? { auth } : {}), name: profile.name };
    });
  },
  { name: 'profiles', dependencies: ['config', 'db'] },
);
