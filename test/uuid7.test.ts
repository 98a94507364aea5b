import { uuid7 } from '../server/lib/uuid7';

describe('uuid7', () => {
  test('is an RFC 9562 version 7 UUID with the time in its first 48 bits', () => {
    const at = Date.UTC(2026, 10, 22, 12, 0, 0, 123);
    const id = uuid7(at);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(at);
  });

  test('ids of later milliseconds sort later, and ids of one millisecond differ', () => {
    const ids = [5, 1, 4, 2, 3].map((ms) => uuid7(1_700_000_000_000 + ms));
    expect([...ids].sort()).toEqual([1, 2, 3, 4, 5].map((ms) => ids[[5, 1, 4, 2, 3].indexOf(ms)]));
    expect(new Set(Array.from({ length: 1000 }, () => uuid7(1_700_000_000_000))).size).toBe(1000);
  });
});
