import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { ErrorCode } from '@tether/protocol';
import { TerminalError } from './terminal-error.js';

/**
 * Which SSH targets the broker may connect to (DESIGN §7): it must not become an open proxy
 * into the networks it sits in.
 *
 * Rules, evaluated on the name as given AND on every address it resolves to:
 *  1. Always denied (unless `denyLinkLocal: false`): link-local (169.254.0.0/16, fe80::/10,
 *     where cloud metadata services live), other well-known metadata addresses, unspecified,
 *     multicast and broadcast addresses.
 *  2. Denied if the name matches a SSH_DENIED_TARGETS glob or ANY resolved address is in a
 *     denied CIDR.
 *  3. If SSH_ALLOWED_TARGETS is non-empty, allowed only if the name matches an allowed glob or
 *     EVERY resolved address is in an allowed CIDR.
 *  4. If it is empty (the default), denied if ANY resolved address is internal: loopback,
 *     private (RFC 1918, ULA), carrier-grade NAT. A broker that reaches its own network must be
 *     told which parts of it (e.g. SSH_ALLOWED_TARGETS=10.0.0.0/8): otherwise any user could map
 *     the internal network through it (which ports answer, which are filtered).
 * The caller connects to the returned address, never the name again: a second resolution could
 * return a different (rebinding) answer than the one checked.
 */

export type LookupAll = (host: string) => Promise<Array<{ address: string; family: number }>>;

export interface TargetPolicyOptions {
  /** SSH_ALLOWED_TARGETS: comma-separated (or array) CIDRs, IPs and host globs. */
  allowed?: string | readonly string[];
  /** SSH_DENIED_TARGETS, same syntax. */
  denied?: string | readonly string[];
  /** Keep true unless the broker really must reach link-local devices. */
  denyLinkLocal?: boolean;
  /**
   * Loopback and private networks without an allow list: denied (SSH, where every user picks
   * targets) or allowed (an address only an admin sets, like NetBox's).
   */
  internal?: 'deny-unless-allowed' | 'allow';
  /** DNS resolution; defaults to dns.lookup({ all: true }) (what the OS would use). */
  lookup?: LookupAll;
  /** Abort resolution after this long. */
  lookupTimeoutMs?: number;
}

export interface ResolvedTarget {
  /** The address to connect to (an IP literal). */
  address: string;
  family: 4 | 6;
  /** Every address the name resolved to (all were checked). */
  addresses: string[];
}

export interface TargetPolicy {
  /** Resolves and checks `host`. Throws TerminalError TARGET_DENIED or DNS_FAILED. */
  resolve(host: string): Promise<ResolvedTarget>;
}

// One message for every rule: which rule matched would tell a user what a name resolves to.
const DENIED_MESSAGE =
  'Connections to this host are not allowed by the broker policy (an administrator can allow it with SSH_ALLOWED_TARGETS).';

/** Addresses no SSH target should ever be: metadata endpoints and non-unicast ranges. */
const DEFAULT_DENIED_V4: Array<[string, number]> = [
  ['169.254.0.0', 16], // link-local, incl. 169.254.169.254 (AWS, GCP, Azure, OpenStack metadata)
  ['100.100.100.200', 32], // Alibaba Cloud metadata
  ['0.0.0.0', 8], // "this network": connecting to 0.0.0.0 reaches the broker host itself
  ['224.0.0.0', 4], // multicast
  ['255.255.255.255', 32], // broadcast
];
const DEFAULT_DENIED_V6: Array<[string, number]> = [
  ['fe80::', 10], // link-local
  ['fd00:ec2::254', 128], // AWS metadata over IPv6
  ['::', 128], // unspecified
  ['ff00::', 8], // multicast
];

/** The broker's own and private networks: denied unless SSH_ALLOWED_TARGETS lists them. */
const INTERNAL_V4: Array<[string, number]> = [
  ['127.0.0.0', 8], // loopback: the broker host's own services
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['100.64.0.0', 10], // carrier-grade NAT, also Tailscale
  ['198.18.0.0', 15], // benchmarking networks, used inside data centres
];
const INTERNAL_V6: Array<[string, number]> = [
  ['::1', 128],
  ['fc00::', 7], // unique local addresses
];

export function parseTargetList(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  const items = typeof value === 'string' ? value.split(',') : value;
  return items.map((s) => s.trim()).filter((s) => s.length > 0);
}

interface CompiledList {
  addresses: BlockList;
  hasAddresses: boolean;
  globs: RegExp[];
}

function compileList(entries: string[], name: string): CompiledList {
  const addresses = new BlockList();
  let hasAddresses = false;
  const globs: RegExp[] = [];
  for (const entry of entries) {
    const slash = entry.indexOf('/');
    const ipPart = stripBrackets(slash === -1 ? entry : entry.slice(0, slash));
    const family = isIP(ipPart);
    if (family !== 0) {
      const normalized = normalizeAddress(ipPart);
      const max = normalized.family === 4 ? 32 : 128;
      let prefix = max;
      if (slash !== -1) {
        const raw = entry.slice(slash + 1);
        prefix = /^\d{1,3}$/.test(raw) ? Number(raw) : Number.NaN;
        // A mapped IPv6 prefix (::ffff:10.0.0.0/104) becomes the equivalent IPv4 prefix.
        if (family === 6 && normalized.family === 4) prefix -= 96;
        if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) {
          throw new Error(`${name}: invalid CIDR "${entry}"`);
        }
      }
      addresses.addSubnet(normalized.address, prefix, normalized.family === 4 ? 'ipv4' : 'ipv6');
      hasAddresses = true;
    } else if (slash === -1 && /^[a-zA-Z0-9*.-]+$/.test(entry)) {
      globs.push(globToRegExp(entry));
    } else {
      throw new Error(`${name}: "${entry}" is neither an IP, a CIDR nor a host name pattern`);
    }
  }
  return { addresses, hasAddresses, globs };
}

