import { describe, expect, it } from 'vitest';
import {
  createTargetPolicy,
  describeTargetPolicy,
  normalizeAddress,
  parseTargetList,
} from './target-policy.js';

const fakeDns = (table: Record<string, string[]>) => async (host: string) => {
  const addrs = table[host];
  if (!addrs) throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
  return addrs.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

describe('target policy', () => {
  it('denies cloud metadata and link-local addresses with no lists configured', async () => {
    const policy = createTargetPolicy();
    for (const host of [
      '169.254.169.254',
      '169.254.1.1',
      'fe80::1',
      '::ffff:169.254.169.254',
      '::ffff:a9fe:a9fe',
      '[fe80::1]',
      'fd00:ec2::254',
      '0.0.0.0',
      '100.100.100.200',
    ]) {
      await expect(policy.resolve(host), host).rejects.toMatchObject({ code: 'TARGET_DENIED' });
    }
    await expect(policy.resolve('203.0.113.7')).resolves.toMatchObject({ address: '203.0.113.7', family: 4 });
  });

  it('denies loopback and private networks unless the allow list names them', async () => {
    const dns = fakeDns({ 'intranet.example': ['203.0.113.9', '10.0.0.8'], 'db.example': ['::1'] });
    const policy = createTargetPolicy({ lookup: dns });
    for (const host of [
      '127.0.0.1',
      '127.8.9.10',
      '::1',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.254',
      '192.168.1.1',
      '100.64.0.1',
      'fd12:3456::1',
      '::ffff:192.168.1.1',
      'intranet.example',
      'db.example',
    ]) {
      await expect(policy.resolve(host), host).rejects.toMatchObject({ code: 'TARGET_DENIED' });
    }
    await expect(policy.resolve('172.32.0.1')).resolves.toMatchObject({ address: '172.32.0.1' });
    const lab = createTargetPolicy({ allowed: '10.0.0.0/8,127.0.0.1', lookup: dns });
    await expect(lab.resolve('10.1.2.3')).resolves.toMatchObject({ address: '10.1.2.3' });
    await expect(lab.resolve('127.0.0.1')).resolves.toMatchObject({ address: '127.0.0.1' });
    await expect(lab.resolve('192.168.1.1')).rejects.toMatchObject({ code: 'TARGET_DENIED' });
    expect(describeTargetPolicy({})).toMatch(/^public addresses only/);
    expect(describeTargetPolicy({ allowed: '10.0.0.0/8', denied: '10.9.0.0/16' })).toBe(
      'only 10.0.0.0/8; never link-local or cloud metadata, nor 10.9.0.0/16',
    );
  });

  it('checks the resolved addresses, not the name', async () => {
    const policy = createTargetPolicy({
      lookup: fakeDns({
        'metadata.example': ['169.254.169.254'],
        'mixed.example': ['203.0.113.5', '169.254.169.254'],
      }),
    });
    await expect(policy.resolve('metadata.example')).rejects.toMatchObject({ code: 'TARGET_DENIED' });
    await expect(policy.resolve('mixed.example')).rejects.toMatchObject({ code: 'TARGET_DENIED' });
  });

  it('returns the resolved address so the connection cannot be rebound by a second lookup', async () => {
    const policy = createTargetPolicy({ lookup: fakeDns({ 'box.example': ['203.0.113.3', '203.0.113.4'] }) });
    await expect(policy.resolve('box.example')).resolves.toEqual({
      address: '203.0.113.3',
      family: 4,
      addresses: ['203.0.113.3', '203.0.113.4'],
    });
  });

  it('allows only listed CIDRs and host globs when an allow list is set', async () => {
    const policy = createTargetPolicy({
      allowed: '10.0.0.0/8, *.lab.example, 2001:db8::/32',
      lookup: fakeDns({
        'r1.lab.example': ['192.168.5.5'],
        'evil.example': ['192.168.5.5'],
        'in.example': ['10.9.9.9'],
      }),
    });
    await expect(policy.resolve('10.20.30.40')).resolves.toMatchObject({ address: '10.20.30.40' });
    await expect(policy.resolve('::ffff:10.0.0.1')).resolves.toMatchObject({
      address: '10.0.0.1',
      family: 4,
    });
    await expect(policy.resolve('R1.Lab.Example.')).resolves.toMatchObject({ address: '192.168.5.5' });
    await expect(policy.resolve('in.example')).resolves.toMatchObject({ address: '10.9.9.9' });
    await expect(policy.resolve('2001:db8::10')).resolves.toMatchObject({ family: 6 });
    await expect(policy.resolve('evil.example')).rejects.toMatchObject({ code: 'TARGET_DENIED' });
    await expect(policy.resolve('11.0.0.1')).rejects.toMatchObject({ code: 'TARGET_DENIED' });
    await expect(policy.resolve('127.0.0.1')).rejects.toMatchObject({ code: 'TARGET_DENIED' });
  });

  it('lets the deny list win over the allow list, for names and addresses', async () => {
    const policy = createTargetPolicy({
      allowed: '10.0.0.0/8,*.lab.example',
      denied: '10.66.0.0/16, secret.lab.example',
      lookup: fakeDns({ 'secret.lab.example': ['10.1.1.1'], 'x.lab.example': ['10.66.1.1'] }),
    });
    await expect(policy.resolve('10.66.3.4')).rejects.toMatchObject({ code: 'TARGET_DENIED' });
    await expect(policy.resolve('secret.lab.example')).rejects.toMatchObject({ code: 'TARGET_DENIED' });
    await expect(policy.resolve('x.lab.example')).rejects.toMatchObject({ code: 'TARGET_DENIED' });
    await expect(policy.resolve('10.1.1.1')).resolves.toBeTruthy();
  });

  it('uses one generic message that does not reveal which rule matched', async () => {
    const policy = createTargetPolicy({ denied: '10.0.0.0/8' });
    const a = await policy.resolve('10.0.0.1').catch((e: Error) => e.message);
    const b = await policy.resolve('169.254.169.254').catch((e: Error) => e.message);
    expect(a).toBe(b);
  });

  it('reports unresolvable names as DNS_FAILED', async () => {
    const policy = createTargetPolicy({ lookup: fakeDns({}) });
    await expect(policy.resolve('nope.invalid')).rejects.toMatchObject({ code: 'DNS_FAILED' });
  });

  it('rejects malformed list entries at start-up', () => {
    expect(() => createTargetPolicy({ allowed: '10.0.0.0/33' })).toThrow(/SSH_ALLOWED_TARGETS/);
    expect(() => createTargetPolicy({ denied: 'foo bar' })).toThrow(/SSH_DENIED_TARGETS/);
  });

  it('normalizes IPv4-mapped and compatible IPv6 addresses', () => {
    expect(normalizeAddress('::ffff:192.168.1.1')).toEqual({ address: '192.168.1.1', family: 4 });
    expect(normalizeAddress('::FFFF:c0a8:0101')).toEqual({ address: '192.168.1.1', family: 4 });
    expect(normalizeAddress('::1')).toEqual({ address: '0:0:0:0:0:0:0:1', family: 6 });
    expect(parseTargetList(' a, ,b ')).toEqual(['a', 'b']);
  });
});
