import {
  NETBOX_DEFAULT_SSH_PORT,
  type NetboxDevice,
  type NetboxDeviceFilter,
  ProfileHostSchema,
} from '@tether/protocol';

const NAME_MAX = 200;
const TAG_MAX = 64;
const TAGS_MAX = 50;

/** The device fields the broker reads; everything else in NetBox's answer is ignored. */
interface RawDevice {
  id?: unknown;
  name?: unknown;
  display?: unknown;
  site?: { name?: unknown; slug?: unknown } | null;
  role?: { name?: unknown; slug?: unknown } | null;
  /** NetBox < 4.0 called the role `device_role`. */
  device_role?: { name?: unknown; slug?: unknown } | null;
  platform?: { name?: unknown; slug?: unknown } | null;
  device_type?: { model?: unknown } | null;
  status?: { value?: unknown } | string | null;
  serial?: unknown;
  primary_ip4?: { address?: unknown } | null;
  primary_ip6?: { address?: unknown } | null;
  tags?: Array<{ name?: unknown; slug?: unknown }> | null;
  custom_fields?: Record<string, unknown> | null;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v.trim() : null);

function named(v: { name?: unknown; slug?: unknown } | null | undefined) {
  const name = str(v?.name);
  const slug = str(v?.slug);
  return name || slug ? { name: name ?? slug ?? '', slug: slug ?? name ?? '' } : null;
}

/** `10.0.0.1/24` → `10.0.0.1`; `2001:db8::1/64` → `2001:db8::1`. */
export function stripPrefix(address: unknown): string | null {
  const a = str(address);
  if (!a) return null;
  const host = a.split('/')[0]!.trim();
  return ProfileHostSchema.safeParse(host).success ? host : null;
}

/** The custom field `ssh_port` (number or numeric string, 1-65535), else 22. */
function sshPort(customFields: RawDevice['custom_fields']): number {
  const raw = customFields?.ssh_port;
  const port = typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : raw;
  return typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535
    ? port
    : NETBOX_DEFAULT_SSH_PORT;
}

/** Maps one NetBox device (4.x REST shape, tolerant of 3.x) to what the import uses. */
export function mapDevice(input: unknown): NetboxDevice | null {
  const raw = (input ?? {}) as RawDevice;
  if (typeof raw.id !== 'number' || !Number.isInteger(raw.id)) return null;
  const deviceName = str(raw.name);
  const name = (deviceName ?? str(raw.display) ?? `device-${raw.id}`).slice(0, NAME_MAX);
  const v4 = stripPrefix(raw.primary_ip4?.address);
  const v6 = stripPrefix(raw.primary_ip6?.address);
  const byName = deviceName && ProfileHostSchema.safeParse(deviceName).success ? deviceName : null;
  const host = v4 ?? v6 ?? byName;
  let skipReason: string | null = null;
  if (!host) {
    skipReason = deviceName
      ? `no primary IP address, and the name "${deviceName}" is not a usable host name`
      : 'no primary IP address and no name';
  }
  const seen = new Set<string>();
  const tags: string[] = [];
  for (const t of raw.tags ?? []) {
    const tag = (str(t?.name) ?? str(t?.slug))?.slice(0, TAG_MAX);
    if (tag && !seen.has(tag.toLowerCase()) && tags.length < TAGS_MAX) {
      seen.add(tag.toLowerCase());
      tags.push(tag);
    }
  }
  const status = typeof raw.status === 'string' ? raw.status : str(raw.status?.value);
  return {
    id: raw.id,
    name,
    site: named(raw.site),
    role: named(raw.role ?? raw.device_role),
    platform: named(raw.platform),
    status,
    model: str(raw.device_type?.model)?.slice(0, NAME_MAX) ?? null,
    serial: str(raw.serial),
    tags,
    host,
    port: sshPort(raw.custom_fields),
    skipReason,
  };
}

/** Filters as NetBox's device list expects them. */
export function filterParams(filter: NetboxDeviceFilter): Record<string, string | undefined> {
  return {
    q: filter.q || undefined,
    site: filter.site || undefined,
    role: filter.role || undefined,
    platform: filter.platform || undefined,
    status: filter.status || undefined,
    tag: filter.tag || undefined,
  };
}
