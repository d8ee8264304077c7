// The model bundles a user can choose from ("Choose model…", the bundlePath setting by name): every
// folder holding a manifest.json directly inside the searched folders (the extension's models/, the
// user's circuitInspector.modelFolders, …). Listing reads only manifest.json and the first paragraph of
// MODEL_CARD.md, never the graph, so that a folder of large converted models lists at once; a bundle
// whose manifest cannot be read is still listed, with the reason, so that choosing it explains itself.
import * as fs from 'fs';
import * as path from 'path';
import { errorMessage } from './errors';

export interface BundleFolder {
  readonly dir: string;
  /** Where the folder comes from, as the list shows it ("shipped", "model folder", …). */
  readonly origin: string;
}

export interface BundleEntry {
  /** The folder's name: what bundlePath may hold instead of a path. */
  readonly name: string;
  readonly dir: string;
  readonly origin: string;
  /** Size of the folder's files, recursively. */
  readonly bytes: number;
  /** Shape and circuits from manifest.json, e.g. "2 layers · d_model 128 · 4 circuits". */
  readonly shape: string;
  /** What the model is: the model card's first paragraph, when there is a card. */
  readonly about?: string;
  /** Why manifest.json cannot be read, when it cannot. */
  readonly problem?: string;
}

/** Every bundle directly inside `folders` (missing folders are skipped), in folder order, then by name. */
export function listBundles(folders: readonly BundleFolder[]): BundleEntry[] {
  return folders.flatMap((folder) => {
    if (!fs.existsSync(folder.dir) || !fs.statSync(folder.dir).isDirectory()) return [];
    return fs
      .readdirSync(folder.dir)
      .sort()
      .map((name) => path.join(folder.dir, name))
      .filter((dir) => fs.existsSync(path.join(dir, 'manifest.json')))
      .map((dir) => describeBundle(dir, folder.origin));
  });
}

/**
 * The folder a bundlePath value names: '' → the first listed bundle (the shipped one when
 * `folders` starts with models/); a bare name → the first listed bundle of that name; anything
 * else is a path. Undefined when nothing matches, so that the caller says what it searched.
 */
export function resolveBundle(value: string, folders: readonly BundleFolder[]): string | undefined {
  if (value !== '' && (path.isAbsolute(value) || value.includes('/') || value.includes(path.sep))) return value;
  const found = listBundles(folders);
  return (value === '' ? found[0] : found.find((b) => b.name === value))?.dir;
}

function describeBundle(dir: string, origin: string): BundleEntry {
  const base = { name: path.basename(dir), dir, origin, bytes: folderBytes(dir), about: cardParagraph(dir) };
  try {
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { model?: { n_layer?: unknown; d_model?: unknown }; circuits?: unknown };
    const circuits = Array.isArray(m.circuits) ? m.circuits.length : 0;
    const parts = [
      typeof m.model?.n_layer === 'number' ? `${m.model.n_layer} layers` : undefined,
      typeof m.model?.d_model === 'number' ? `d_model ${m.model.d_model}` : undefined,
      circuits === 0 ? 'no circuits' : `${circuits} circuit${circuits === 1 ? '' : 's'}`,
    ];
    return { ...base, shape: parts.filter((p) => p !== undefined).join(' · ') };
  } catch (e) {
    return { ...base, shape: 'unreadable manifest', problem: `${path.join(dir, 'manifest.json')}: ${errorMessage(e)}` };
  }
}

/** The model card's first paragraph (after the title) on one line, without Markdown code marks. */
function cardParagraph(dir: string): string | undefined {
  const card = path.join(dir, 'MODEL_CARD.md');
  if (!fs.existsSync(card)) return undefined;
  const paragraphs = fs.readFileSync(card, 'utf8').split(/\n\s*\n/).map((p) => p.trim());
  const first = paragraphs.find((p) => p !== '' && !p.startsWith('#'));
  return first?.replace(/\s*\n\s*/g, ' ').replace(/`/g, '');
}

/**
 * Bytes of the files under `dir`, links followed: a bundle assembled from links to files elsewhere
 * (a downloaded checkpoint's folder, the shipped bundle's files) is as large as what it links to, not
 * 0 B. A folder reached a second time (a link loop), a dangling link and anything unreadable count 0,
 * so that listing never fails on a folder's contents.
 */
function folderBytes(dir: string, seen = new Set<string>()): number {
  let names: string[];
  try {
    const real = fs.realpathSync(dir);
    if (seen.has(real)) return 0;
    seen.add(real);
    names = fs.readdirSync(dir);
  } catch {
    return 0;
  }
  return names.reduce((sum, name) => {
    const p = path.join(dir, name);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(p);
    } catch {
      return sum;
    }
    return sum + (stat.isDirectory() ? folderBytes(p, seen) : stat.isFile() ? stat.size : 0);
  }, 0);
}

/** 16.2 MB, 642 MB, 1.67 GB: a bundle's size as the list shows it. */
export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 || n >= 100 ? Math.round(n) : n.toPrecision(3)} ${units[i]}`;
}
