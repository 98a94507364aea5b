import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from '../server/errors';

describe('error codes', () => {
  const doc = readFileSync(join(__dirname, '..', 'docs', 'errors.md'), 'utf8');
  const rows = [...doc.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])] as const);

  test('docs/errors.md documents every code with its status, and nothing else', () => {
    expect(Object.fromEntries(rows)).toEqual(
      Object.fromEntries(Object.entries(ERROR_CODES).map(([code, e]) => [code, e.status])),
    );
    expect(rows).toHaveLength(Object.keys(ERROR_CODES).length);
  });
});
