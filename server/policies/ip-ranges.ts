import { parseIp } from '../net/egress';
import { parseCidr } from './types';

/** An address range as bytes and a prefix length: matched by comparing bytes, with no allocation per request. */
export interface IpRange {
  bytes: Uint8Array;
  bits: number;
}

export const parseRanges = (list: readonly string[]): IpRange[] =>
  list.map((text) => {
    const c = parseCidr(text)!;
    return { bytes: parseIp(c.address)!, bits: c.prefix };
  });

/** Whether an address (4 or 16 bytes) falls in a range of its own family. */
function inRange(ip: Uint8Array, r: IpRange): boolean {
  if (ip.length !== r.bytes.length) return false;
  const whole = r.bits >> 3;
  for (let i = 0; i < whole; i++) if (ip[i] !== r.bytes[i]) return false;
  const rest = r.bits & 7;
  if (!rest) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (ip[whole]! & mask) === (r.bytes[whole]! & mask);
}

export const inRanges = (ip: Uint8Array, ranges: readonly IpRange[]) => ranges.some((r) => inRange(ip, r));

/** Whether two ranges overlap: CIDR ranges nest or are apart, so the wider one holds the narrower one's start. */
export function rangesOverlap(a: IpRange, b: IpRange): boolean {
  const [wide, narrow] = a.bits <= b.bits ? [a, b] : [b, a];
  return inRange(narrow.bytes, wide);
}

/** A client address as bytes; `::ffff:10.0.0.1` is the IPv4 address it wraps. */
export function clientBytes(ip: string): Uint8Array | undefined {
  const plain = ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
  return parseIp(plain);
}
