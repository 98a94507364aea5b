// Lint, run by `npm test`: a small rule set (no unused code, type-only imports marked, files of at most 300 lines)
// and the layer boundaries of server/. Formatting is Prettier's job (`npm run format`), not a lint rule.
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/** A layer (`target`) that may not import from the folders in `from`; paths from the repository root. */
const boundary = (target, from, message) => ({ target, from, message });

/** Builder calls that make SQL, on a database or a transaction (`db.selectFrom(...)`). */
const SQL_BUILDERS = /^(selectFrom|insertInto|updateTable|deleteFrom|mergeInto|replaceInto)$/;

export default tseslint.config(
  { ignores: ['node_modules/', 'coverage/', 'cdktf.out/', 'dist/', '.data/', '.scratch/', 'constructs/generated/'] },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.base],
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // `import('pg').PoolClient` stays allowed: a type-only reference to a module the code loads lazily
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
    },
  },
  {
    files: ['server/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json'] })] },
    rules: {
      'max-lines': ['error', { max: 300 }], // formatted lines, all counted
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            boundary('./server/data', './server/control', 'The data plane does not depend on the admin API.'),
            boundary(
              './server/store',
              ['./server/control', './server/data', './server/webhooks'],
              'The store sits below every surface: it imports none of them.',
            ),
            boundary(
              './server/resources',
              ['./server/control', './server/data', './server/store'],
              'Resource definitions are zod only: no surface, no storage.',
            ),
            boundary(
              ['./server/http', './server/budgets'],
              ['./server/control', './server/data'],
              'Shared by both planes: it imports neither.',
            ),
            {
              target: './server/lib',
              from: './server',
              except: ['./lib'],
              message: 'lib/ holds leaf utilities: it imports nothing else of server/.',
            },
          ],
        },
      ],
    },
  },
  {
    // SQL lives in store modules (one per table); the admin API, the data plane, the audit log and webhooks call them.
    files: ['server/control/**/*.ts', 'server/webhooks/**/*.ts', 'server/audit/**/*.ts', 'server/data/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'kysely', allowTypeImports: true, message: 'Build queries in a server/store/ module.' }] },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: `CallExpression[callee.property.name=${SQL_BUILDERS}]`,
          message: 'Build queries in a server/store/ module.',
        },
      ],
    },
  },
);
