// The nodes named by a file given as `--ablate @FILE` or `--only @FILE`: a circuit file (bundle
// format), the JSON the panel exports, or the JSON `discover` writes — each has "nodes": [{"id"}].
import * as fs from 'fs';
import { checkCircuit, type Bundle } from './bundle';
import { circuitFile, type CircuitFile } from '../schemas/circuit';
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

/**
 * The file as a circuit of a task the model lacks (one "Why this token?" saved with --save), so that
 * its contrast can be read beside the ablation it names; undefined for any other node list. Call it
 * after readNodeList, which has already said what is wrong with an unreadable file.
 */
export function readContrastCircuit(file: string, bundle: Bundle): CircuitFile | undefined {
  const checked = check(circuitFile, JSON.parse(fs.readFileSync(file, 'utf8')));
  if (!checked.ok || bundle.circuits.some((c) => c.task === checked.value.task)) return undefined;
  try {
    return checkCircuit(checked.value, file, bundle.layout, bundle.tokenizer, (message) => {
      throw new Error(message);
    });
  } catch {
    return undefined; // its nodes are the model's (readNodeList checked them); only a contrast the model cannot read is left out
  }
}
