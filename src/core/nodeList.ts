// The nodes named by a file given as `--ablate @FILE` or `--only @FILE`: a circuit file (bundle
// format), the JSON the panel exports, or the JSON `discover` writes — each has "nodes": [{"id"}].
// The file is read and parsed once; a circuit "Why this token?" saved also brings its contrast.
import * as fs from 'fs';
import { checkCircuit, type Bundle } from './bundle';
import { circuitFile, type CircuitFile } from '../schemas/circuit';
import { nodeListFile } from '../schemas/nodeList';
import { check } from '../schemas/validate';

export interface NodeFile {
  /** The node ids the file names, each a node of the bundle. */
  readonly ids: string[];
  /**
   * The file as a circuit of a task the model lacks (one "Why this token?" saved with --save), so
   * that its contrast can be read beside the ablation it names; undefined for any other node list.
   */
  readonly contrast: CircuitFile | undefined;
}

/** The node file's ids and, for a saved found circuit, its contrast; or a one-sentence Error. */
export function readNodeFile(file: string, bundle: Bundle): NodeFile {
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
  return { ids, contrast: contrastOf(raw, file, bundle) };
}

/** The parsed file as a found circuit with a contrast the model can read, else undefined. */
function contrastOf(raw: unknown, file: string, bundle: Bundle): CircuitFile | undefined {
  const checked = check(circuitFile, raw);
  if (!checked.ok || bundle.circuits.some((c) => c.task === checked.value.task)) return undefined;
  try {
    return checkCircuit(checked.value, file, bundle.layout, bundle.tokenizer, (message) => {
      throw new Error(message);
    });
  } catch {
    return undefined; // its nodes are the model's (checked above); only a contrast the model cannot read is left out
  }
}
