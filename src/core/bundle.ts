// Loads and fully validates a model bundle folder (docs/bundle-format.md) before anything runs, so
// that a broken bundle fails once, early, with a message the editor can show verbatim: every
// problem is one sentence `Bundle <dir>: <file> <what is wrong>. <how to fix it>.`
import * as fs from 'fs';
import * as path from 'path';
import { type CircuitFile, circuitFile } from '../schemas/circuit';
import { parse, ValidationError } from '../schemas/validate';
import { type LayoutEntry, NodeLayout, parseNodeId } from './nodes';
import { type RepeatedCircuit, withoutRepeats } from './tasks';
import { Tokenizer } from './tokenizer';

export const BUNDLE_FORMAT = 'circuit-inspector-bundle/1';
/** Smallest plausible ONNX file: anything shorter is a truncated copy. */
const MIN_ONNX_BYTES = 1024;

export interface ModelConfig {
  readonly vocab_size: number;
  readonly block_size: number;
  readonly n_layer: number;
  readonly d_model: number;
  readonly [key: string]: unknown;
}

export interface Bundle {
  /** The folder, as given to loadBundle. */
  readonly dir: string;
  readonly name: string;
  readonly model: ModelConfig;
  /** Max tokens per window (T ≤ context). */
  readonly context: number;
  readonly eotId: number;
  readonly onnxPath: string;
  readonly tokenizer: Tokenizer;
  readonly layout: NodeLayout;
  /** Each node's mean over validation text, the mean-ablation value [N]. */
  readonly means: Float32Array;
  /** In manifest order; task names are unique. A circuit that repeats an earlier one is in `repeats` instead. */
  readonly circuits: readonly CircuitFile[];
  /** The manifest's circuits left out as repeats of one in `circuits` (core/tasks withoutRepeats). */
  readonly repeats: readonly RepeatedCircuit[];
  readonly manifest: Readonly<Record<string, unknown>>;
}

/** A bundle problem; `message` is the one sentence to show. */
export class BundleError extends Error {
  constructor(
    message: string,
    /** The folder is absent or has no manifest: "no model installed" rather than "broken model". */
    readonly missing = false,
  ) {
    super(message);
    this.name = 'BundleError';
  }
}

const isPosInt = (x: unknown): x is number => Number.isInteger(x) && (x as number) > 0;

const REEXPORT = 'Re-export the bundle with training/export.py.';

/** What the steps of loading one bundle share: its folder, how to fail, and how to find a file it names. */
interface Reader {
  readonly dir: string;
  fail(msg: string, missing?: boolean): never;
  /** Path of a file the manifest names; it must stay inside the bundle and exist. */
  inside(rel: unknown, what: string, fix: string): string;
}

export function loadBundle(dir: string): Bundle {
  const fail = (msg: string, missing = false): never => {
    throw new BundleError(`Bundle ${dir}: ${msg}`, missing);
  };
  const inside = (rel: unknown, what: string, fix: string): string => {
    if (typeof rel !== 'string' || !rel || path.isAbsolute(rel) || rel.split(/[\\/]/).includes('..')) return fail(`manifest.json: ${what} must be a relative path inside the bundle. ${REEXPORT}`);
    const p = path.join(dir, rel);
    if (!fs.existsSync(p) || !fs.statSync(p).isFile()) fail(`${rel} (named by manifest.json ${what}) is missing. ${fix}`);
    return p;
  };
  const r: Reader = { dir, fail, inside };
  const m = readManifest(r);
  const { model, context } = modelConfig(r, m);
  const onnxPath = checkOnnx(r, m.onnx);
  const tokenizer = loadTokenizer(r, m, model);
  const { layout, means } = loadNodes(r, m, model);
  const { circuits, repeats } = withoutRepeats(loadCircuits(r, m, layout, tokenizer));
  return { dir, name: m.name as string, model, context, eotId: m.eot_id as number, onnxPath, tokenizer, layout, means, circuits, repeats, manifest: m };
}

