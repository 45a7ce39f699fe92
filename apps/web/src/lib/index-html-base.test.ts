import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Runs index.html's inline base-path script against a given location. */
function baseFor(pathname: string): string | null {
  const html = readFileSync(resolve(__dirname, '../../index.html'), 'utf8');
  const script = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1];
  if (!script) throw new Error('inline script not found');
  let href: string | null = null;
  const fakeDocument = {
    createElement: () => ({
      setAttribute(name: string, value: string) {
        if (name === 'href') href = value;
      },
    }),
    head: { appendChild: () => undefined },
  };
  new Function('location', 'document', script)({ pathname }, fakeDocument);
  return href;
}

describe('index.html base path', () => {
  it.each([
    ['/', '/'],
    ['/login', '/'],
    ['/terminals', '/'],
    ['/admin/users', '/'],
    ['/admin/sessions', '/'],
    ['/account', '/'],
    ['/credentials', '/'],
    ['/admin', '/'],
    ['/admin/audit', '/'],
    ['/ssh-ws/credentials', '/ssh-ws/'],
    ['/ssh-ws/admin/terminals', '/ssh-ws/'],
    ['/ssh-ws/', '/ssh-ws/'],
    ['/ssh-ws/login', '/ssh-ws/'],
    ['/ssh-ws/admin/users', '/ssh-ws/'],
    ['/ssh-ws/terminals/0b7d8a34-1b6e-4f0e-9b52-6a3c2f9d1e11', '/ssh-ws/'],
    ['/a/b/index.html', '/a/b/'],
    ['/admin-tools/ssh/', '/admin-tools/ssh/'],
  ])('%s → %s', (path, base) => {
    expect(baseFor(path)).toBe(base);
  });
});
