import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENV_VARIABLES } from '../src/config.js';

const read = (rel: string) => readFileSync(new URL(`../../../${rel}`, import.meta.url), 'utf8');

describe('configuration documentation', () => {
  it('docker/.env.example documents every variable the broker reads', () => {
    const example = read('docker/.env.example');
    const missing = ENV_VARIABLES.filter((name) => !new RegExp(`^#? ?${name}=`, 'm').test(example));
    expect(missing).toEqual([]);
  });

  it('the README configuration table lists every variable', () => {
    const readme = read('README.md');
    const missing = ENV_VARIABLES.filter((name) => !readme.includes(`| \`${name}\` |`));
    expect(missing).toEqual([]);
  });
});
