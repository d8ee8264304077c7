// @vscode/test-cli configuration, for machines that can download VS Code (`npm run test:electron`).
// The same mocha suite runs offline in code-server through scripts/test-integration.sh.
import { defineConfig } from '@vscode/test-cli';

export default defineConfig({
  files: 'out/test/integration/**/*.test.js',
  workspaceFolder: 'test/fixtures/workspace',
  mocha: { ui: 'tdd', timeout: 120000 },
});
