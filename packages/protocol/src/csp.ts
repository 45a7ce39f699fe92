import { z } from 'zod';

/**
 * Zod compiles object parsers with `new Function` when it may, and probes for that ability on
 * first use. Under a strict Content-Security-Policy (no 'unsafe-eval', as the broker serves the
 * SPA) the probe is blocked and reported as a CSP violation. Browsers call this once, before any
 * parsing, to use the interpreted parsers and never probe.
 */
export function disableSchemaCompilation(): void {
  z.config({ jitless: true });
}
