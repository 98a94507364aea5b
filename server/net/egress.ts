import { lookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, buildConnector, type Dispatcher } from 'undici';

/**
 * Egress rules for targets a tenant may set (a tenant-owned route's `backend_url` or provider `base_url`, a tenant's
 * service `target_url` or webhook `url`): they may only reach public addresses. The address checked is the one the
 * connection is made to, after DNS, at connect time, so a name that resolves to a private address (or starts to,
 * DNS rebinding) is refused as well as any spelling of a literal one. `PORTICO_EGRESS_ALLOW` widens the rule.
 */

/** An address as bytes: 4 for IPv4, 16 for IPv6. */
type Bytes = Uint8Array;

interface Cidr {
  bytes: Bytes;
  bits: number;
}

/** What `PORTICO_EGRESS_ALLOW` lets restricted targets reach besides public addresses. */
export interface EgressAllow {
  readonly cidrs: readonly Cidr[];
  /** Host names, lower case, without a trailing dot: any address they resolve to is allowed. */
  readonly hosts: ReadonlySet<string>;
  /** The setting as given, for logs. */
  readonly text: string;
}

export const NO_ALLOWANCE: EgressAllow = { cidrs: [], hosts: new Set(), text: '' };

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$/;

/**
 * Parses the comma-separated CIDRs (`10.1.0.0/16`, `fd00::/8`, a bare address for one host) and host names of
 * `PORTICO_EGRESS_ALLOW`. Throws an Error naming the bad entry.
 */
