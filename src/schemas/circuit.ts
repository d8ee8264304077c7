// The circuit file (`models/<name>/circuits/<task>.json`, docs/bundle-format.md) as it travels to
// the circuit panel: one schema, its types inferred from it. Unknown keys are dropped (the file may
// carry more than the panel needs, e.g. free-form metrics), every documented key is checked.

import * as v from 'valibot';
import { boundedArray, boundedString, finite, type Infer, integer, isPlainObject, text } from './validate';

/** Upper bounds that keep a hostile or corrupt file from flooding the panel. */
export const CIRCUIT_LIMITS = {
  nodes: 2_000,
  edges: 20_000,
  classes: 2,
  tokensPerClass: 256,
  examples: 200,
  /** Per node: top examples and quantile examples from the validation corpus. */
  nodeExamples: 16,
  terms: 256,
  metrics: 64,
} as const;

/** Node ids are `{layer}.{attn|mlp}.{site}.{index}`, e.g. `0.attn.v.17`. */
export const NODE_ID_PATTERN = /^(0|[1-9]\d{0,2})\.(attn|mlp)\.[a-z][a-z_]{0,31}\.(0|[1-9]\d{0,5})$/;
/** Sites are `{attn|mlp}.{site}`, e.g. `attn.v`, `mlp.post_act`. */
export const SITE_PATTERN = /^(attn|mlp)\.[a-z][a-z_]{0,31}$/;

export const nodeId = boundedString(48, NODE_ID_PATTERN);

/** A circuit's task name, its key in the bundle, e.g. `single_double_quote`. */
export const circuitTask = boundedString(100, /^[A-Za-z0-9_.-]+$/);

/** 0 or 1: a side of the task's contrast. */
export const classIndex = v.picklist([0, 1]);

const circuitClass = v.object({
  label: boundedString(200),
  tokens: boundedArray(v.object({ id: integer(0, 1_000_000), text }), CIRCUIT_LIMITS.tokensPerClass),
});

/**
 * One token of the validation corpus in its context, as training/node_examples.py stores it: raw
 * text (the panel makes whitespace visible), the node's activation there, and where it comes from.
 */
export const nodeExample = v.object({
  before: text,
  token: text,
  after: text,
  /** The node's activation at the token, in the units of the panel's value at the cursor. */
  value: finite,
  /** The corpus file's path (e.g. `stdlib/json/decoder.py`) and 1-based line of the token. */
  file: boundedString(500),
  line: integer(1, 100_000_000),
});

/** A share in [0, 1]. */
const fraction = v.pipe(finite, v.minValue(0), v.maxValue(1));

/** A node's evidence from the validation corpus (`node_examples` on the circuit says how it was gathered). */
export const nodeExamples = v.object({
  /** Share of the scanned tokens where the node is nonzero; absent where the source does not say (OpenAI's stored samples, training/openai_viz.py). */
  nonzero: v.optional(fraction),
  /** The largest |activation|s, largest first, in contexts that do not overlap. */
  top: boundedArray(nodeExample, CIRCUIT_LIMITS.nodeExamples),
  /** The token at quantile `q` of |activation| over the tokens where the node is nonzero. */
  quantiles: boundedArray(v.object({ q: fraction, example: nodeExample }), CIRCUIT_LIMITS.nodeExamples),
});

export const circuitNode = v.pipe(
  v.object({
    /** `{layer}.{attn|mlp}.{site}.{index}` */
    id: nodeId,
    layer: integer(0, 999),
    /** `attn.q`, `mlp.post_act`, … */
    site: boundedString(40, SITE_PATTERN),
    index: integer(0, 999_999),
    /** Index into the model's flat node vector. */
    flat: integer(0, 100_000_000),
    /** Short human label, e.g. "quote type (V)". */
    label: boundedString(200),
    /** One sentence, backed by evidence. */
    meaning: text,
    /** Mean activation over validation text (the value a mean-ablated node takes). */
    mean: finite,
    /** Ablation importance, 0…1 (larger = the task loss rises more when ablated). */
    importance: finite,
    /** Pearson r of the node's activation with the example being of class 0 (optional; the panel weights its edge into the output node with it). */
    class_correlation: v.optional(finite),
    /** Example contexts from the validation corpus (optional; training/node_examples.py). */
    examples: v.optional(nodeExamples),
  }),
  v.check((n) => n.id === `${n.layer}.${n.site}.${n.index}`, (issue) => `id ${String((issue.input as { id: unknown }).id)} does not match layer/site/index`),
);

/** The scope kinds a circuit file may name (`"scope": {"kind": …}`); src/core/taskScope.ts decides each. */
const SCOPE_KINDS = ['string-close', 'list-close', 'keyword-true', 'name-compare-assign', 'anywhere'] as const;
const READ_AT = ['before-closer', 'closer'] as const;

