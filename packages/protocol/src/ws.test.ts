import { describe, expect, it } from 'vitest';
import { ErrorBodySchema } from './errors.js';
import { LoginRequestSchema } from './rest/auth.js';
import { ClientMessageSchema, CloseCode, ServerMessageSchema } from './ws.js';

describe('client messages', () => {
  it('accepts each documented message', () => {
    const id = '3f1e2d4c-5b6a-4789-8abc-def012345678';
    const valid = [
      { type: 'auth', token: 't' },
      { type: 'open', target: { host: 'db-1.example', username: 'me' }, cols: 80, rows: 24 },
      { type: 'open', profileId: 'p1', cols: 80, rows: 24, auth: { method: 'password', password: 'x' } },
      { type: 'attach', terminalId: id, resumeFrom: 0 },
      { type: 'resize', cols: 1000, rows: 500 },
      { type: 'ack', offset: 123 },
      { type: 'hostkey_decision', accept: true },
      { type: 'prompt_response', responses: ['123456'] },
      { type: 'ping' },
      { type: 'terminate' },
    ];
    for (const m of valid) expect(ClientMessageSchema.safeParse(m).success, JSON.stringify(m)).toBe(true);
  });

  it('defaults the SSH port to 22', () => {
    const parsed = ClientMessageSchema.parse({
      type: 'open',
      target: { host: 'h', username: 'u' },
      cols: 80,
      rows: 24,
    });
    expect(parsed.type === 'open' && parsed.target?.port).toBe(22);
  });

  it('rejects unknown types, bad sizes, negative offsets, bad scrollback and ambiguous opens', () => {
    const invalid = [
      { type: 'launch' },
      { type: 'resize', cols: 0, rows: 0 },
      { type: 'resize', cols: 100000, rows: 100000 },
      { type: 'resize', cols: 1.5, rows: 2 },
      { type: 'ack', offset: -1 },
      { type: 'attach', terminalId: 'not-a-uuid' },
      { type: 'attach', terminalId: '0b7d8a34-1b6e-4f0e-9b52-6a3c2f9d1e11', scrollback: -1 },
      { type: 'attach', terminalId: '0b7d8a34-1b6e-4f0e-9b52-6a3c2f9d1e11', scrollback: 1.5 },
      { type: 'open', target: { host: 'h', username: 'u' }, cols: 80, rows: 24, scrollback: 100_001 },
      { type: 'open', cols: 80, rows: 24 },
      { type: 'open', target: { host: 'h', username: 'u' }, profileId: 'p', cols: 80, rows: 24 },
      { type: 'open', target: { host: 'h; rm -rf /', username: 'u' }, cols: 80, rows: 24 },
      { type: 'open', target: { host: 'h', port: 70000, username: 'u' }, cols: 80, rows: 24 },
      { type: 'auth', token: '' },
      [],
      null,
    ];
    for (const m of invalid) expect(ClientMessageSchema.safeParse(m).success, JSON.stringify(m)).toBe(false);
  });
});

describe('server messages and REST bodies', () => {
  it('parses ready and error messages and rejects unknown ones', () => {
    expect(
      ServerMessageSchema.safeParse({
        type: 'ready',
        terminalId: '3f1e2d4c-5b6a-4789-8abc-def012345678',
        offset: 10,
        cols: 80,
        rows: 24,
        host: 'h',
        port: 22,
        username: 'u',
        replay: true,
      }).success,
    ).toBe(true);
    expect(ServerMessageSchema.safeParse({ type: 'error', code: 'AUTH_FAILED', message: 'no' }).success).toBe(
      true,
    );
    expect(ServerMessageSchema.safeParse({ type: 'output', data: 'x' }).success).toBe(false);
  });

  it('caps login passwords at 1024 characters without truncating', () => {
    expect(LoginRequestSchema.safeParse({ username: 'a', password: 'x'.repeat(1024) }).success).toBe(true);
    expect(LoginRequestSchema.safeParse({ username: 'a', password: 'x'.repeat(1025) }).success).toBe(false);
  });

  it('keeps application close codes in the 4000 range and distinct', () => {
    const app = Object.values(CloseCode).filter((c) => c >= 4000);
    expect(app.every((c) => c < 5000)).toBe(true);
    expect(new Set(Object.values(CloseCode)).size).toBe(Object.values(CloseCode).length);
    expect(ErrorBodySchema.safeParse({ error: { code: 'X', message: 'y' } }).success).toBe(true);
  });
});
