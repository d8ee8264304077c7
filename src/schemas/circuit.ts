// The circuit file (`models/<name>/circuits/<task>.json`, docs/bundle-format.md) as it travels to
// the circuit panel: typed, with a validator. Unknown keys are dropped (the file may carry more
// than the panel needs, e.g. free-form metrics), every documented key is checked.

import { array, finite, literal, number, object, optional, record, string, text, type Validator, ValidationError } from './validate';

/** Upper bounds that keep a hostile or corrupt file from flooding the panel. */
export const CIRCUIT_LIMITS = {
  nodes: 2_000,
  edges: 20_000,
  classes: 2,
  tokensPerClass: 256,
  examples: 200,
  terms: 256,
  metrics: 64,
} as const;

/** Node ids are `{layer}.{attn|mlp}.{site}.{index}`, e.g. `0.attn.v.17`. */
export const NODE_ID_PATTERN = /^(0|[1-9]\d{0,2})\.(attn|mlp)\.[a-z][a-z_]{0,31}\.(0|[1-9]\d{0,5})$/;
/** Sites are `{attn|mlp}.{site}`, e.g. `attn.v`, `mlp.post_act`. */
export const SITE_PATTERN = /^(attn|mlp)\.[a-z][a-z_]{0,31}$/;

export const nodeId: Validator<string> = string({ max: 48, pattern: NODE_ID_PATTERN });

export interface CircuitToken {
  readonly id: number;
  readonly text: string;
}

export interface CircuitClass {
  readonly label: string;
  readonly tokens: readonly CircuitToken[];
}

export interface CircuitExample {
  readonly prompt: string;
  readonly class: 0 | 1;
}

export interface CircuitNode {
  /** `{layer}.{attn|mlp}.{site}.{index}` */
  readonly id: string;
  readonly layer: number;
  /** `attn.q`, `mlp.post_act`, … */
  readonly site: string;
  readonly index: number;
  /** Index into the model's flat node vector. */
  readonly flat: number;
  /** Short human label, e.g. "quote type (V)". */
  readonly label: string;
  /** One sentence, backed by evidence. */
  readonly meaning: string;
  /** Mean activation over validation text (the value a mean-ablated node takes). */
  readonly mean: number;
  /** Ablation importance, 0…1 (larger = the task loss rises more when ablated). */
  readonly importance: number;
}

export interface CircuitEdge {
  readonly source: string;
  readonly target: string;
  readonly weight: number;
}

export interface CircuitFiring {
  readonly terms: readonly { readonly node: string; readonly coef: number }[];
  readonly threshold: number;
  readonly positive_class: 0 | 1;
}

export interface CircuitFile {
  readonly task: string;
  readonly title: string;
  readonly description: string;
  readonly classes: readonly [CircuitClass, CircuitClass];
  readonly examples?: readonly CircuitExample[];
  readonly nodes: readonly CircuitNode[];
  readonly edges: readonly CircuitEdge[];
  readonly firing?: CircuitFiring;
  readonly key_nodes?: readonly string[];
  /** Numeric metrics only (e.g. task_loss_model, task_loss_circuit, n_nodes, n_edges). */
  readonly metrics?: Readonly<Record<string, number>>;
}

const classIndex = literal<0 | 1>(0, 1);

const circuitToken = object<CircuitToken>({ id: number({ integer: true, min: 0, max: 1_000_000 }), text }, { extra: 'strip' });

const circuitClass = object<CircuitClass>(
  { label: string({ max: 200 }), tokens: array(circuitToken, { max: CIRCUIT_LIMITS.tokensPerClass }) },
  { extra: 'strip' },
);

const circuitNode: Validator<CircuitNode> = (value, path) => {
  const node = object<CircuitNode>(
    {
      id: nodeId,
      layer: number({ integer: true, min: 0, max: 999 }),
      site: string({ max: 40, pattern: SITE_PATTERN }),
      index: number({ integer: true, min: 0, max: 999_999 }),
      flat: number({ integer: true, min: 0, max: 100_000_000 }),
      label: string({ max: 200 }),
      meaning: text,
      mean: finite,
      importance: finite,
    },
    { extra: 'strip' },
  )(value, path);
  if (node.id !== `${node.layer}.${node.site}.${node.index}`) {
    throw new ValidationError(path, `id ${node.id} does not match layer/site/index`);
  }
  return node;
};

const circuitEdge = object<CircuitEdge>({ source: nodeId, target: nodeId, weight: finite }, { extra: 'strip' });

const circuitFiring = object<CircuitFiring>(
  {
    terms: array(object({ node: nodeId, coef: finite }, { extra: 'strip' }), { max: CIRCUIT_LIMITS.terms }),
    threshold: finite,
    positive_class: classIndex,
  },
  { extra: 'strip' },
);

const circuitShape = object<CircuitFile>(
  {
    task: string({ max: 100, pattern: /^[A-Za-z0-9_.-]+$/ }),
    title: string({ max: 200 }),
    description: text,
    classes: (value, path) => {
      const cs = array(circuitClass, { min: 2, max: 2 })(value, path);
      return [cs[0], cs[1]] as const;
    },
    examples: optional(array(object<CircuitExample>({ prompt: text, class: classIndex }, { extra: 'strip' }), { max: CIRCUIT_LIMITS.examples })),
    nodes: array(circuitNode, { max: CIRCUIT_LIMITS.nodes }),
    edges: array(circuitEdge, { max: CIRCUIT_LIMITS.edges }),
    firing: optional(circuitFiring),
    key_nodes: optional(array(nodeId, { max: CIRCUIT_LIMITS.nodes })),
    metrics: optional(metricsRecord()),
  },
  { extra: 'strip' },
);

/** Validates a circuit file, including referential integrity (edges and key nodes name known nodes). */
export const circuitFile: Validator<CircuitFile> = (value, path) => {
  const c = circuitShape(value, path);
  const ids = new Set<string>();
  for (const n of c.nodes) {
    if (ids.has(n.id)) throw new ValidationError(`${path}.nodes`, `duplicate node ${n.id}`);
    ids.add(n.id);
  }
  c.edges.forEach((e, i) => {
    if (!ids.has(e.source) || !ids.has(e.target)) throw new ValidationError(`${path}.edges[${i}]`, 'edge names a node that is not in the circuit');
  });
  for (const k of c.key_nodes ?? []) {
    if (!ids.has(k)) throw new ValidationError(`${path}.key_nodes`, `unknown node ${k}`);
  }
  return c;
};

/** Metrics: keep the numeric entries, drop the rest (the file may hold nested provenance). */
function metricsRecord(): Validator<Record<string, number>> {
  const keyV = string({ max: 64, pattern: /^[A-Za-z0-9_.-]+$/ });
  const all = record(keyV, (v: unknown) => v, { max: CIRCUIT_LIMITS.metrics });
  return (value, path) => {
    const raw = all(value, path);
    const out = Object.create(null) as Record<string, number>;
    for (const k of Object.keys(raw)) {
      const v = raw[k];
      if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
    }
    return out;
  };
}
