// Loads and validates a model bundle folder (docs/bundle-format.md). Every problem is reported as
// one sentence that names the file and says how to fix it, so the editor can show it verbatim.
import * as fs from 'fs';
import * as path from 'path';
import { type CircuitFile, circuitFile } from '../protocol/circuit';
import { ValidationError } from '../protocol/validate';
import { BpeTokenizer } from './bpe';
import { type LayoutEntry, NodeLayout } from './nodes';

export const BUNDLE_FORMAT = 'circuit-inspector-bundle/1';

export interface ModelConfig {
  readonly vocab_size: number;
  readonly block_size: number;
  readonly n_layer: number;
  readonly d_model: number;
}

export interface Bundle {
  readonly dir: string;
  readonly name: string;
  readonly model: ModelConfig;
  readonly context: number;
  readonly eotId: number;
  readonly onnxPath: string;
  readonly tokenizer: BpeTokenizer;
  readonly layout: NodeLayout;
  /** Each node's mean over validation text: the mean-ablation value. [N] */
  readonly means: Float32Array;
  readonly circuits: readonly CircuitFile[];
  readonly manifest: Readonly<Record<string, unknown>>;
}

export class BundleError extends Error {}

export function loadBundle(dir: string): Bundle {
  const where = `Bundle ${dir}`;
  const fail = (msg: string): never => {
    throw new BundleError(`${where}: ${msg}`);
  };
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) fail('the folder does not exist. Set circuitInspector.bundlePath to a bundle folder, or run training/pipeline.sh to make one.');
  const manifestPath = path.join(dir, 'manifest.json');
  if (!fs.existsSync(manifestPath)) fail('manifest.json is missing. Point circuitInspector.bundlePath at a folder made by training/export.py.');
  let m: Record<string, unknown> = {};
  try {
    m = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    fail(`manifest.json is not valid JSON (${(e as Error).message}). Re-export the bundle.`);
  }
  if (m.format !== BUNDLE_FORMAT) fail(`manifest.json has format ${JSON.stringify(m.format)}, expected "${BUNDLE_FORMAT}". Re-export the bundle with this version's training/export.py.`);
  const model = m.model as ModelConfig | undefined;
  for (const k of ['vocab_size', 'block_size', 'n_layer', 'd_model'] as const) {
    if (!model || !Number.isInteger(model[k]) || model[k] <= 0) fail(`manifest.json: model.${k} must be a positive integer. Re-export the bundle.`);
  }
  const file = (key: string): string => {
    const rel = m[key];
    if (typeof rel !== 'string' || rel.includes('..')) return fail(`manifest.json: "${key}" must name a file inside the bundle.`);
    const p = path.join(dir, rel);
    if (!fs.existsSync(p)) fail(`${rel} (named by manifest.json "${key}") is missing. Copy it into the bundle or re-export it.`);
    return p;
  };
  const onnxPath = file('onnx');
  if (fs.statSync(onnxPath).size < 1024) fail(`${path.basename(onnxPath)} is only ${fs.statSync(onnxPath).size} bytes: the ONNX file is truncated. Re-export the bundle.`);

  const tokPath = file('tokenizer');
  let tokenizer: BpeTokenizer | undefined;
  try {
    tokenizer = BpeTokenizer.fromJson(fs.readFileSync(tokPath, 'utf8'));
  } catch (e) {
    fail(`${path.basename(tokPath)} could not be read as a BPE tokenizer (${(e as Error).message}). Use the tokenizer.json the model was trained with.`);
  }
  const tok = tokenizer as BpeTokenizer;
  if (tok.vocabSize !== (model as ModelConfig).vocab_size) fail(`${path.basename(tokPath)} has ${tok.vocabSize} tokens but the model expects ${(model as ModelConfig).vocab_size}: it is the wrong tokenizer for this model.`);

  const nodes = m.nodes as { count?: unknown; layout?: unknown; means?: unknown } | undefined;
  if (!nodes || !Number.isInteger(nodes.count) || !Array.isArray(nodes.layout)) fail('manifest.json: "nodes" must have an integer "count" and a "layout" list. Re-export the bundle.');
  const count = (nodes as { count: number }).count;
  const layout = new NodeLayout((nodes as { layout: LayoutEntry[] }).layout);
  const problem = layout.problems(count);
  if (problem) fail(`manifest.json: the node layout is inconsistent (${problem}). Re-export the bundle.`);
  const meansPath = path.join(dir, String((nodes as { means?: unknown }).means ?? ''));
  if (typeof (nodes as { means?: unknown }).means !== 'string' || !fs.existsSync(meansPath)) fail('the node means file named by manifest.json nodes.means is missing. Re-export the bundle.');
  const raw = fs.readFileSync(meansPath);
  if (raw.length !== count * 4) fail(`${path.basename(meansPath)} holds ${raw.length / 4} float32 values but the model has ${count} nodes. Re-export the bundle.`);
  const means = new Float32Array(count);
  for (let i = 0; i < count; i++) means[i] = raw.readFloatLE(i * 4);

  const circuits: CircuitFile[] = [];
  for (const rel of (Array.isArray(m.circuits) ? m.circuits : []) as unknown[]) {
    if (typeof rel !== 'string' || rel.includes('..')) fail('manifest.json: every entry of "circuits" must be a path inside the bundle.');
    const p = path.join(dir, rel as string);
    if (!fs.existsSync(p)) fail(`${rel} (listed in manifest.json "circuits") is missing. Re-run training/prune.py or remove it from the list.`);
    let c: CircuitFile | undefined;
    try {
      c = circuitFile(JSON.parse(fs.readFileSync(p, 'utf8')), rel as string);
    } catch (e) {
      const why = e instanceof ValidationError || e instanceof SyntaxError ? e.message : String(e);
      fail(`${rel} is not a valid circuit file (${why}). Re-run training/prune.py for this task.`);
    }
    for (const n of (c as CircuitFile).nodes) {
      if (layout.flat(n.id) === undefined) fail(`${rel} names node ${n.id}, which is not in the model's node layout. Re-export the bundle or fix the circuit file.`);
      if (layout.flat(n.id) !== n.flat) fail(`${rel}: node ${n.id} says flat index ${n.flat} but the layout puts it at ${layout.flat(n.id)}. Re-run training/prune.py for this task.`);
    }
    for (const t of (c as CircuitFile).firing?.terms ?? []) {
      if (layout.flat(t.node) === undefined) fail(`${rel}: the firing rule names node ${t.node}, which is not in the model's node layout. Re-run training/prune.py for this task.`);
    }
    for (const cls of (c as CircuitFile).classes) {
      for (const t of cls.tokens) if (!(t.id >= 0 && t.id < tok.vocabSize)) fail(`${rel}: class token ${JSON.stringify(t.text)} has id ${t.id}, outside the vocabulary. Re-run training/prune.py for this task.`);
    }
    circuits.push(c as CircuitFile);
  }
  return {
    dir,
    name: typeof m.name === 'string' ? m.name : path.basename(dir),
    model: model as ModelConfig,
    context: Number.isInteger(m.context) ? (m.context as number) : (model as ModelConfig).block_size,
    eotId: Number.isInteger(m.eot_id) ? (m.eot_id as number) : tok.vocabSize - 1,
    onnxPath,
    tokenizer: tok,
    layout,
    means,
    circuits,
    manifest: m,
  };
}
