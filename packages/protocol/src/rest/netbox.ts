import { z } from 'zod';
import { ErrorCode } from '../errors.js';
import { IsoDateSchema } from './common.js';

/**
 * NetBox import (DESIGN §8): find devices in NetBox and turn them into saved connections.
 *
 * The NetBox base URL is set by an admin (`NETBOX_URL`, or `PUT /api/admin/netbox`); the broker
 * never fetches any other URL for a user. Each user stores their own NetBox API token: it goes in
 * (`PUT /api/netbox/token`) and never comes out.
 *
 * Mapping of a NetBox device to a saved connection:
 * - host: primary IPv4, else primary IPv6 (prefix length stripped), else the device name when it
 *   is a usable host name; otherwise the device is skipped with the reason;
 * - port: the custom field `ssh_port` when set (1-65535), else 22;
 * - device type: the platform's slug; model: the device type's model; tags: the NetBox tags;
 * - `extra.netbox`: `{ id, site, role, serial, status, tags }`, by which a re-import finds and
 *   updates the same saved connection (stable id) instead of adding another.
 *
 * `POST /api/netbox/import` answers `application/x-ndjson`: one {@link NetboxImportEvent} per line,
 * `progress` while the broker pages through NetBox, then exactly one `done` or `error`. Nothing
 * is written until every device is fetched; the write is one transaction.
 */

export const NETBOX_IMPORT_CONTENT_TYPE = 'application/x-ndjson';
/** Upper bound of one import ("all matching" included). */
export const NETBOX_IMPORT_MAX_DEVICES = 20_000;
export const NETBOX_PAGE_MAX = 1000;
export const NETBOX_DEFAULT_SSH_PORT = 22;

const FILTER_MAX = 200;
const filterText = z.string().trim().max(FILTER_MAX, `must be at most ${FILTER_MAX} characters`);

/** Device filters, passed to NetBox's `/api/dcim/devices/` as-is (slugs, like NetBox's own UI). */
export const NetboxDeviceFilterSchema = z.object({
  /** NetBox's free-text search (name, serial, asset tag, …). */
  q: filterText.optional(),
  /** Site slug. */
  site: filterText.optional(),
  /** Device role slug. */
  role: filterText.optional(),
  /** Platform slug. */
  platform: filterText.optional(),
  /** Status value (`active`, `planned`, `offline`, …). */
  status: filterText.optional(),
  /** Tag slug. */
  tag: filterText.optional(),
});
export type NetboxDeviceFilter = z.infer<typeof NetboxDeviceFilterSchema>;

export const NetboxDeviceQuerySchema = NetboxDeviceFilterSchema.extend({
  offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
  limit: z.coerce.number().int().min(1).max(NETBOX_PAGE_MAX).default(50),
});
export type NetboxDeviceQuery = z.input<typeof NetboxDeviceQuerySchema>;

const NamedSchema = z.object({ slug: z.string(), name: z.string() });

/** A NetBox device as the broker maps it (see the module comment). */
export const NetboxDeviceSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  site: NamedSchema.nullable(),
  role: NamedSchema.nullable(),
  platform: NamedSchema.nullable(),
  status: z.string().nullable(),
  model: z.string().nullable(),
  serial: z.string().nullable(),
  tags: z.array(z.string()),
  /** The address the saved connection will use, or null when the device would be skipped. */
  host: z.string().nullable(),
  port: z.number().int(),
  /** Why the device cannot be imported (no usable address). */
  skipReason: z.string().nullable(),
});
export type NetboxDevice = z.infer<typeof NetboxDeviceSchema>;

export const NetboxDevicePageSchema = z.object({
  count: z.number().int(),
  offset: z.number().int(),
  limit: z.number().int(),
  devices: z.array(NetboxDeviceSchema),
});
export type NetboxDevicePage = z.infer<typeof NetboxDevicePageSchema>;

export const NetboxSiteListSchema = z.object({ sites: z.array(NamedSchema) });
export type NetboxSiteList = z.infer<typeof NetboxSiteListSchema>;

/** GET /api/netbox/status: no call to NetBox, just what is configured. */
export const NetboxStatusSchema = z.object({
  configured: z.boolean(),
  /** The base URL requests go to (shown so users know which NetBox it is). */
  url: z.string().nullable(),
  tokenStored: z.boolean(),
  tokenUpdatedAt: IsoDateSchema.nullable(),
});
export type NetboxStatus = z.infer<typeof NetboxStatusSchema>;

