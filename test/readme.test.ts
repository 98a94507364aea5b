import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PERMISSIONS } from '../server/control/permissions';

describe('README', () => {
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');

  test('shows the permission matrix exactly as the code has it', () => {
    const lines = readme.split('\n');
    const header = lines.findIndex((l) => l.startsWith('| role | tenants |'));
    expect(header).toBeGreaterThan(0);
    const areas = lines[header]!.split('|')
      .map((c) => c.trim())
      .filter(Boolean)
      .slice(1);
    const table: Record<string, Record<string, string>> = {};
    for (const line of lines.slice(header + 2)) {
      if (!line.startsWith('| `')) break;
      const [role, ...cells] = line
        .split('|')
        .map((c) => c.trim())
        .filter(Boolean);
      table[role!.replace(/`/g, '')] = Object.fromEntries(areas.map((a, i) => [a, cells[i]!]));
    }
    expect(table).toEqual(PERMISSIONS);
  });

  test('names the two commands', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
  });
});
