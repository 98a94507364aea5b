import { globMatch } from '../server/lib/glob';

/** The meaning the matcher must keep: `*` as `.*`, everything else literal, through a regular expression. */
const byRegExp = (pattern: string, value: string) =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
    's',
  ).test(value);

describe('globMatch', () => {
  test.each([
    ['gpt-*', 'gpt-4o', true],
    ['gpt-*', 'gpt-', true],
    ['gpt-*', 'gpt', false],
    ['*', '', true],
    ['', '', true],
    ['', 'a', false],
    ['*mini', 'gpt-4o-mini', true],
    ['*mini', 'gpt-4o-mini-2', false],
    ['g*t*', 'gpt-4', true],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'acb', false],
    ['**', 'x', true],
    ['gpt.4', 'gpt-4', false],
    ['a+b', 'a+b', true],
    ['(x)', '(x)', true],
  ])('%j against %j: %j', (pattern, value, expected) => {
    expect(globMatch(pattern, value)).toBe(expected);
    expect(byRegExp(pattern, value)).toBe(expected);
  });

  test('answers as the regular expression does on 20,000 generated pairs', () => {
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const word = (alphabet: string, max: number) =>
      Array.from({ length: Math.floor(next() * max) }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
    let matched = 0;
    for (let i = 0; i < 20_000; i++) {
      const pattern = word('ab*.', 7);
      const value = word('ab.\n', 9);
      const expected = byRegExp(pattern, value);
      if (globMatch(pattern, value) !== expected) throw new Error(`${JSON.stringify([pattern, value])}: ${!expected}`);
      if (expected) matched++;
    }
    expect(matched).toBeGreaterThan(1_000);
    expect(matched).toBeLessThan(19_000);
  });

  test('a hostile pattern (many stars, no match) against a long value still answers', () => {
    // a backtracking engine tries every way to split the value between the stars: C(5000, 30) ways here
    const pattern = `${'*a'.repeat(30)}*b`;
    const value = 'a'.repeat(5_000);
    expect(globMatch(pattern, value)).toBe(false);
    expect(globMatch(pattern, `${value}b`)).toBe(true);
  });
});
