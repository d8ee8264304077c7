// The nodes named by a file given as `--ablate @FILE` or `--only @FILE`: a circuit file (bundle
// format), the JSON the panel exports, or the JSON `discover` writes — each has "nodes": [{"id"}].
import * as fs from 'fs';
import type { Bundle } from './bundle';
import { nodeListFile } from '../schemas/nodeList';
import { check } from '../schemas/validate';

/** The node ids the file names, each a node of the bundle, or a one-sentence Error. */
export function readNodeList(file: string, bundle: Bundle): string[] {
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new Error(`${file}: no such file`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    throw new Error(`${file} is not JSON; give a circuit file, a panel JSON export or discover's --json output`);
  }
  const checked = check(nodeListFile, raw);
  if (!checked.ok) throw new Error(`${file} does not list nodes as a circuit file does (${checked.error.message})`);
  const ids = checked.value.nodes.map((n) => n.id);
  const unknown = ids.find((id) => bundle.layout.flat(id) === undefined);
  if (unknown !== undefined) throw new Error(`${file} names node ${unknown}, which is not a node of ${bundle.name}`);
  return ids;
}
