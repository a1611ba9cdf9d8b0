// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = builtinModules.flatMap((name) => [name, `node:${name}`]);

export default tseslint.config(
  {
    ignores: ['node_modules/', 'dist/', '.tools/', '.data/', 'test-results/', 'api/public/vendor/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code is replayed and runs in Temporal's deterministic sandbox: no I/O, no clocks,
    // no process-wide singletons. Activities do that work instead.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message: 'Node built-ins are not available in the workflow sandbox; use an activity.',
          })),
          patterns: [
            {
              group: ['sequelize', 'sequelize/*', 'sqlite3', 'pg', 'tedious', 'umzug'],
              message: 'Database access belongs in activities.',
            },
            {
              group: ['winston', 'winston/*'],
              message: 'Use the workflow `log` from @temporalio/workflow.',
            },
            {
              group: ['@opentelemetry/*'],
              message: 'Tracing is wired by interceptors in the worker.',
            },
            {
              group: ['@temporalio/client', '@temporalio/worker', '@temporalio/activity'],
              message: 'Workflows import only @temporalio/workflow.',
            },
            {
              group: ['../db/*', '../activities/*', '../clients/*', '../api/*', '../worker/*'],
              allowTypeImports: true,
              message: 'Workflows may import activity types only (import type).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
