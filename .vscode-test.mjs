// @vscode/test-cli configuration (`npm run test:electron`), for machines that can download desktop
// VS Code. The same mocha files run offline inside code-server through scripts/run-vscode-tests.js
// (`npm run test:integration`, part of `npm test`); there the runner is test/integration/index.ts.
import { defineConfig } from '@vscode/test-cli';

export default defineConfig({
  files: 'out/test/integration/**/*.test.js',
  workspaceFolder: 'test/fixtures/workspace',
  launchArgs: ['--disable-extensions'], // only the extension under test, like the offline sandbox
  mocha: { ui: 'tdd', timeout: 120000 },
});
