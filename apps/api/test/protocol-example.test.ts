import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type SshdHarness, sshdSkipReason, startSshd } from '@tether/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, buildTestApp, type TestApp } from './helpers.js';

const skip = sshdSkipReason();
const example = fileURLToPath(new URL('../../../packages/protocol/examples/client.mjs', import.meta.url));

// The protocol README promises that its example client runs as written against a local broker.
describe.skipIf(skip)('protocol README example client', () => {
  let sshd: SshdHarness;
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    sshd = await startSshd();
    t = await buildTestApp('pglite');
    base = await t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
  });

  it('signs in, opens a terminal, runs a command and reattaches', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [example], {
      timeout: 60_000,
      env: {
        ...process.env,
        TETHER_URL: base,
        TETHER_USER: ADMIN.username,
        TETHER_PASSWORD: ADMIN.password,
        SSH_HOST: sshd.host,
        SSH_PORT: String(sshd.port),
        SSH_USER: sshd.username,
        SSH_PASSWORD: sshd.password,
        SSH_ACCEPT_FINGERPRINT: sshd.hostKeyFingerprint,
      },
    });
    expect(stdout).toContain(`host key of 127.0.0.1:${sshd.port} is ssh-ed25519 ${sshd.hostKeyFingerprint}`);
    expect(stdout).toMatch(/reattached at offset \d+ \(replay=true\), shell still works/);
  });
});
