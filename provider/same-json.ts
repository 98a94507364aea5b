/**
 * Equal as canonical JSON (bigints as numbers, `undefined` as null in arrays and absent in objects), compared in place:
 * a plan compares every attribute of every resource, and serializing both sides each time cost more than the rest.
 */
export function same(a: unknown, b: unknown): boolean {
  const x = typeof a === 'bigint' ? Number(a) : (a ?? null);
  const y = typeof b === 'bigint' ? Number(b) : (b ?? null);
  if (x === y) return true;
  if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
  if (Array.isArray(x) || Array.isArray(y)) {
    if (!Array.isArray(x) || !Array.isArray(y) || x.length !== y.length) return false;
    return x.every((e, i) => same(e, y[i]));
  }
  const defined = (o: object) => Object.entries(o).filter(([, v]) => v !== undefined);
  const xs = defined(x);
  const ys = new Map(defined(y));
  return xs.length === ys.size && xs.every(([k, v]) => ys.has(k) && same(v, ys.get(k)));
}
