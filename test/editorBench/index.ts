// The mocha runner VS Code loads for the editor benchmark (scripts/bench-editor.sh): the suites of
// this folder, with the integration tests' runner and its report to the offline driver.
import { runSuites } from '../integration/index';

export function run(): Promise<void> {
  return runSuites(__dirname);
}
