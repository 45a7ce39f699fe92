import { z } from 'zod';

/**
 * An SSH target's host and port, as the terminal socket's `open` and saved connections both take
 * them (one rule, so every saved connection can be opened). Messages are predicates about the
 * field ("is required"): clients say them after the field's name.
 */
export const HostNameSchema = z
  .string()
  .trim()
  .min(1, 'is required')
  .max(253, 'must be at most 253 characters')
  .regex(/^[a-zA-Z0-9._:[\]-]+$/, 'must be a host name or IP address');

export const PortSchema = z
  .number({ error: 'must be a number from 1 to 65535' })
  .int('must be a whole number')
  .min(1, 'must be from 1 to 65535')
  .max(65535, 'must be from 1 to 65535');