function globToRegExp(glob: string): RegExp {
  const body = normalizeHostName(glob)
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\-]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`);
}

function normalizeHostName(host: string): string {
  return host.toLowerCase().replace(/\.$/, '');
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * IPv4-mapped (::ffff:a.b.c.d, ::ffff:a9fe:a9fe) and IPv4-compatible (::a.b.c.d) IPv6
 * addresses reach IPv4 hosts, so they are checked, and connected to, as the IPv4 address.
 */
export function normalizeAddress(address: string): { address: string; family: 4 | 6 } {
  const family = isIP(address);
  if (family === 4) return { address, family: 4 };
  if (family !== 6) throw new Error(`not an IP address: ${address}`);
  const groups = expandIPv6(address);
  const zeros = groups.slice(0, 5).every((g) => g === 0);
  const sixth = groups[5] ?? 0;
  const hi = groups[6] ?? 0;
  const lo = groups[7] ?? 0;
  if (zeros && (sixth === 0xffff || (sixth === 0 && hi !== 0))) {
    return { address: `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`, family: 4 };
  }
  return { address: groups.map((g) => g.toString(16)).join(':'), family: 6 };
}

function expandIPv6(address: string): number[] {
  let text = address.toLowerCase();
  // Trailing embedded IPv4 → two hex groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const fill = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  return [...headGroups, ...Array<string>(fill).fill('0'), ...tailGroups].map((g) => Number.parseInt(g, 16));
}

const defaultLookup: LookupAll = (host) => dnsLookup(host, { all: true, verbatim: true });

/** One line for the start-up log and the quick start: what the policy lets users reach. */
export function describeTargetPolicy(options: Pick<TargetPolicyOptions, 'allowed' | 'denied'>): string {
  const allowed = parseTargetList(options.allowed);
  const denied = parseTargetList(options.denied);
  const base = allowed.length
    ? `only ${allowed.join(', ')}`
    : 'public addresses only (loopback and private networks need SSH_ALLOWED_TARGETS)';
  return `${base}; never link-local or cloud metadata${denied.length ? `, nor ${denied.join(', ')}` : ''}`;
}

export function createTargetPolicy(options: TargetPolicyOptions = {}): TargetPolicy {
  const allowed = compileList(parseTargetList(options.allowed), 'SSH_ALLOWED_TARGETS');
  const denied = compileList(parseTargetList(options.denied), 'SSH_DENIED_TARGETS');
  const allowListActive = allowed.hasAddresses || allowed.globs.length > 0;
  const builtIn = new BlockList();
  if (options.denyLinkLocal !== false) {
    for (const [net, prefix] of DEFAULT_DENIED_V4) builtIn.addSubnet(net, prefix, 'ipv4');
    for (const [net, prefix] of DEFAULT_DENIED_V6) builtIn.addSubnet(net, prefix, 'ipv6');
  }
  const internal = new BlockList();
  for (const [net, prefix] of INTERNAL_V4) internal.addSubnet(net, prefix, 'ipv4');
  for (const [net, prefix] of INTERNAL_V6) internal.addSubnet(net, prefix, 'ipv6');
  const lookup = options.lookup ?? defaultLookup;
  const lookupTimeoutMs = options.lookupTimeoutMs ?? 10_000;

  const deny = (): never => {
    throw new TerminalError(ErrorCode.TARGET_DENIED, DENIED_MESSAGE);
  };

  return {
    async resolve(rawHost) {
      const host = stripBrackets(rawHost.trim());
      const name = normalizeHostName(host);
      if (!name) deny();
      if (denied.globs.some((re) => re.test(name))) deny();
      const nameAllowed = allowed.globs.some((re) => re.test(name));

      let resolved: Array<{ address: string; family: 4 | 6 }>;
      if (isIP(host) !== 0) {
        resolved = [normalizeAddress(host)];
      } else {
        resolved = (await resolveName(lookup, name, lookupTimeoutMs)).map((r) => normalizeAddress(r.address));
      }
      if (resolved.length === 0) {
        throw new TerminalError(
          ErrorCode.DNS_FAILED,
          `The host name "${host}" did not resolve to any address.`,
        );
      }

      for (const r of resolved) {
        const fam = r.family === 4 ? 'ipv4' : 'ipv6';
        if (builtIn.check(r.address, fam) || denied.addresses.check(r.address, fam)) deny();
      }
      if (allowListActive && !nameAllowed) {
        const allIn = resolved.every((r) =>
          allowed.addresses.check(r.address, r.family === 4 ? 'ipv4' : 'ipv6'),
        );
        if (!allowed.hasAddresses || !allIn) deny();
      } else if (!allowListActive && options.internal !== 'allow') {
        if (resolved.some((r) => internal.check(r.address, r.family === 4 ? 'ipv4' : 'ipv6'))) deny();
      }
      const first = resolved[0] as { address: string; family: 4 | 6 };
      return { address: first.address, family: first.family, addresses: resolved.map((r) => r.address) };
    },
  };
}

async function resolveName(lookup: LookupAll, host: string, timeoutMs: number) {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      lookup(host),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new TerminalError(ErrorCode.DNS_FAILED, `Resolving "${host}" timed out.`)),
          timeoutMs,
        );
      }),
    ]);
  } catch (err) {
    if (err instanceof TerminalError) throw err;
    throw new TerminalError(ErrorCode.DNS_FAILED, `The host name "${host}" could not be resolved.`, {
      cause: err,
    });
  } finally {
    clearTimeout(timer);
  }
}
