import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * The layer boundaries and the small rule set of eslint.config.mjs, checked on snippets linted as if they were files
 * of the tree: each forbidden import or construct is reported by the rule meant to catch it, and what the layers may
 * do is not reported at all. (`npm test` lints the tree itself; this proves the rules would catch a regression.)
 */

interface Snippet {
  file: string;
  source: string;
}

/** Rule ids reported for each snippet, linted with the repository's config in one ESLint process. */
function lintSnippets(snippets: readonly Snippet[]): string[][] {
  const script = `
    const { ESLint } = require('eslint');
    const snippets = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
    (async () => {
      const eslint = new ESLint();
      const found = [];
      for (const s of snippets) {
        const [result] = await eslint.lintText(s.source, { filePath: s.file });
        found.push(result.messages.map((m) => m.ruleId ?? m.message));
      }
      process.stdout.write(JSON.stringify(found));
    })().catch((err) => { console.error(err); process.exit(1); });`;
  const cwd = join(__dirname, '..');
  return JSON.parse(
    execFileSync(process.execPath, ['-e', script], { cwd, input: JSON.stringify(snippets) }).toString(),
  );
}

/** A module that imports a name from each of `froms` and uses it. */
const importing = (...froms: string[]) =>
  froms.map((from, i) => `import { thing${i} } from '${from}';\nexport const used${i} = thing${i};\n`).join('');

const BOUNDARY = 'import-x/no-restricted-paths';
const UNUSED = '@typescript-eslint/no-unused-vars';
const lines = (n: number, between = '') => 'export let n = 0;\n' + `n++;\n${between}`.repeat(n - 1);

/** [what, file the snippet stands for, its source, the rules that must report it (none: it is allowed)] */
const CASES: [what: string, file: string, source: string, rules: string[]][] = [
  // layer boundaries
  ['data/ imports control/', 'server/data/x.ts', importing('../control/caller'), [BOUNDARY]],
  ['store/ imports control/', 'server/store/x.ts', importing('../control/caller'), [BOUNDARY]],
  ['store/ imports data/', 'server/store/x.ts', importing('../data/limiter'), [BOUNDARY]],
  ['store/ imports webhooks/', 'server/store/x.ts', importing('../webhooks/outbox'), [BOUNDARY]],
  ['resources/ imports store/', 'server/resources/x.ts', importing('../store/schema'), [BOUNDARY]],
  ['resources/ imports control/', 'server/resources/x.ts', importing('../control/caller'), [BOUNDARY]],
  ['resources/ imports data/', 'server/resources/x.ts', importing('../data/limiter'), [BOUNDARY]],
  ['lib/ imports server/', 'server/lib/x.ts', importing('../errors'), [BOUNDARY]],
  ['lib/ imports store/', 'server/lib/x.ts', importing('../store/schema'), [BOUNDARY]],
  ['http/ imports control/', 'server/http/x.ts', importing('../control/caller'), [BOUNDARY]],
  ['budgets/ imports data/', 'server/budgets/x.ts', importing('../data/limiter'), [BOUNDARY]],
  ['data/ imports http/ and budgets/', 'server/data/x.ts', importing('../http/error-handler', '../budgets/spend'), []],
  ['control/ imports store/ and data/', 'server/control/x.ts', importing('../store/schema', '../data/limiter'), []],
  ['store/ imports resources/ and lib/', 'server/store/x.ts', importing('../resources', '../lib/within'), []],
  ['lib/ imports lib/', 'server/lib/x.ts', importing('./within'), []],
  // SQL only in store modules
  [
    'a route file imports kysely',
    'server/control/x-routes.ts',
    "import { sql } from 'kysely';\nexport const q = sql`select 1`;\n",
    ['no-restricted-imports'],
  ],
  [
    'a route file builds a query',
    'server/control/x-routes.ts',
    "export const q = (db: any) => db.selectFrom('request_logs');\n",
    ['no-restricted-syntax'],
  ],
  [
    'webhooks/ builds a query',
    'server/webhooks/x.ts',
    "export const q = (tx: any) => tx.insertInto('webhook_attempts');\n",
    ['no-restricted-syntax'],
  ],
  [
    'the data plane builds a query',
    'server/data/x.ts',
    "export const q = (db: any) => db.updateTable('resources');\n",
    ['no-restricted-syntax'],
  ],
  [
    'the audit log runs raw SQL',
    'server/audit/x.ts',
    "import { sql } from 'kysely';\nexport const q = sql`select 1`;\n",
    ['no-restricted-imports'],
  ],
  [
    'control/ imports kysely types',
    'server/control/x.ts',
    "import type { Kysely } from 'kysely';\nexport type K = Kysely<object>;\n",
    [],
  ],
  [
    'a store module builds queries',
    'server/store/x.ts',
    "import { sql } from 'kysely';\nexport const q = (db: any) => [db.selectFrom('x'), sql`1`];\n",
    [],
  ],
  // the small rule set
  ['an unused import', 'cli/x.ts', "import { z } from 'zod';\nexport const a = 1;\n", [UNUSED]],
  ['an unused variable', 'test/x.ts', 'export function f() {\n  const a = 1;\n}\n', [UNUSED]],
  [
    'a type imported as a value',
    'provider/x.ts',
    "import { Db } from '../server/store/schema';\nexport let d: Db | undefined;\n",
    ['@typescript-eslint/consistent-type-imports'],
  ],
  ['301 lines in server/', 'server/lib/x.ts', lines(301), ['max-lines']],
  [
    '300 lines in server/, every line counted (a blank and a comment line make 302)',
    'server/lib/x.ts',
    lines(300, '\n// why\n'),
    ['max-lines'],
  ],
  ['exactly 300 lines in server/', 'server/lib/x.ts', lines(300), []],
  ['301 lines outside server/', 'test/x.ts', lines(301), []],
];

describe('lint rules', () => {
  let found: string[][];
  beforeAll(() => {
    found = lintSnippets(CASES.map(([, file, source]) => ({ file, source })));
  });

  test.each(CASES.map(([what, file, , rules], i) => [what, file, rules, i] as const))(
    '%s (%s): %j',
    (_w, _f, rules, i) => {
      expect(found[i]).toEqual(rules);
    },
  );
});
