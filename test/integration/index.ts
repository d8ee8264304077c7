// The mocha runner that VS Code loads in the extension host (the @vscode/test-electron contract:
// export run()). It also POSTs its own counts to the offline driver, because a crashed extension
// host makes the workbench report success.
import * as fs from 'fs';
import Mocha from 'mocha';
import * as path from 'path';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 120_000, reporter: 'spec' });
  for (const f of fs.readdirSync(__dirname).sort()) if (f.endsWith('.test.js')) mocha.addFile(path.join(__dirname, f));
  return new Promise((resolve, reject) => {
    const runner = mocha.run(async (failures) => {
      const port = process.env.VSCODE_TEST_DRIVER_PORT;
      if (port) {
        await fetch(`http://127.0.0.1:${port}/result`, {
          method: 'POST',
          body: JSON.stringify({ failures, passes: runner.stats?.passes ?? 0, total: runner.total }),
        }).catch(() => undefined);
      }
      if (failures > 0) reject(new Error(`${failures} tests failed.`));
      else resolve();
    });
  });
}
