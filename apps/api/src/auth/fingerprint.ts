import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Name of the HttpOnly cookie that binds an access token to the browser it was issued to. */
export const FINGERPRINT_COOKIE = 'tether_fp';

export function newFingerprint(): string {
  return randomBytes(32).toString('base64url');
}

export function hashFingerprint(fingerprint: string): string {
  return createHash('sha256').update(fingerprint).digest('base64url');
}

export function fingerprintMatches(expectedHash: string, cookie: string | undefined): boolean {
  if (!cookie) return false;
  const a = Buffer.from(expectedHash);
  const b = Buffer.from(hashFingerprint(cookie));
  return a.length === b.length && timingSafeEqual(a, b);
}
