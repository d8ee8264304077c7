import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Who may import whom (docs/ARCHITECTURE.md): the core and the shared schemas run without VS Code
// (the CLI, the unit tests, the webview for the schemas); the webview runs in a browser sandbox and
// reaches the host only through messages; the extension talks to the webview only through messages.
const restrict = (...patterns) => ['error', { paths: [{ name: 'vscode', message: 'only src/extension/ may import vscode' }], patterns }];

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', '.vscode-test/**', '.venv/**', 'training/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      eqeqeq: 'error',
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: { 'no-restricted-imports': restrict({ group: ['**/extension/**', '**/webview/**', '../cli', '../bench'], message: 'the core imports only itself and src/schemas' }) },
  },
  {
    files: ['src/schemas/**/*.ts'],
    rules: { 'no-restricted-imports': restrict({ group: ['**/core/**', '**/extension/**', '**/webview/**'], message: 'the shared schemas import nothing of the parts that share them' }) },
  },
  {
    files: ['src/webview/**/*.ts'],
    rules: {
      'no-restricted-imports': restrict({
        group: ['**/extension/**', '**/core/**', '!**/core/errors', 'fs', 'path', 'worker_threads', 'onnxruntime-node', 'node:*'],
        message: 'the webview is browser code: it may import src/schemas and src/core/errors, and reaches the host only through messages',
      }),
    },
  },
  {
    files: ['src/extension/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/webview/**'], message: 'the extension talks to the webview only through messages (src/schemas/messages.ts)' }] }] },
  },
);
