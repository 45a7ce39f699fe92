import { matchQuery, QueryClient } from '@tanstack/react-query';
import { describe, expect, it } from 'vitest';
import { ApiError } from './api-client';
import { apiKey, createQueryClient, errorText } from './queries';

describe('apiKey', () => {
  it('splits the path into segments and the query string into an object', () => {
    expect(apiKey('admin/terminals?status=live')).toEqual(['api', 'admin', 'terminals', { status: 'live' }]);
    expect(apiKey('known-hosts')).toEqual(['api', 'known-hosts']);
  });

  it('invalidating a path reaches its filtered variants, and nothing beside it', () => {
    const client = new QueryClient();
    for (const path of [
      'admin/terminals?status=live',
      'admin/terminals?status=all',
      'admin/users',
      'terminals',
    ])
      client.setQueryData(apiKey(path), path);
    const hit = client
      .getQueryCache()
      .findAll()
      .filter((q) => matchQuery({ queryKey: apiKey('admin/terminals') }, q))
      .map((q) => q.state.data);
    expect(hit.sort()).toEqual(['admin/terminals?status=all', 'admin/terminals?status=live']);
  });
});

describe('errorText', () => {
  it('says what the broker said, every field error, or that the server is out of reach', () => {
    expect(errorText(new ApiError({ status: 409, code: 'CONFLICT', message: 'That name is taken.' }))).toBe(
      'That name is taken.',
    );
    expect(
      errorText(
        new ApiError({
          status: 400,
          code: 'VALIDATION_FAILED',
          message: 'Invalid',
          fields: { username: 'is required', password: 'is too short' },
        }),
      ),
    ).toBe('username is required; password is too short');
    expect(errorText(new ApiError({ status: 0, code: 'NETWORK_ERROR', message: 'fetch failed' }))).toBe(
      'Cannot reach the server.',
    );
    expect(errorText(new Error('boom'))).toBe('Something went wrong.');
  });
});

describe('the query client', () => {
  it('retries a lost connection, never an answer from the broker', () => {
    const retry = createQueryClient().getDefaultOptions().queries?.retry as (
      n: number,
      e: unknown,
    ) => boolean;
    const network = new ApiError({ status: 0, code: 'NETWORK_ERROR', message: 'offline' });
    expect(retry(0, network)).toBe(true);
    expect(retry(2, network)).toBe(false);
    expect(retry(0, new ApiError({ status: 403, code: 'FORBIDDEN', message: 'no' }))).toBe(false);
  });
});
