// `circuit-inspector models` and `--bundle NAME`: the CLI finds bundles by the same rule as the
// editor's "Choose model…" and bundlePath setting (core/bundleList), in the package's models/ and in
// the folders of CIRCUIT_INSPECTOR_MODEL_FOLDERS, the CLI's counterpart of circuitInspector.modelFolders.
import * as fs from 'fs';
import * as path from 'path';
import { type BundleFolder, formatBytes, listBundles, resolveBundle } from './core/bundleList';
import { type Args, ModelError, UsageError } from './cli';

export const FOLDERS_ENV = 'CIRCUIT_INSPECTOR_MODEL_FOLDERS';

/** Where the CLI looks for bundles, in list and lookup order: <package root>/models/, then $CIRCUIT_INSPECTOR_MODEL_FOLDERS. */
export function cliBundleFolders(root: string, env: NodeJS.ProcessEnv = process.env): BundleFolder[] {
  const extra = (env[FOLDERS_ENV] ?? '').split(path.delimiter).filter((d) => d !== '');
  return [{ dir: path.join(root, 'models'), origin: 'shipped' }, ...extra.map((dir) => ({ dir, origin: FOLDERS_ENV }))];
}

/**
 * The folder --bundle names: a bundle's name in `folders`, else a path (a relative folder without a
 * slash too); without --bundle, the first bundle listed, or models/ itself when there is none, so that
 * loading says it holds no bundle.
 */
export function bundleDirFor(value: string | undefined, folders: readonly BundleFolder[]): string {
  const dir = resolveBundle(value ?? '', folders);
  if (dir !== undefined) return dir;
  if (value === undefined || value === '') return folders[0].dir;
  if (fs.existsSync(value)) return value;
  throw new ModelError(`no model bundle named "${value}" in ${folders.map((f) => f.dir).join(', ')}; give a bundle folder, or a name that circuit-inspector models lists`);
}

/** The `models` command's text: one entry per bundle (name, size, shape, where), then its card's first paragraph or why it cannot be loaded. */
export function modelsText(args: Args, folders: readonly BundleFolder[]): string {
  if (args.positional.length) throw new UsageError('models takes no FILE');
  const list = listBundles(folders);
  if (!list.length) return `No model bundles in ${folders.map((f) => f.dir).join(', ')}\n`;
  return list
    .map((b) => {
      const about = b.problem ? `cannot be loaded: ${b.problem}` : (b.about ?? 'no MODEL_CARD.md');
      return `${b.name}  ${formatBytes(b.bytes)}  ${b.shape}  (${b.origin}: ${b.dir})\n    ${about}\n`;
    })
    .join('');
}
