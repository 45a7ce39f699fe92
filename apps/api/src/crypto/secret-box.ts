import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Authenticated encryption of stored secrets (DESIGN §8): AES-256-GCM with a fresh random 96-bit
 * nonce per value. Sealed values look like `v1:<base64url(nonce | ciphertext | tag)>`.
 *
 * Every value is bound, through the GCM associated data, to where it lives: owner user id, row
 * id and field name. Copying a ciphertext into another row, another user's row or another column
 * therefore fails authentication instead of silently handing out someone else's secret.
 *
 * Random nonces are safe here: NIST SP 800-38D caps one key at 2^32 random-nonce encryptions,
 * and secrets are written a handful of times per profile.
 */

const VERSION = 'v1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/** Where a sealed value lives; all three parts are authenticated. */
export interface SecretContext {
  userId: string;
  rowId: string;
  /** `table.column`, e.g. `credentials.secret_enc`. */
  field: string;
}

/**
 * A stored secret could not be opened: wrong key, tampering, or a value moved from elsewhere.
 * Deliberately not an AppError: it is a server fault, answered with a generic 500, and the
 * message never contains the value.
 */
export class SecretDecryptionError extends Error {
  constructor(reason: string) {
    super(`A stored secret could not be decrypted (${reason})`);
    this.name = 'SecretDecryptionError';
  }
}

export interface SecretBox {
  seal(plaintext: string, context: SecretContext): string;
  /** Throws SecretDecryptionError; never returns garbage. */
  open(sealed: string, context: SecretContext): string;
}

function associatedData({ userId, rowId, field }: SecretContext): Buffer {
  // NUL separators: none of the parts can contain one, so distinct contexts never collide.
  return Buffer.from(`tether-secret\0${VERSION}\0${userId}\0${rowId}\0${field}`, 'utf8');
}

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== KEY_BYTES) throw new Error(`The encryption key must be ${KEY_BYTES} bytes`);
  // A private copy: the caller's buffer may be reused or zeroed.
  const k = Buffer.from(key);

  return {
    seal(plaintext, context) {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', k, nonce, { authTagLength: TAG_BYTES });
      cipher.setAAD(associatedData(context));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return `${VERSION}:${Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64url')}`;
    },

    open(sealed, context) {
      const sep = sealed.indexOf(':');
      const version = sep > 0 ? sealed.slice(0, sep) : '';
      if (version !== VERSION) throw new SecretDecryptionError('unknown format');
      const raw = Buffer.from(sealed.slice(sep + 1), 'base64url');
      if (raw.length < NONCE_BYTES + TAG_BYTES) throw new SecretDecryptionError('truncated value');
      const nonce = raw.subarray(0, NONCE_BYTES);
      const tag = raw.subarray(raw.length - TAG_BYTES);
      const body = raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES);
      try {
        const decipher = createDecipheriv('aes-256-gcm', k, nonce, { authTagLength: TAG_BYTES });
        decipher.setAAD(associatedData(context));
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
      } catch {
        // GCM says only "not authentic": wrong key, flipped bit and wrong row look the same.
        throw new SecretDecryptionError('wrong key, tampered value, or value moved from another row');
      }
    },
  };
}