export function parseEgressAllow(raw: string | undefined): EgressAllow {
  const cidrs: Cidr[] = [];
  const hosts = new Set<string>();
  for (const item of (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [addr, bitsText, extra] = item.split('/');
    const bytes = parseIp(addr!.replace(/^\[|\]$/g, ''));
    if (bytes) {
      const max = bytes.length * 8;
      const bits = bitsText === undefined ? max : Number(bitsText);
      if (extra !== undefined || !/^\d{1,3}$/.test(bitsText ?? String(max)) || bits > max) {
        throw new Error(`"${item}" is not a CIDR: the prefix length must be 0 to ${max}`);
      }
      cidrs.push({ bytes, bits });
    } else if (bitsText === undefined && HOST_NAME.test(item.toLowerCase().replace(/\.$/, ''))) {
      hosts.add(item.toLowerCase().replace(/\.$/, ''));
    } else {
      throw new Error(`"${item}" is neither a CIDR (such as 10.0.0.0/8 or fd00::/8) nor a host name`);
    }
  }
  return { cidrs, hosts, text: raw ?? '' };
}

/** An IP address in its canonical text (what DNS and the URL parser give) as bytes; undefined if it is not one. */
export function parseIp(text: string): Bytes | undefined {
  const family = isIP(text);
  if (family === 4) return Uint8Array.from(text.split('.').map(Number));
  if (family !== 6) return undefined;
  let s = text.toLowerCase();
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  // an IPv4 tail (::ffff:127.0.0.1) becomes two groups
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    s = `${s.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const groups = (part: string | undefined) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

const cidr = (text: string): Cidr => {
  const [a, b] = text.split('/');
  return { bytes: parseIp(a!)!, bits: Number(b) };
};

function inCidr(bytes: Bytes, c: Cidr): boolean {
  if (bytes.length !== c.bytes.length) return false;
  const whole = c.bits >> 3;
  for (let i = 0; i < whole; i++) if (bytes[i] !== c.bytes[i]) return false;
  const rest = c.bits & 7;
  if (!rest) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (bytes[whole]! & mask) === (c.bytes[whole]! & mask);
}

/** IPv4 ranges that are not public (IANA special-purpose registry): never reached by a restricted target. */
const NOT_PUBLIC_V4 = [
  '0.0.0.0/8', // "this network", 0.0.0.0 reaches the local host
  '10.0.0.0/8',
  '100.64.0.0/10', // carrier-grade NAT
  '127.0.0.0/8',
  '169.254.0.0/16', // link-local, cloud metadata services
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.88.99.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved, and 255.255.255.255 broadcast
].map(cidr);

const NOT_PUBLIC_V6 = [
  '64:ff9b:1::/48', // local-use NAT64
  '100::/64', // discard
  '2001::/32', // Teredo: the IPv4 address inside is obfuscated
  '2001:db8::/32', // documentation
  'fc00::/7', // unique-local
  'fe80::/10', // link-local
  'fec0::/10', // site-local (deprecated)
  'ff00::/8', // multicast
].map(cidr);

/** IPv6 ranges that carry an IPv4 address, and the byte where it starts: that address is judged instead. */
const EMBEDS_V4: [Cidr, number][] = [
  [cidr('::ffff:0:0/96'), 12], // IPv4-mapped
  [cidr('::/96'), 12], // IPv4-compatible (deprecated); also :: and ::1
  [cidr('64:ff9b::/96'), 12], // NAT64
  [cidr('2002::/16'), 2], // 6to4
];

/** The address a connection to `bytes` really reaches, for IPv6 forms that embed an IPv4 one. */
function effective(bytes: Bytes): Bytes {
  if (bytes.length === 16) {
    for (const [range, at] of EMBEDS_V4) if (inCidr(bytes, range)) return bytes.subarray(at, at + 4);
  }
  return bytes;
}

/** Whether an address, already resolved to the IPv4 one it may embed (`effective`), is public unicast. */
const isPublic = (real: Bytes) => !(real.length === 4 ? NOT_PUBLIC_V4 : NOT_PUBLIC_V6).some((c) => inCidr(real, c));

/** Whether an address (canonical text) is a public unicast address. */
export function isPublicAddress(address: string): boolean {
  const bytes = parseIp(address);
  return bytes !== undefined && isPublic(effective(bytes));
}

/** Whether a restricted target may connect to `address`, reached by the name `host`. */
export function egressPermits(allow: EgressAllow, host: string, address: string): boolean {
  if (allow.hosts.has(host.toLowerCase().replace(/\.$/, ''))) return true;
  const bytes = parseIp(address);
  if (!bytes) return false;
  const real = effective(bytes);
  return isPublic(real) || allow.cidrs.some((c) => inCidr(bytes, c) || inCidr(real, c));
}

/** A restricted target's connection refused because it would reach a non-public address. */
export class EgressDeniedError extends Error {
  readonly code = 'EGRESS_DENIED';
  constructor() {
    super('The target is not a public address');
    this.name = 'EgressDeniedError';
  }
}

/** Whether an error (or its cause, as `fetch` wraps them) is an egress refusal. */
export const isEgressDenied = (err: unknown): boolean =>
  err instanceof EgressDeniedError || (err as { cause?: unknown } | undefined)?.cause instanceof EgressDeniedError;

/**
 * undici's connector behind the egress check. A host name is resolved by `checkedLookup`, which net.connect calls
 * in place of its own lookup, so the socket goes to an address that was checked (and Node's Happy Eyeballs picks
 * among the checked ones only); TLS still verifies and sends the host name. A literal IP skips any lookup in
 * net.connect, so it is checked here.
 */
function checkedConnector(allow: EgressAllow): buildConnector.connector {
  const connect = buildConnector({ lookup: checkedLookup(allow) } as buildConnector.BuildOptions);
  return (opts, callback) => {
    const host = opts.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) && !egressPermits(allow, host, host)) callback(new EgressDeniedError(), null);
    else connect(opts, callback);
  };
}

type LookupCallback = (err: Error | null, address: string | LookupAddress[], family?: number) => void;

/** dns.lookup for net.connect that refuses a name when any of its addresses is not allowed. */
function checkedLookup(allow: EgressAllow) {
  return (hostname: string, options: { all?: boolean }, callback: LookupCallback): void => {
    lookup(hostname, { all: true, verbatim: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, []);
      if (!addresses.length || addresses.some((a) => !egressPermits(allow, hostname, a.address))) {
        return callback(new EgressDeniedError(), []);
      }
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/** How to reach one target: the pool to use, and whether it is restricted (its errors then stay neutral). */
export interface Egress {
  readonly dispatcher: Dispatcher;
  readonly restricted: boolean;
}

/** Pooled keep-alive connections; the timeouts are set per call. */
const AGENT_OPTIONS = {
  keepAliveTimeout: 30_000,
  keepAliveMaxTimeout: 600_000,
  connections: 512,
  headersTimeout: 0,
  bodyTimeout: 0,
};

/** Targets the platform set: any address, one pool shared by every gateway in the process. */
export const OPEN_EGRESS: Egress = { dispatcher: new Agent(AGENT_OPTIONS), restricted: false };

const restrictedByAllow = new WeakMap<EgressAllow, Egress>();

/**
 * The way to a target: restricted when a tenant could set it (a tenant-owned resource's target), else open. The
 * restricted pool is separate, so it never reuses a connection the open one made; one per setting, made once.
 */
export function egressFor(allow: EgressAllow, tenantSet: boolean): Egress {
  if (!tenantSet) return OPEN_EGRESS;
  let egress = restrictedByAllow.get(allow);
  if (!egress) {
    egress = { dispatcher: new Agent({ ...AGENT_OPTIONS, connect: checkedConnector(allow) }), restricted: true };
    restrictedByAllow.set(allow, egress);
  }
  return egress;
}

/**
 * The way to a URL held by `owner`, the resource whose field holds it (a route, a service, a webhook): a
 * tenant-owned resource's URL counts as set by the tenant, whoever wrote it, so it is restricted.
 */
export const egressOf = (allow: EgressAllow, owner: { tenant_id: string | null }): Egress =>
  egressFor(allow, owner.tenant_id !== null);

/**
 * A connection failure as a tenant may read it: what happened, without the address or port it was tried on (a
 * tenant must not learn the network's layout from error texts).
 */
export function neutralFailure(err: unknown): string {
  if (isEgressDenied(err)) return 'the target is not a public address';
  const e = err as { code?: string; name?: string; cause?: { code?: string } } | undefined;
  const code = e?.code ?? e?.cause?.code ?? '';
  if (e?.name === 'TimeoutError' || /TIMEOUT/.test(code)) return 'the target did not answer in time';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'the target host name does not resolve';
  return 'the target could not be reached';
}
