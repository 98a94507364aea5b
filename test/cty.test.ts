import { decode, encode, ExtData } from '@msgpack/msgpack';
import {
  decodeJson,
  decodeMsgpack,
  encodeMsgpack,
  typeFromJson,
  typeToJson,
  UNKNOWN,
  type CtyValue,
} from '../provider/cty-codec';
import type { CtyType } from '../provider/schema';

const str: CtyType = { kind: 'string' };
const num: CtyType = { kind: 'number' };
const bool: CtyType = { kind: 'bool' };
const list = (element: CtyType): CtyType => ({ kind: 'list', element });
const set = (element: CtyType): CtyType => ({ kind: 'set', element });
const map = (element: CtyType): CtyType => ({ kind: 'map', element });
const object = (attributes: Record<string, CtyType>): CtyType => ({ kind: 'object', attributes });

const route = object({
  id: str,
  priority: num,
  enabled: bool,
  methods: list(str),
  tags: set(str),
  metadata: map(str),
  providers: list(object({ provider: str, weight: num })),
  rate_limit: object({ limit: num, window_secs: num }),
});
const roundTrip = (v: CtyValue, t: CtyType) => decodeMsgpack(encodeMsgpack(v, t), t);

describe('cty msgpack codec', () => {
  test.each([
    ['string', str, 'héllo'],
    ['number (int)', num, 42],
    ['number (negative)', num, -7],
    ['number (float)', num, 0.1],
    ['bool', bool, true],
    ['list', list(num), [1, 2, 3]],
    ['set', set(str), ['a', 'b']],
    ['map', map(bool), { x: true, y: false }],
    ['empty list and map', object({ l: list(str), m: map(str) }), { l: [], m: {} }],
  ] as [string, CtyType, CtyValue][])('%s round-trips', (_n, t, v) => {
    expect(roundTrip(v, t)).toEqual(v);
  });

  test('nested objects, with nulls at every depth and missing attributes decoded as null', () => {
    const v = {
      id: 'r',
      priority: 0,
      enabled: false,
      methods: ['GET'],
      tags: [],
      metadata: { a: 'b' },
      providers: [{ provider: 'openai', weight: null }],
      rate_limit: null,
    };
    expect(roundTrip(v, route)).toEqual(v);
    expect(roundTrip(null, route)).toBeNull();
    expect(decodeMsgpack(encode({ id: 'only' }), route)).toEqual({
      id: 'only',
      priority: null,
      enabled: null,
      methods: null,
      tags: null,
      metadata: null,
      providers: null,
      rate_limit: null,
    });
  });

  test('an object is a msgpack map holding every attribute', () => {
    expect(Buffer.from(encodeMsgpack({ a: 'x' }, object({ a: str })))).toEqual(
      Buffer.from([0x81, 0xa1, 0x61, 0xa1, 0x78]),
    );
    expect(decode(encodeMsgpack({}, object({ a: str, b: num })))).toEqual({ a: null, b: null });
  });

  test('unknown values: ext type 0 and refined unknown ext 12, at the top and nested', () => {
    const ext0 = new ExtData(0, new Uint8Array([0]));
    const ext12 = new ExtData(12, new Uint8Array([0x81, 0x01, 0xc3])); // a refinement payload: {1: true}
    expect(decodeMsgpack(encode(ext0), str)).toBe(UNKNOWN);
    expect(decodeMsgpack(encode(ext12), route)).toBe(UNKNOWN);
    const wire = encode({
      id: ext12,
      providers: [{ provider: ext0, weight: 1 }],
      metadata: { k: ext12 },
      methods: ext0,
    });
    const v = decodeMsgpack(wire, route) as Record<string, any>;
    expect(v.id).toBe(UNKNOWN);
    expect(v.providers[0].provider).toBe(UNKNOWN);
    expect(v.metadata.k).toBe(UNKNOWN);
    expect(v.methods).toBe(UNKNOWN);
  });

  test('encoding an unknown emits extension type 0', () => {
    expect(Buffer.from(encodeMsgpack(UNKNOWN, str))).toEqual(Buffer.from([0xd4, 0x00, 0x00]));
    const back = decode(encodeMsgpack({ a: UNKNOWN }, object({ a: num }))) as { a: ExtData };
    expect(back.a).toBeInstanceOf(ExtData);
    expect(back.a.type).toBe(0);
  });

  test('numbers beyond 2^53 keep every digit', () => {
    for (const big of [2n ** 53n + 1n, 2n ** 64n - 1n, -(2n ** 63n)]) expect(roundTrip(big, num)).toBe(big);
    const huge = 10n ** 30n + 7n;
    expect(decode(encodeMsgpack(huge, num))).toBe(huge.toString()); // a decimal string on the wire
    expect(roundTrip(huge, num)).toBe(huge);
    expect(roundTrip('1.5e400', num)).toBe('1.5e400');
    expect(decodeMsgpack(encode(2 ** 53 - 1), num)).toBe(2 ** 53 - 1);
  });

  test('a dynamic value is [type JSON, value]', () => {
    const wire = encode([Buffer.from(JSON.stringify(['list', 'string'])), ['a', 'b']]);
    expect(decodeMsgpack(wire, { kind: 'dynamic' })).toEqual(['a', 'b']);
  });

  test('type errors name the attribute path', () => {
    expect(() => decodeMsgpack(encode({ providers: [{ provider: 'x', weight: 'heavy' }] }), route)).toThrow(
      'providers[0].weight: expected number',
    );
    expect(() => encodeMsgpack({ metadata: { a: 1 } } as never, route)).toThrow('metadata["a"]: expected string');
  });

  test('type JSON round-trips for every kind', () => {
    const t = object({
      s: str,
      n: num,
      b: bool,
      l: list(num),
      st: set(str),
      m: map(list(bool)),
      o: object({ x: str }),
    });
    expect(typeToJson(t)).toEqual([
      'object',
      {
        s: 'string',
        n: 'number',
        b: 'bool',
        l: ['list', 'number'],
        st: ['set', 'string'],
        m: ['map', ['list', 'bool']],
        o: ['object', { x: 'string' }],
      },
    ]);
    expect(typeFromJson(JSON.parse(JSON.stringify(typeToJson(t))))).toEqual(t);
    expect(() => typeFromJson(['tuple', []])).toThrow('unsupported cty type');
  });

  test('JSON state decodes against the type, older states missing attributes get nulls', () => {
    expect(decodeJson('{"id":"r","providers":[{"provider":"x","weight":2}]}', route)).toMatchObject({
      id: 'r',
      providers: [{ provider: 'x', weight: 2 }],
      rate_limit: null,
      enabled: null,
    });
  });
});

describe('decimals Terraform sends as text (issue 13)', () => {
  test('a decimal that is the shortest form of a float64 decodes to that number and encodes back as the same text', () => {
    for (const text of ['19.99', '0.1', '99.99', '-0.3', '1e-7', '0.0000001', '123456.789']) {
      const n = decodeMsgpack(encode(text), num);
      expect(n).toBe(Number(text));
      const wire = decode(encodeMsgpack(n, num));
      expect(typeof wire).toBe('string');
      expect(Number(wire)).toBe(Number(text)); // Terraform reads it with 512 bits: the configured decimal, no drift
    }
    expect(decode(encodeMsgpack(19.99, num))).toBe('19.99');
    expect(decode(encodeMsgpack(42, num))).toBe(42); // integers stay ints
  });

  test('a decimal with more digits than a float64 keeps its text (validation refuses it in words)', () => {
    const third = '3.333333333333333333333333333333';
    expect(decodeMsgpack(encode(third), num)).toBe(third);
    expect(decode(encodeMsgpack(third, num))).toBe(third);
  });
});