/** manifest.json as an object with the right format and a name. */
function readManifest({ dir, fail }: Reader): Record<string, unknown> {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) fail('the folder does not exist. Set circuitInspector.bundlePath to a bundle folder, or run training/pipeline.sh to make one.', true);
  const manifestPath = path.join(dir, 'manifest.json');
  if (!fs.existsSync(manifestPath)) fail('manifest.json is missing. Point circuitInspector.bundlePath at a folder made by training/export.py.', true);
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  } catch (e) {
    fail(`manifest.json is not valid JSON (${(e as Error).message}). ${REEXPORT}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return fail(`manifest.json must hold a JSON object. ${REEXPORT}`);
  const m = parsed as Record<string, unknown>;
  if (m.format !== BUNDLE_FORMAT) fail(`manifest.json has format ${JSON.stringify(m.format)}, expected "${BUNDLE_FORMAT}". ${REEXPORT}`);
  if (typeof m.name !== 'string' || !m.name) fail(`manifest.json: "name" must be a non-empty string. ${REEXPORT}`);
  return m;
}

/** The model config, the context the extension runs at, and a valid end-of-text id. */
function modelConfig({ fail }: Reader, m: Record<string, unknown>): { model: ModelConfig; context: number } {
  const model = m.model as ModelConfig | undefined;
  if (typeof model !== 'object' || model === null) return fail(`manifest.json: "model" must be an object with the model config. ${REEXPORT}`);
  for (const k of ['vocab_size', 'block_size', 'n_layer', 'd_model'] as const) {
    if (!isPosInt(model[k])) fail(`manifest.json: model.${k} must be a positive integer, not ${JSON.stringify(model[k])}. ${REEXPORT}`);
  }
  const context = m.context ?? model.block_size;
  if (!isPosInt(context) || context > model.block_size) fail(`manifest.json: "context" must be a positive integer no larger than model.block_size (${model.block_size}). ${REEXPORT}`);
  if (!Number.isInteger(m.eot_id) || (m.eot_id as number) < 0 || (m.eot_id as number) >= model.vocab_size) fail(`manifest.json: "eot_id" must be a token id below model.vocab_size (${model.vocab_size}). ${REEXPORT}`);
  return { model, context: context as number };
}

/** The ONNX file: present, not truncated, and starting like a protobuf ModelProto. */
function checkOnnx({ fail, inside }: Reader, onnxRel: unknown): string {
  const onnxPath = inside(onnxRel, '"onnx"', `Copy it into the bundle or ${REEXPORT[0].toLowerCase()}${REEXPORT.slice(1)}`);
  const onnxSize = fs.statSync(onnxPath).size;
  if (onnxSize < MIN_ONNX_BYTES) fail(`${onnxRel as string} is only ${onnxSize} bytes, so the ONNX file is truncated. ${REEXPORT}`);
  // An ONNX file is a protobuf ModelProto whose first field is ir_version (field 1, varint): tag 0x08.
  const head = Buffer.alloc(1);
  const fd = fs.openSync(onnxPath, 'r');
  fs.readSync(fd, head, 0, 1, 0);
  fs.closeSync(fd);
  if (head[0] !== 0x08) fail(`${onnxRel as string} does not start like an ONNX model (a protobuf ModelProto). ${REEXPORT}`);
  return onnxPath;
}

/** The tokenizer, which must fit the model (vocabulary size, end-of-text token). */
function loadTokenizer({ fail, inside }: Reader, m: Record<string, unknown>, model: ModelConfig): Tokenizer {
  const tokRel = m.tokenizer as string;
  const tokPath = inside(m.tokenizer, '"tokenizer"', 'Copy the tokenizer.json the model was trained with into the bundle.');
  let tokenizer: Tokenizer | undefined;
  try {
    tokenizer = Tokenizer.fromJson(fs.readFileSync(tokPath, 'utf8'));
  } catch (e) {
    fail(`${tokRel} could not be read as a byte-level BPE tokenizer (${(e as Error).message}). Use the tokenizer.json the model was trained with.`);
  }
  const tok = tokenizer as Tokenizer;
  if (tok.vocabSize !== model.vocab_size) fail(`${tokRel} has ${tok.vocabSize} tokens but the model has ${model.vocab_size}, so it is the wrong tokenizer for this model. Use the tokenizer.json the model was trained with.`);
  if (!tok.isSpecial(m.eot_id as number)) fail(`${tokRel} has no special token with manifest.json eot_id ${m.eot_id as number}, so it is the wrong tokenizer for this model. Use the tokenizer.json the model was trained with.`);
  return tok;
}

/** The node layout and the nodes' means [N] (float32, little-endian on disk). */
function loadNodes({ fail, inside }: Reader, m: Record<string, unknown>, model: ModelConfig): { layout: NodeLayout; means: Float32Array } {
  const nodes = m.nodes as { count?: unknown; layout?: unknown; means?: unknown } | undefined;
  if (typeof nodes !== 'object' || nodes === null || !isPosInt(nodes.count) || !Array.isArray(nodes.layout)) return fail(`manifest.json: "nodes" must have a positive integer "count" and a "layout" list. ${REEXPORT}`);
  const count = nodes.count as number;
  const layout = new NodeLayout(nodes.layout as LayoutEntry[]);
  const problem = layout.problems(count);
  if (problem) fail(`manifest.json: the node layout is inconsistent (${problem}). ${REEXPORT}`);
  for (const e of layout.entries) {
    const layer = Number(e.name.split('.')[0]);
    if (layer >= model.n_layer) fail(`manifest.json: node location ${e.name} is in layer ${layer} but the model has ${model.n_layer} layers. ${REEXPORT}`);
  }
  const meansRel = nodes.means as string;
  const raw = fs.readFileSync(inside(nodes.means, 'nodes.means', REEXPORT));
  if (raw.length !== count * 4) fail(`${meansRel} holds ${raw.length} bytes but the model's ${count} nodes need exactly ${count * 4} (float32 each). ${REEXPORT}`);
  const means = new Float32Array(count); // [N], little-endian on disk whatever the host order
  for (let i = 0; i < count; i++) means[i] = raw.readFloatLE(i * 4);
  if (!means.every(Number.isFinite)) fail(`${meansRel} holds a value that is not a finite number. ${REEXPORT}`);
  return { layout, means };
}

/** The circuit files the manifest lists: schema-valid, naming real nodes, one per task. */
function loadCircuits({ fail, inside }: Reader, m: Record<string, unknown>, layout: NodeLayout, tok: Tokenizer): CircuitFile[] {
  const circuitList = m.circuits ?? [];
  if (!Array.isArray(circuitList)) fail(`manifest.json: "circuits" must be a list of paths. ${REEXPORT}`);
  const circuits: CircuitFile[] = [];
  const prune = 'Re-run training/prune.py for this task.';
  for (const rel of circuitList as unknown[]) {
    const p = inside(rel, `"circuits" entry ${JSON.stringify(rel)}`, 'Re-run training/prune.py or remove it from the list.');
    let c: CircuitFile | undefined;
    try {
      c = parse(circuitFile, JSON.parse(fs.readFileSync(p, 'utf8')), rel as string);
    } catch (e) {
      const why = e instanceof ValidationError || e instanceof SyntaxError ? e.message : String(e);
      fail(`${rel as string} is not a valid circuit file (${why.replace(/\.$/, '')}). ${prune}`);
    }
    circuits.push(checkCircuit(c as CircuitFile, rel as string, layout, tok, fail));
    if (circuits.filter((x) => x.task === (c as CircuitFile).task).length > 1) fail(`${rel as string} repeats task ${(c as CircuitFile).task}, which another circuit file already has. Remove one of them from manifest.json "circuits".`);
  }
  return circuits;
}

/** Cross-checks of a schema-valid circuit file against the model: every node it names must exist. */
export function checkCircuit(c: CircuitFile, rel: string, layout: NodeLayout, tok: Tokenizer, fail: (msg: string) => never): CircuitFile {
  const fix = 'Re-export the bundle or fix the circuit file.';
  const known = (id: string, where: string): void => {
    if (layout.flat(id) === undefined) fail(`${rel} names node ${id}${where}, which is not in the model's node layout. ${fix}`);
  };
  const ids = new Set<string>();
  for (const n of c.nodes) {
    known(n.id, '');
    const parts = parseNodeId(n.id);
    if (layout.flat(n.id) !== n.flat) fail(`${rel}: node ${n.id} says flat index ${n.flat} but the layout puts it at ${layout.flat(n.id) as number}. ${fix}`);
    if (!parts || parts.layer !== n.layer || `${parts.kind}.${parts.site}` !== n.site || parts.index !== n.index) fail(`${rel}: node ${n.id} has layer/site/index fields (${n.layer}, ${n.site}, ${n.index}) that disagree with its id. ${fix}`);
    ids.add(n.id);
  }
  for (const e of c.edges) {
    known(e.source, ' as an edge source');
    known(e.target, ' as an edge target');
  }
  for (const t of c.firing?.terms ?? []) known(t.node, ' in its firing rule');
  for (const k of c.key_nodes ?? []) known(k, ' as a key node');
  for (const cls of c.classes) {
    for (const t of cls.tokens) if (!(t.id >= 0 && t.id < tok.vocabSize)) fail(`${rel}: class "${cls.label}" token ${JSON.stringify(t.text)} has id ${t.id}, outside the vocabulary of ${tok.vocabSize}. ${fix}`);
  }
  return c;
}
