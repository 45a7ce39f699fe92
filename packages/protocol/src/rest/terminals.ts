import { z } from 'zod';
import { IsoDateSchema } from './common.js';

/**
 * `unreachable`: running on a broker node that has stopped answering (its heartbeat is old). It
 * may come back; after NODE_LOST_AFTER without it the terminal is recorded `lost`.
 */
export const TerminalStatusSchema = z.enum(['connecting', 'running', 'unreachable', 'exited', 'lost']);
export type TerminalStatus = z.infer<typeof TerminalStatusSchema>;

export const TerminalSummarySchema = z.object({
  id: z.uuid(),
  host: z.string(),
  port: z.number().int(),
  username: z.string(),
  profileId: z.string().nullable(),
  title: z.string().nullable(),
  cols: z.number().int(),
  rows: z.number().int(),
  status: TerminalStatusSchema,
  /** Number of sockets attached right now (0 = detached). Only meaningful while running. */
  attached: z.number().int(),
  exitCode: z.number().int().nullable(),
  exitSignal: z.string().nullable(),
  endReason: z.string().nullable(),
  createdAt: IsoDateSchema,
  lastAttachedAt: IsoDateSchema.nullable(),
  lastOutputAt: IsoDateSchema.nullable(),
  endedAt: IsoDateSchema.nullable(),
});
export type TerminalSummary = z.infer<typeof TerminalSummarySchema>;

export const TerminalListSchema = z.object({ terminals: z.array(TerminalSummarySchema) });
export type TerminalList = z.infer<typeof TerminalListSchema>;

export const KnownHostSchema = z.object({
  id: z.uuid(),
  host: z.string(),
  port: z.number().int(),
  keyType: z.string(),
  fingerprint: z.string(),
  createdAt: IsoDateSchema,
});
export type KnownHost = z.infer<typeof KnownHostSchema>;

export const KnownHostListSchema = z.object({ knownHosts: z.array(KnownHostSchema) });
export type KnownHostList = z.infer<typeof KnownHostListSchema>;
