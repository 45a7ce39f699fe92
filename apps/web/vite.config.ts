import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
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

export default defineConfig({
  // One build for every mount point: assets are relative, the base path is found at run time
  // (see index.html and src/lib/base-path.ts).
  base: './',
  plugins: [react(), cspHashes()],
  build: {
    target: 'es2022',
    sourcemap: true,
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
