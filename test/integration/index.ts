// The mocha runner that VS Code loads in the extension host (the @vscode/test-electron contract:
// export run()). It also POSTs its own counts to the offline driver, because a crashed extension
// host makes the workbench report success (exit 0) — the driver only trusts this report.
import * as fs from 'fs';
import Mocha from 'mocha';
import * as path from 'path';

export function run(): Promise<void> {
  return runSuites(__dirname);
}

/** Every *.test.js in `dir` (also the editor benchmark's runner: test/editorBench). */
export function runSuites(dir: string): Promise<void> {
  // VSCODE_TEST_GREP narrows a run while working on one suite (code-server's env reaches the host).
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 120_000, reporter: 'spec', grep: process.env.VSCODE_TEST_GREP || undefined });
  // foundation first: if the extension cannot even load, that is the failure to read first
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.test.js'));
  files.sort((a, b) => Number(b === 'foundation.test.js') - Number(a === 'foundation.test.js') || a.localeCompare(b));
  for (const f of files) mocha.addFile(path.join(dir, f));
  return new Promise((resolve, reject) => {
    const runner = mocha.run(async (failures) => {
      await report({ failures, passes: runner.stats?.passes ?? 0, total: runner.total });
      if (failures > 0) reject(new Error(`${failures} tests failed.`));
      else resolve();
    });
  });
}

async function report(result: { failures: number; passes: number; total: number }): Promise<void> {
  const port = process.env.VSCODE_TEST_DRIVER_PORT;
  if (!port) return; // under @vscode/test-electron the exit code alone is trusted
  await fetch(`http://127.0.0.1:${port}/result`, { method: 'POST', body: JSON.stringify(result) }).catch((e) =>
    console.error(`could not report the result to the driver: ${e}`),
  );
}