export const NetboxTokenRequestSchema = z.object({
  token: z
    .string({ error: 'is required' })
    .trim()
    .min(1, 'is required')
    .max(512, 'must be at most 512 characters')
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
});
export type NetboxTokenRequest = z.infer<typeof NetboxTokenRequestSchema>;

/** POST /api/netbox/test: always 200; `ok: false` carries the reason (code as below). */
export const NetboxTestResultSchema = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    version: z.string(),
    /** The token's user, when NetBox tells (null when it cannot be found out). */
    user: z.string().nullable(),
    deviceCount: z.number().int().nullable(),
  }),
  z.object({ ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }) }),
]);
export type NetboxTestResult = z.infer<typeof NetboxTestResultSchema>;

/** Error codes of NetBox routes (also in `NetboxTestResult.error.code`). */
export const NetboxErrorCode = {
  NOT_CONFIGURED: ErrorCode.NETBOX_NOT_CONFIGURED,
  NO_TOKEN: ErrorCode.NETBOX_NO_TOKEN,
  UNREACHABLE: ErrorCode.NETBOX_UNREACHABLE,
  TLS: ErrorCode.NETBOX_TLS,
  /** NetBox answered 401 or 403: token invalid, expired, or lacking permission. */
  UNAUTHORIZED: ErrorCode.NETBOX_UNAUTHORIZED,
  NOT_NETBOX: ErrorCode.NETBOX_NOT_NETBOX,
  /** NetBox answered an error (5xx or 429 after retries, other 4xx). */
  UPSTREAM: ErrorCode.NETBOX_UPSTREAM,
} as const;
export type NetboxErrorCode = (typeof NetboxErrorCode)[keyof typeof NetboxErrorCode];

export const NetboxImportRequestSchema = z
  .object({
    /** Import these devices … */
    deviceIds: z.array(z.number().int().positive()).min(1).max(NETBOX_IMPORT_MAX_DEVICES).optional(),
    /** … or every device matching this filter (the broker pages through NetBox). */
    filter: NetboxDeviceFilterSchema.optional(),
    /** `site`: one folder per site (created as needed); `folder`: all into `folderId` (null = top level). */
    folderMode: z.enum(['site', 'folder']).default('site'),
    folderId: z.uuid('must be a folder id').nullable().optional(),
  })
  .refine((v) => (v.deviceIds === undefined) !== (v.filter === undefined), {
    message: 'give either deviceIds or filter',
    path: ['deviceIds'],
  });
export type NetboxImportRequest = z.input<typeof NetboxImportRequestSchema>;

export const NetboxSkippedSchema = z.object({ id: z.number().int(), name: z.string(), reason: z.string() });
export type NetboxSkipped = z.infer<typeof NetboxSkippedSchema>;

export const NetboxImportResultSchema = z.object({
  fetched: z.number().int(),
  added: z.number().int(),
  updated: z.number().int(),
  unchanged: z.number().int(),
  skipped: z.array(NetboxSkippedSchema),
  foldersAdded: z.array(z.string()),
  ms: z.number().int(),
});
export type NetboxImportResult = z.infer<typeof NetboxImportResultSchema>;

export const NetboxImportEventSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('progress'),
    phase: z.enum(['fetch', 'save']),
    fetched: z.number().int(),
    total: z.number().int(),
  }),
  z.object({ type: z.literal('done'), result: NetboxImportResultSchema }),
  z.object({ type: z.literal('error'), error: z.object({ code: z.string(), message: z.string() }) }),
]);
export type NetboxImportEvent = z.infer<typeof NetboxImportEventSchema>;

/** GET/PUT /api/admin/netbox (`settings:manage`). A null field falls back to the environment. */
export const NetboxSettingsSchema = z.object({
  url: z.string().nullable(),
  tlsVerify: z.boolean().nullable(),
  /** What is in effect after the fallback. */
  effective: z.object({ url: z.string().nullable(), tlsVerify: z.boolean(), caFile: z.boolean() }),
});
export type NetboxSettings = z.infer<typeof NetboxSettingsSchema>;

export const NetboxBaseUrlSchema = z
  .string()
  .trim()
  .max(2000)
  // No credentials, query or fragment: the token travels in a header, never in the URL.
  .regex(
    /^https?:\/\/[A-Za-z0-9.\-[\]:]+(\/[^\s?#@]*)?$/,
    'must be an http(s) URL without credentials or query, e.g. https://netbox.example.net',
  );

export const UpdateNetboxSettingsRequestSchema = z.object({
  url: NetboxBaseUrlSchema.nullable().optional(),
  tlsVerify: z.boolean().nullable().optional(),
});
export type UpdateNetboxSettingsRequest = z.infer<typeof UpdateNetboxSettingsRequestSchema>;
