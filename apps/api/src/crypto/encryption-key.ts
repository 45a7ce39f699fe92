import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { decodeKey, persistentValue } from '../config.js';

export const ENCRYPTION_KEY_FILE = 'encryption-key';

/** Start-up refusal: stored secrets exist but cannot be decrypted with the key at hand. */
export class EncryptionKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EncryptionKeyError';
  }
}

export interface EncryptionKeyOptions {
  /** ENCRYPTION_KEY, already decoded and validated by the config. */
  configured?: Buffer;
  dataDir: string;
  /** Whether the database already holds sealed values (checked before a key is generated). */
  hasEncryptedValues: () => Promise<boolean>;
}

export interface LoadedKey {
  key: Buffer;
  source: 'env' | 'file' | 'generated';
  file?: string;
}

/**
 * ENCRYPTION_KEY, else DATA_DIR/encryption-key, else a new key written there (mode 0600), like
 * the JWT secret. A new key is only generated for a database without sealed values: generating
 * one next to existing ciphertexts would make every stored secret unreadable, silently, so the
 * broker refuses to start and says the key is lost instead.
 */
export async function loadEncryptionKey(options: EncryptionKeyOptions): Promise<LoadedKey> {
  if (options.configured) return { key: options.configured, source: 'env' };
  const file = path.join(options.dataDir, ENCRYPTION_KEY_FILE);
  if (existsSync(file)) {
    const key = decodeKey(persistentValue(options.dataDir, ENCRYPTION_KEY_FILE, () => ''));
    if (!key) {
      throw new EncryptionKeyError(
        `${file} does not hold a 32-byte key (64 hex characters or base64); restore it from a backup or set ENCRYPTION_KEY`,
      );
    }
    return { key, source: 'file', file };
  }
  if (await options.hasEncryptedValues()) {
    throw new EncryptionKeyError(
      'The database holds encrypted saved-connection secrets, but ENCRYPTION_KEY is not set and ' +
        `${file} does not exist. The key they were encrypted with is lost: set ENCRYPTION_KEY ` +
        `(or restore ${ENCRYPTION_KEY_FILE} into DATA_DIR) to the original key.`,
    );
  }
  const key = decodeKey(
    persistentValue(options.dataDir, ENCRYPTION_KEY_FILE, () => randomBytes(32).toString('base64url')),
  );
  // Unreachable unless the file changed under us between the two calls.
  if (!key) throw new EncryptionKeyError(`${file} could not be created`);
  return { key, source: 'generated', file };
}
