import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameReader } from './framing.js';
import { ApiMessageSchema, HostMessageSchema } from './messages.js';

const ID = '5b0c6a57-7a4c-4d51-9a4f-0f1f7b7c2a10';

function roundTrip(message: unknown): unknown {
  const [decoded] = new FrameReader().push(encodeFrame(message));
  return decoded;
}

describe('messages', () => {
  it('accepts what each side sends, after a trip through the framing', () => {
    const input = roundTrip({ t: 'input', id: ID, data: Buffer.from('ls\r'), stream: 's1', at: 12 });
    const parsed = ApiMessageSchema.parse(input);
    expect(parsed.t).toBe('input');
    expect(Buffer.from((parsed as { data: Uint8Array }).data).toString()).toBe('ls\r');
    const open = {
      t: 'open',
      rid: 1,
      id: ID,
      userId: ID,
      target: { host: '127.0.0.1', port: 22, username: 'u' },
      auth: { method: 'password', password: 'p' },
      cols: 80,
      rows: 24,
      title: null,
      knownHost: null,
    };
    expect(ApiMessageSchema.parse(roundTrip(open))).toEqual(open);
    const msg = {
      t: 'msg',
      vid: 3,
      m: { type: 'exit', terminalId: ID, code: 0, signal: null, reason: 'done' },
    };
    expect(HostMessageSchema.parse(roundTrip(msg))).toEqual(msg);
  });

  it('refuses unknown types, missing fields and wrong kinds of values', () => {
    for (const bad of [
      { t: 'shell', cmd: 'rm -rf /' },
      { t: 'input', id: ID, data: 'a string, not bytes' },
      { t: 'input', id: 'not-a-uuid', data: Buffer.from('x') },
      { t: 'resize', id: ID, cols: 100_000, rows: 24 },
      { t: 'hello', protocol: 1, secret: '' },
      null,
      42,
      [1, 2, 3],
    ]) {
      expect(ApiMessageSchema.safeParse(roundTrip(bad)).success, JSON.stringify(bad)).toBe(false);
    }
  });
});
