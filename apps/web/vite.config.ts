import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import react from '@vitejs/plugin-react';
import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';

/**
 * The inline base-path script in index.html must run before the module script is resolved, so it
 * cannot be an external file (its own URL would depend on the base it computes). A server with a
 * strict Content-Security-Policy can allow it by hash: this plugin writes `dist/csp-hashes.json`
 * (`{ "script-src": ["'sha256-…'"] }`) for the API to add to its `script-src`.
 */
function cspHashes(): Plugin {
  let outDir = 'dist';
  const hashes: string[] = [];
  return {
    name: 'tether-csp-hashes',
    apply: 'build',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    transformIndexHtml: {
      order: 'post',
      handler(html) {
        hashes.length = 0;
        for (const m of html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)) {
          const body = m[1] ?? '';
          hashes.push(`'sha256-${createHash('sha256').update(body, 'utf8').digest('base64')}'`);
        }
        return html;
      },
    },
    closeBundle() {
      writeFileSync(
        resolve(outDir, 'csp-hashes.json'),
        `${JSON.stringify({ 'script-src': hashes }, null, 2)}\n`,
      );
    },
  };
}

/**
 * Writes `.br` and `.gz` beside every compressible asset, at the highest levels (done once per
 * build, not per request); the broker serves them (@fastify/static `preCompressed`) with
 * `Content-Encoding` and `Vary: Accept-Encoding`. Node's zlib does it: no dependency needed.
 */
function precompress(): Plugin {
  let outDir = 'dist';
  return {
    name: 'tether-precompress',
    apply: 'build',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    closeBundle() {
      const dir = join(outDir, 'assets');
      for (const name of readdirSync(dir)) {
        if (!['.js', '.css', '.svg', '.json', '.html'].includes(extname(name))) continue;
        const body = readFileSync(join(dir, name));
        if (body.length < 1024) continue;
        writeFileSync(
          join(dir, `${name}.br`),
          brotliCompressSync(body, {
            params: {
              [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
              [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
            },
          }),
        );
        writeFileSync(join(dir, `${name}.gz`), gzipSync(body, { level: 9 }));
      }
    },
  };
}

export default defineConfig({
  // One build for every mount point: assets are relative, the base path is found at run time
  // (see index.html and src/lib/base-path.ts).
  base: './',
  plugins: [react(), cspHashes(), precompress()],
  build: {
    target: 'es2022',
    // No source maps in the shipped build (they publish the whole source). WEB_SOURCEMAP=true
    // writes them, unreferenced, for an error tracker; the broker never serves *.map files.
    sourcemap: process.env.WEB_SOURCEMAP === 'true' ? 'hidden' : false,
    chunkSizeWarningLimit: 900,
  },
  server: {
    proxy: {
      '/api': {
        target: process.env.TETHER_API_URL ?? 'http://127.0.0.1:8080',
        ws: true,
        changeOrigin: false,
      },
    },
  },
  test: {
    environment: 'happy-dom',
    include: ['src/**/*.test.{ts,tsx}'],
  },
});
