/**
 * The constraint behind a unique violation (SQLSTATE 23505), from postgres.js or PGlite, through
 * Drizzle's wrapping; undefined for any other error.
 */
export function uniqueViolation(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; depth++) {
    const x = e as { code?: unknown; constraint_name?: unknown; constraint?: unknown; message?: unknown };
    if (x.code === '23505') {
      const name = x.constraint_name ?? x.constraint;
      return typeof name === 'string' ? name : String(x.message ?? '');
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
