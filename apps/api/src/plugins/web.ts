import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** Answers client-side routes with the SPA's index.html; false when not applicable. */
    spaFallback?: (request: FastifyRequest, reply: FastifyReply) => boolean;
  }
}

/**
 * Hashes of the SPA's inline scripts, written by its build (`csp-hashes.json`), so the CSP can
 * allow exactly those scripts and nothing else inline.
 */
export function spaScriptHashes(webDist: string | undefined): string[] {
  const root = resolveWebDist(webDist);
  if (!root) return [];
  try {
    const parsed = JSON.parse(readFileSync(path.join(root, 'csp-hashes.json'), 'utf8')) as {
      'script-src'?: unknown;
    };
    const hashes = parsed['script-src'];
    return Array.isArray(hashes)
      ? hashes.filter(
          (h): h is string => typeof h === 'string' && /^'sha(256|384|512)-[A-Za-z0-9+/=]+'$/.test(h),
        )
      : [];
  } catch {
    return [];
  }
}

export function resolveWebDist(configured: string | undefined): string | undefined {
  if (configured)
    return existsSync(path.join(configured, 'index.html')) ? path.resolve(configured) : undefined;
  // apps/api/{src,dist}/plugins → apps/web/dist
  const guess = fileURLToPath(new URL('../../../web/dist', import.meta.url));
  return existsSync(path.join(guess, 'index.html')) ? guess : undefined;
}

/**
 * Serves the built SPA from the API process (the single-process quick start). The SPA is built
 * with relative asset URLs; a `<base href>` injected here tells it where it lives, so one build
 * works at `/` and under any BASE_PATH. Unknown non-API paths get index.html (client routing).
 */
export default fp(
  async (app) => {
    const root = resolveWebDist(app.config.webDist);
    if (!root) {
      app.log.info('no built SPA found; serving the API only');
      return;
    }
    const base = `${app.config.basePath}/`;
    const index = readFileSync(path.join(root, 'index.html'), 'utf8').replace(
      /<head>/i,
      `<head>\n    <base href="${base}">`,
    );
    await app.register(fastifyStatic, {
      root,
      prefix: base,
      index: false,
      wildcard: false,
      // The build writes .br and .gz beside each asset; the client's Accept-Encoding picks one
      // (with Content-Encoding and Vary: Accept-Encoding), identity otherwise.
      preCompressed: true,
      // Source maps publish the whole source: never served, even when a build wrote them.
      allowedPath: (pathname) => !pathname.endsWith('.map'),
      cacheControl: false,
      setHeaders(reply, filePath) {
        // Vite fingerprints asset names: cache them forever; everything else revalidates.
        reply.header(
          'cache-control',
          filePath.includes(`${path.sep}assets${path.sep}`)
            ? 'public, max-age=31536000, immutable'
            : 'no-cache',
        );
      },
    });
    const sendIndex = (_req: unknown, reply: FastifyReply) =>
      reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(index);
    app.get(base, sendIndex);
    if (base !== '/') app.get(app.config.basePath, (_req, reply) => reply.redirect(base));

    app.decorate('spaFallback', (request: FastifyRequest, reply: FastifyReply): boolean => {
      const url = request.url.split('?')[0] ?? '';
      const isApi = url.startsWith(`${app.config.basePath}/api/`) || url === `${app.config.basePath}/api`;
      if (request.method !== 'GET' || !url.startsWith(base) || isApi || path.extname(url)) return false;
      void sendIndex(request, reply);
      return true;
    });
  },
  { name: 'web', dependencies: ['config'] },
);
