import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const made: string[] = [];
// node --test runs every test file in a process of its own, so its exit is the end of the file's tests
process.on('exit', () => made.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

/** A fresh directory under the system temp folder, removed when the test process exits. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** A temporary copy of the bundle folder `src`, changed by `edit` (for the broken-bundle tests). */
export function editedCopy(src: string, prefix: string, edit: (dir: string) => void): string {
  const dir = tempDir(prefix);
  fs.cpSync(src, dir, { recursive: true });
  edit(dir);
  return dir;
}