/**
 * Where in a document the circuit's task applies (docs/bundle-format.md). Optional in the file:
 * without it the core takes the scope of the task by its name (the four shipped tasks), else
 * `anywhere`. `region`: `point` (only the tokens that predict a task point) or `inside` (also the
 * tokens inside the construct); its default depends on the kind. `read_at` (string-close and
 * list-close): which token's prediction answers the task — `before-closer` (default: the token that
 * ends right before the closing quote or `]`) or `closer` (the closer's own token, when the model's
 * tokenizer makes it a token of its own and the contrast is the token after it: `]` then `]` or `\n`).
 */
export const circuitScope = v.object({
  kind: v.picklist(SCOPE_KINDS),
  region: v.optional(v.picklist(['point', 'inside'])),
  read_at: v.optional(v.picklist(READ_AT)),
});

/**
 * What the circuit's evidence must show for the editor to present it as carrying its task
 * (src/core/circuitEvidence.ts): the full model does the task (its contrast loss at most
 * `max_task_loss_model`; chance is ln 2 ≈ 0.69) and the circuit alone keeps at least
 * `min_logit_diff_recovered` of the model's logit difference. Written by training/prune.py.
 */
const evidenceThresholds = v.object({
  max_task_loss_model: finite,
  min_logit_diff_recovered: finite,
});

/** How the nodes' `examples` were gathered (training/node_examples.py). */
const nodeExamplesSource = v.object({
  /** The corpus file's name, e.g. `corpus_val.jsonl`. */
  corpus: boundedString(200),
  files: integer(0, 100_000_000),
  windows: integer(0, 100_000_000),
  /** Tokens scanned: the denominator of each node's `nonzero`. */
  tokens: integer(0, 1_000_000_000_000),
  /** Tokens of context stored on either side. */
  context: integer(0, 10_000),
  /** What an example's `value` is, in words. */
  value: text,
});

const circuitEdge = v.object({ source: nodeId, target: nodeId, weight: finite });

const circuitFiring = v.object({
  terms: boundedArray(v.object({ node: nodeId, coef: finite }), CIRCUIT_LIMITS.terms),
  threshold: finite,
  positive_class: classIndex,
});

/** Metrics: keep the numeric entries, drop the rest (the file may hold nested provenance). */
const metrics = v.pipe(
  v.custom<Record<string, unknown>>(isPlainObject, 'expected an object'),
  v.check((m) => Object.keys(m).length <= CIRCUIT_LIMITS.metrics, `more than ${CIRCUIT_LIMITS.metrics} entries`),
  v.check((m) => Object.keys(m).every((k) => k.length <= 64 && /^[A-Za-z0-9_.-]+$/.test(k)), 'a key has an unexpected form'),
  v.transform((m) => {
    const out = Object.create(null) as Record<string, number>;
    for (const [k, x] of Object.entries(m)) if (typeof x === 'number' && Number.isFinite(x)) out[k] = x;
    return out;
  }),
);

const circuitShape = v.object({
  task: circuitTask,
  title: boundedString(200),
  description: text,
  scope: v.optional(circuitScope),
  classes: v.pipe(v.strictTuple([circuitClass, circuitClass]), v.readonly()),
  examples: v.optional(boundedArray(v.object({ prompt: text, class: classIndex }), CIRCUIT_LIMITS.examples)),
  nodes: boundedArray(circuitNode, CIRCUIT_LIMITS.nodes),
  edges: boundedArray(circuitEdge, CIRCUIT_LIMITS.edges),
  firing: v.optional(circuitFiring),
  key_nodes: v.optional(boundedArray(nodeId, CIRCUIT_LIMITS.nodes)),
  /** Numeric metrics only (e.g. task_loss_model, task_loss_circuit, n_nodes, n_edges). */
  metrics: v.optional(metrics),
  evidence_thresholds: v.optional(evidenceThresholds),
  node_examples: v.optional(nodeExamplesSource),
});

/** A circuit file, including referential integrity (edges and key nodes name known nodes). */
export const circuitFile = v.pipe(
  circuitShape,
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const why = integrityProblem(dataset.value);
    if (why) addIssue({ message: why });
  }),
);

export type CircuitFile = Infer<typeof circuitFile>;
export type CircuitNode = Infer<typeof circuitNode>;
export type CircuitScope = Infer<typeof circuitScope>;
export type NodeExample = Infer<typeof nodeExample>;
export type NodeExamples = Infer<typeof nodeExamples>;

/** Duplicate nodes, or edges and key nodes that name a node the circuit does not have. */
function integrityProblem(c: Infer<typeof circuitShape>): string | undefined {
  const ids = new Set<string>();
  for (const n of c.nodes) {
    if (ids.has(n.id)) return `nodes: duplicate node ${n.id}`;
    ids.add(n.id);
  }
  const bad = c.edges.findIndex((e) => !ids.has(e.source) || !ids.has(e.target));
  if (bad >= 0) return `edges[${bad}]: edge names a node that is not in the circuit`;
  const key = c.key_nodes?.find((k) => !ids.has(k));
  return key === undefined ? undefined : `key_nodes: unknown node ${key}`;
}
