import { decode, encode, ExtData } from '@msgpack/msgpack';
import type { CtyType } from './schema';

/**
 * cty values on the wire (hashicorp/terraform docs/plugin-protocol/object-wire-format.md), type-directed:
 * objects are maps holding every attribute; lists, sets and tuples are arrays; numbers are ints, float64s, or a decimal
 * string when neither holds them exactly; an unknown value is any msgpack extension (type 0, or 12 for a refined unknown).
 *
 * JS model: `null`, {@link UNKNOWN}, string, boolean, number | bigint | string (a decimal no float64 or int64 holds),
 * arrays, plain objects. A decimal string that is the shortest form of a float64 (`19.99`) decodes to that number, and
 * a non-integer number encodes as its shortest decimal string, so a value read and written back is the one configured.
 */
export const UNKNOWN: unique symbol = Symbol('cty.unknown');
export type CtyValue =
  null | typeof UNKNOWN | string | boolean | number | bigint | CtyValue[] | { [k: string]: CtyValue };

export const isUnknown = (v: unknown): v is typeof UNKNOWN => v === UNKNOWN;

/** True when the value, or anything inside it, is unknown. */
export function hasUnknown(v: unknown): boolean {
  if (v === UNKNOWN) return true;
  if (Array.isArray(v)) return v.some(hasUnknown);
  if (v && typeof v === 'object') return Object.values(v).some(hasUnknown);
  return false;
}

/** The JSON form of a type, as schemas carry it (`"string"`, `["list","number"]`, `["object",{…}]`). */
export function typeToJson(t: CtyType): unknown {
  switch (t.kind) {
    case 'list':
    case 'set':
    case 'map':
      return [t.kind, typeToJson(t.element)];
    case 'object':
      return ['object', Object.fromEntries(Object.entries(t.attributes).map(([k, v]) => [k, typeToJson(v)]))];
    default:
      return t.kind;
  }
}

export function typeFromJson(j: unknown): CtyType {
  if (typeof j === 'string' && ['string', 'number', 'bool', 'dynamic'].includes(j)) return { kind: j as 'string' };
  if (Array.isArray(j) && (j[0] === 'list' || j[0] === 'set' || j[0] === 'map'))
    return { kind: j[0], element: typeFromJson(j[1]) };
  if (Array.isArray(j) && j[0] === 'object' && j[1] && typeof j[1] === 'object') {
    return {
      kind: 'object',
      attributes: Object.fromEntries(Object.entries(j[1] as object).map(([k, v]) => [k, typeFromJson(v)])),
    };
  }
  throw new Error(`unsupported cty type ${JSON.stringify(j)}`);
}

const UNKNOWN_BYTES = new ExtData(0, new Uint8Array([0]));

function toWire(v: CtyValue, t: CtyType, path: string): unknown {
  if (v === null) return null;
  if (v === UNKNOWN) return UNKNOWN_BYTES;
  switch (t.kind) {
    case 'string':
      if (typeof v !== 'string') throw new Error(`${path || 'value'}: expected string`);
      return v;
    case 'bool':
      if (typeof v !== 'boolean') throw new Error(`${path || 'value'}: expected bool`);
      return v;
    case 'number':
      if (typeof v === 'number') return Number.isSafeInteger(v) ? v : decimalText(v);
      if (typeof v === 'bigint') return v >= -(2n ** 63n) && v < 2n ** 64n ? v : v.toString();
      if (typeof v === 'string' && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(v)) return v;
      throw new Error(`${path || 'value'}: expected number`);
    case 'list':
    case 'set':
      if (!Array.isArray(v)) throw new Error(`${path || 'value'}: expected ${t.kind}`);
      return v.map((e, i) => toWire(e, t.element, `${path}[${i}]`));
    case 'map':
      if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`${path || 'value'}: expected map`);
      return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, toWire(e, t.element, `${path}["${k}"]`)]));
    case 'object': {
      if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`${path || 'value'}: expected object`);
      const o = v as Record<string, CtyValue>;
      return Object.fromEntries(
        Object.entries(t.attributes).map(([k, at]) => [k, toWire(o[k] ?? null, at, path ? `${path}.${k}` : k)]),
      );
    }
    case 'dynamic':
      throw new Error(`${path || 'value'}: dynamic values are not supported`);
  }
}

