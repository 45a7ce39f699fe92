import { describe, expect, it } from 'vitest';
import { ApiError } from '../lib/api-client';
import { serverErrors } from './form';

/** A form's two methods serverErrors uses, recording what it is told. */
function fakeForm(values: Record<string, string>) {
  const set: Record<string, string | undefined> = {};
  return {
    set,
    form: {
      getValues: () => values,
      setError: (name: string, error: { message?: string }) => {
        set[name] = error.message;
      },
    },
  };
}

describe('serverErrors', () => {
  it('puts the broker’s field errors beside the fields the form has, and says nothing else', () => {
    const { set, form } = fakeForm({ name: '', username: '' });
    const err = new ApiError({
      status: 409,
      code: 'CONFLICT',
      message: 'Invalid',
      fields: { name: 'is taken' },
    });
    expect(serverErrors(err, form as never)).toBeNull();
    expect(set).toEqual({ name: 'is taken' });
  });

  it('returns the message when a field error names a field the form lacks, or there is none', () => {
    const { set, form } = fakeForm({ name: '' });
    const err = new ApiError({
      status: 400,
      code: 'VALIDATION_FAILED',
      message: 'Invalid',
      fields: { name: 'is required', extra: 'must be an object' },
    });
    expect(serverErrors(err, form as never)).toBe('name is required; extra must be an object');
    expect(set).toEqual({ name: 'is required' });
    expect(
      serverErrors(
        new ApiError({ status: 503, code: 'SERVICE_UNAVAILABLE', message: 'Try later.' }),
        form as never,
      ),
    ).toBe('Try later.');
  });
});
