import { ErrorCode } from '@tether/protocol';
import { type SshdHarness, sshdSkipReason, startSshd } from '@tether/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSsh, hostKeyInfo, openShell, type SshConnectOptions } from '../src/ssh-connect.js';
import { createTargetPolicy } from '../src/target-policy.js';
import { createInteraction, LOOPBACK_ONLY, MemoryKnownHosts, targetOf } from './helpers.js';

const skip = sshdSkipReason();

describe.skipIf(skip !== null)(
  `SSH connect against a real OpenSSH sshd${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let sshd: SshdHarness;
    const policy = createTargetPolicy(LOOPBACK_ONLY);

    beforeAll(async () => {
      sshd = await startSshd();
    });
    afterAll(async () => {
      await sshd?.stop();
    });

    function options(overrides: Partial<SshConnectOptions> = {}): SshConnectOptions {
      const known = new MemoryKnownHosts();
      known.remember(sshd.host, sshd.port, { keyType: 'ssh-ed25519', fingerprint: sshd.hostKeyFingerprint });
      known.remember(sshd.host, sshd.multiStepPort, {
        keyType: 'ssh-ed25519',
        fingerprint: sshd.hostKeyFingerprint,
      });
      return {
        target: targetOf(sshd),
        auth: { method: 'password', password: sshd.password },
        policy,
        knownHosts: known,
        interaction: createInteraction().interaction,
        connectTimeoutMs: 10_000,
        ...overrides,
      };
    }

    async function runs(opts: SshConnectOptions): Promise<string> {
      const { client } = await connectSsh(opts);
      try {
        const channel = await openShell(client, { cols: 80, rows: 24 });
        let out = '';
        channel.on('data', (d: Buffer) => {
          out += d.toString();
        });
        channel.write('echo mark"er-"$((40+2))\n');
        const deadline = Date.now() + 5000;
        while (!out.includes('marker-42') && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 20));
        return out;
      } finally {
        client.end();
      }
    }

    it('logs in with a password and opens a PTY shell', async () => {
      expect(await runs(options())).toContain('marker-42');
    });

    it('asks about an unknown host key with the fingerprint ssh-keygen prints, and remembers it', async () => {
      const known = new MemoryKnownHosts();
      const { interaction, hostKeyPrompts } = createInteraction({ accept: true });
      const { client, hostKey } = await connectSsh(options({ knownHosts: known, interaction }));
      client.end();
      expect(hostKeyPrompts).toEqual([
        { host: sshd.host, port: sshd.port, keyType: 'ssh-ed25519', fingerprint: sshd.hostKeyFingerprint },
      ]);
      expect(hostKey.fingerprint).toBe(sshd.hostKeyFingerprint);
      expect(known.lookup(sshd.host, sshd.port)).toEqual({
        keyType: 'ssh-ed25519',
        fingerprint: sshd.hostKeyFingerprint,
      });
      // Second time: no question.
      const second = createInteraction();
      const again = await connectSsh(options({ knownHosts: known, interaction: second.interaction }));
      again.client.end();
      expect(second.hostKeyPrompts).toHaveLength(0);
    });

    it('refuses an unknown host key the user rejects', async () => {
      const known = new MemoryKnownHosts();
      const { interaction } = createInteraction({ accept: false });
      await expect(connectSsh(options({ knownHosts: known, interaction }))).rejects.toMatchObject({
        code: ErrorCode.HOSTKEY_REJECTED,
      });
      expect(known.entries.size).toBe(0);
    });

    it('rejects a wrong password with AUTH_FAILED and a message without the password', async () => {
      const err = await connectSsh(
        options({ auth: { method: 'password', password: 'wrong-Secret-123' } }),
      ).catch((e) => e);
      expect(err).toMatchObject({ code: ErrorCode.AUTH_FAILED });
      expect(String(err.message)).not.toContain('wrong-Secret-123');
    });

    it('logs in with an encrypted private key and its passphrase, and with a plain key', async () => {
      const enc = sshd.keys.encrypted;
      expect(
        await runs(
          options({ auth: { method: 'publickey', privateKey: enc.privateKey, passphrase: enc.passphrase } }),
        ),
      ).toContain('marker-42');
      expect(
        await runs(options({ auth: { method: 'publickey', privateKey: sshd.keys.plain.privateKey } })),
      ).toContain('marker-42');
    });

    it('reports a wrong passphrase, a missing passphrase and a garbage key as KEY_INVALID', async () => {
      const enc = sshd.keys.encrypted;
      for (const auth of [
        { method: 'publickey' as const, privateKey: enc.privateKey, passphrase: 'not-it' },
        { method: 'publickey' as const, privateKey: enc.privateKey },
        {
          method: 'publickey' as const,
          privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\ngarbage\n-----END OPENSSH PRIVATE KEY-----',
        },
        { method: 'publickey' as const, privateKey: sshd.keys.plain.publicKey },
      ]) {
        const err = await connectSsh(options({ auth })).catch((e) => e);
        expect(err).toMatchObject({ code: ErrorCode.KEY_INVALID });
        expect(String(err.message)).not.toContain('not-it');
      }
    });

    it('relays keyboard-interactive prompts from PAM and logs in with the answers', async () => {
      const { interaction, prompts } = createInteraction({ responses: [sshd.password] });
      expect(await runs(options({ auth: { method: 'keyboard-interactive' }, interaction }))).toContain(
        'marker-42',
      );
      expect(prompts.length).toBeGreaterThanOrEqual(1);
      expect(prompts[0]?.prompts[0]).toMatchObject({ echo: false });
      expect(prompts[0]?.prompts[0]?.prompt).toMatch(/password/i);
    });

    it('fails keyboard-interactive with wrong answers as AUTH_FAILED', async () => {
      const { interaction } = createInteraction({ responses: ['nope'] });
      await expect(
        connectSsh(options({ auth: { method: 'keyboard-interactive' }, interaction })),
      ).rejects.toMatchObject({
        code: ErrorCode.AUTH_FAILED,
      });
    }, 40_000);

    it('completes multi-step publickey,password authentication', async () => {
      const target = targetOf(sshd, sshd.multiStepPort);
      const plain = sshd.keys.plain.privateKey;
      expect(
        await runs(
          options({ target, auth: { method: 'publickey', privateKey: plain, password: sshd.password } }),
        ),
      ).toContain('marker-42');
      // Without a password in the credentials the second step is asked for interactively.
      const { interaction, prompts } = createInteraction({ responses: [sshd.password] });
      expect(
        await runs(options({ target, interaction, auth: { method: 'publickey', privateKey: plain } })),
      ).toContain('marker-42');
      expect(prompts).toHaveLength(1);
      // A password alone is not enough there.
      await expect(
        connectSsh(options({ target, auth: { method: 'password', password: sshd.password } })),
      ).rejects.toMatchObject({
        code: ErrorCode.AUTH_FAILED,
      });
    });

    it('maps a closed port to CONNECTION_REFUSED', async () => {
      const net = await import('node:net');
      const port = await new Promise<number>((resolve) => {
        const s = net.createServer().listen(0, '127.0.0.1', () => {
          const p = (s.address() as { port: number }).port;
          s.close(() => resolve(p));
        });
      });
      await expect(connectSsh(options({ target: { ...targetOf(sshd), port } }))).rejects.toMatchObject({
        code: ErrorCode.CONNECTION_REFUSED,
      });
    });

    it('maps a server that never speaks SSH to CONNECTION_TIMEOUT', async () => {
      const net = await import('node:net');
      const sockets: import('node:net').Socket[] = [];
      const server = net.createServer((s) => sockets.push(s));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      const port = (server.address() as { port: number }).port;
      const started = Date.now();
      await expect(
        connectSsh(options({ target: { ...targetOf(sshd), port }, connectTimeoutMs: 500 })),
      ).rejects.toMatchObject({
        code: ErrorCode.CONNECTION_TIMEOUT,
      });
      expect(Date.now() - started).toBeLessThan(3000);
      for (const s of sockets) s.destroy();
      server.close();
    });

    it('denies targets outside the policy before any connection', async () => {
      await expect(
        connectSsh(
          options({
            target: { host: '169.254.169.254', port: 22, username: 'x' },
            policy: createTargetPolicy(),
          }),
        ),
      ).rejects.toMatchObject({ code: ErrorCode.TARGET_DENIED });
      await expect(
        connectSsh(options({ policy: createTargetPolicy({ allowed: '10.0.0.0/8' }) })),
      ).rejects.toMatchObject({ code: ErrorCode.TARGET_DENIED });
    });

    it('refuses a changed host key before sending any credential (HOSTKEY_CHANGED)', async () => {
      const known = new MemoryKnownHosts();
      known.remember(sshd.host, sshd.port, { keyType: 'ssh-ed25519', fingerprint: sshd.hostKeyFingerprint });
      const oldFingerprint = sshd.hostKeyFingerprint;
      const newFingerprint = await sshd.regenerateHostKey();
      expect(newFingerprint).not.toBe(oldFingerprint);
      const { interaction, hostKeyPrompts, prompts } = createInteraction({
        accept: true,
        responses: [sshd.password],
      });
      const err = await connectSsh(
        options({ knownHosts: known, interaction, auth: { method: 'keyboard-interactive' } }),
      ).catch((e) => e);
      expect(err).toMatchObject({
        code: ErrorCode.HOSTKEY_CHANGED,
        details: { expectedFingerprint: oldFingerprint, presentedFingerprint: newFingerprint },
      });
      // Neither asked to accept it nor asked for credentials: authentication never started.
      expect(hostKeyPrompts).toHaveLength(0);
      expect(prompts).toHaveLength(0);
      expect(sshd.logs()).not.toMatch(/Accepted|Failed (password|keyboard)/);
      expect(known.lookup(sshd.host, sshd.port)?.fingerprint).toBe(oldFingerprint);
    });

    it('computes OpenSSH fingerprints', () => {
      const blob = Buffer.from(
        'AAAAC3NzaC1lZDI1NTE5AAAAIBXBOhlmD4ZDzi0Y9C5lsaXsYtQ3dCdGBgHckm/5yIvB',
        'base64',
      );
      expect(hostKeyInfo(blob).keyType).toBe('ssh-ed25519');
      expect(hostKeyInfo(blob).fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    });
  },
);