/**
 * A float64 as the shortest decimal that names it (`19.99`, `1e-7`). Terraform reads a number sent as text with 512
 * bits of precision, so `19.99` comes back equal to the configuration's 19.99, where the float64 itself would not.
 */
function decimalText(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`${n} is not a cty number`);
  return String(n);
}

/** `[sign, significant digits, exponent]` of a decimal text, so `1.50`, `15e-1` and `1.5` compare equal. */
function decimalParts(text: string): [string, string, number] {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([-+]?\d+))?$/.exec(text)!;
  const digits = m[2] + (m[3] ?? '');
  const exponent = Number(m[4] ?? 0) - (m[3]?.length ?? 0);
  const lead = digits.replace(/^0+/, '');
  const trimmed = lead.replace(/0+$/, '');
  if (!trimmed) return ['', '0', 0];
  return [m[1], trimmed, exponent + (lead.length - trimmed.length)];
}
const sameDecimal = (a: string, b: string) => decimalParts(a).join() === decimalParts(b).join();

function fromWire(w: unknown, t: CtyType, path: string): CtyValue {
  if (w === null || w === undefined) return null;
  if (w instanceof ExtData) return UNKNOWN;
  const fail = (what: string): never => {
    throw new Error(`${path || 'value'}: expected ${what}`);
  };
  switch (t.kind) {
    case 'string':
      return typeof w === 'string' ? w : fail('string');
    case 'bool':
      return typeof w === 'boolean' ? w : fail('bool');
    case 'number':
      if (typeof w === 'bigint')
        return w >= BigInt(Number.MIN_SAFE_INTEGER) && w <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(w) : w;
      if (typeof w === 'number') return w;
      if (typeof w === 'string' && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(w)) {
        if (/^-?\d+$/.test(w)) return BigInt(w);
        // `19.99`: Terraform sends a decimal no float64 holds exactly as text; it is the number its shortest form names
        const n = Number(w);
        return Number.isFinite(n) && sameDecimal(decimalText(n), w) ? n : w;
      }
      return fail('number');
    case 'list':
    case 'set':
      return Array.isArray(w) ? w.map((e, i) => fromWire(e, t.element, `${path}[${i}]`)) : fail(t.kind);
    case 'map':
      if (typeof w !== 'object' || Array.isArray(w) || w instanceof Uint8Array) return fail('map');
      return Object.fromEntries(
        Object.entries(w as object).map(([k, e]) => [k, fromWire(e, t.element, `${path}["${k}"]`)]),
      );
    case 'object': {
      if (typeof w !== 'object' || Array.isArray(w) || w instanceof Uint8Array) return fail('object');
      const o = w as Record<string, unknown>;
      return Object.fromEntries(
        Object.entries(t.attributes).map(([k, at]) => [k, fromWire(o[k], at, path ? `${path}.${k}` : k)]),
      );
    }
    case 'dynamic': {
      if (!Array.isArray(w) || w.length !== 2) return fail('[type, value] for a dynamic value');
      const inner = typeFromJson(JSON.parse(Buffer.from(w[0] as Uint8Array).toString('utf8')));
      return fromWire(w[1], inner, path);
    }
  }
}

export function encodeMsgpack(value: CtyValue, type: CtyType): Uint8Array {
  return encode(toWire(value, type, ''), { useBigInt64: true });
}

export function decodeMsgpack(bytes: Uint8Array, type: CtyType): CtyValue {
  if (!bytes || bytes.length === 0) return null;
  return fromWire(decode(bytes, { useBigInt64: true }), type, '');
}

/** JSON form (raw state in UpgradeResourceState); attributes missing from older states become null. */
export function decodeJson(json: Uint8Array | string, type: CtyType): CtyValue {
  const text = typeof json === 'string' ? json : Buffer.from(json).toString('utf8');
  return fromWire(JSON.parse(text), type, '');
}
