// Pure webview state: what the panel shows, what survives hide/show (via the webview API's
// getState/setState), and the small transitions the UI needs. The host stays authoritative for
// ablations: a toggle is shown at once ("pending") and replaced by the host's next update.

import * as v from 'valibot';
import type { NodeExamples } from '../schemas/circuit';
import { panelModel, type PanelModel, type TopToken } from '../schemas/messages';
import { boundedArray, boundedString, check, finite, type Infer } from '../schemas/validate';
import { niceExtent } from './colors';

/** What `setState` stores; validated on restore because it may come from an older version. */
const persisted = v.strictObject({
  v: v.literal(1),
  model: v.nullable(panelModel),
  pinned: v.boolean(),
  selected: v.nullable(boundedString(64)),
  /** Colour scale per circuit (circuit → extent), fixed when the circuit is first shown. */
  scales: v.optional(boundedArray(v.tuple([boundedString(100), finite]), 64)),
});
export type PersistedState = Infer<typeof persisted>;

export type TopTokensEntry = { readonly status: 'loading' } | { readonly status: 'done'; readonly tokens: readonly TopToken[] };
/** A node's validation-corpus examples as asked of the host (null: the circuit file has none for it). */
export type ExamplesEntry = { readonly status: 'loading' } | { readonly status: 'done'; readonly examples: NodeExamples | null };

export interface ViewState {
  readonly model: PanelModel | null;
  readonly pinned: boolean;
  readonly selected: string | null;
  /** Toggles not yet confirmed by the host: node id → ablated. */
  readonly pending: ReadonlyMap<string, boolean>;
  /** Cache key of `topTokens` (document, version, task); the cache is dropped when it changes. */
  readonly topTokensKey: string;
  readonly topTokens: ReadonlyMap<string, TopTokensEntry>;
  /** Cache key of `examples` (the circuit: they come from its file, whatever the document). */
  readonly examplesKey: string;
  readonly examples: ReadonlyMap<string, ExamplesEntry>;
  /**
   * The activation colour scale of each circuit shown so far (task → symmetric extent): computed
   * once, the first time the circuit arrives with activations, and kept, so a colour means the same
   * value at every token (the scale is shown in the legend).
   */
  readonly scales: ReadonlyMap<string, number>;
}

export const EMPTY_STATE: ViewState = {
  model: null,
  pinned: false,
  selected: null,
  pending: new Map(),
  topTokensKey: '',
  topTokens: new Map(),
  examplesKey: '',
  examples: new Map(),
  scales: new Map(),
};

export function restoreState(raw: unknown): ViewState {
  const r = check(persisted, raw);
  if (!r.ok) return EMPTY_STATE;
  const { model, pinned, selected } = r.value;
  const scales = new Map((r.value.scales ?? []).filter(([, x]) => x > 0));
  return {
    ...EMPTY_STATE,
    scales: model ? withScale(scales, model) : scales,
    model,
    pinned,
    selected: model && selected && hasNode(model, selected) ? selected : null,
    topTokensKey: model ? cacheKey(model) : '',
    examplesKey: model ? scaleKey(model) : '',
  };
}

export function persist(state: ViewState): PersistedState {
  return { v: 1, model: state.model, pinned: state.pinned, selected: state.selected, scales: [...state.scales].slice(-64) };
}

/** The host sent a new model. */
export function applyUpdate(state: ViewState, model: PanelModel, pinned: boolean): ViewState {
  const key = cacheKey(model);
  const selected = state.selected && hasNode(model, state.selected) ? state.selected : defaultSelection(model);
  return {
    model,
    pinned,
    selected,
    pending: new Map(),
    topTokensKey: key,
    topTokens: key === state.topTokensKey ? state.topTokens : new Map(),
    examplesKey: scaleKey(model),
    examples: scaleKey(model) === state.examplesKey ? state.examples : new Map(),
    scales: withScale(state.scales, model),
  };
}

/**
 * The circuit's fixed scale: the nice extent (colors.ts) of the activations and node means it was
 * first shown with. Values beyond it saturate.
 */
export function circuitExtent(state: ViewState): number {
  const model = state.model;
  if (!model) return 1;
  return state.scales.get(scaleKey(model)) ?? niceExtent(model.circuit.nodes.map((n) => n.mean));
}

/** `scales` with the model's circuit's scale added if it has none yet and the model has activations to fix it by. */
function withScale(scales: ReadonlyMap<string, number>, model: PanelModel): ReadonlyMap<string, number> {
  const values = Object.values(model.activations);
  if (scales.has(scaleKey(model)) || values.length === 0) return scales;
  const next = new Map(scales);
  next.set(scaleKey(model), niceExtent([...values, ...model.circuit.nodes.map((n) => n.mean)]));
  return next;
}

/** The ablated set as the user currently sees it (host state plus pending toggles). */
export function effectiveAblated(state: ViewState): Set<string> {
  const set = new Set(state.model?.ablated ?? []);
  for (const [id, ablated] of state.pending) {
    if (ablated) set.add(id);
    else set.delete(id);
  }
  return set;
}

export function toggleNode(state: ViewState, nodeId: string, ablated: boolean): ViewState {
  if (!state.model || !hasNode(state.model, nodeId)) return state;
  const pending = new Map(state.pending);
  pending.set(nodeId, ablated);
  return { ...state, pending };
}

/** Reset / circuit only: the host will answer with the new ablation set; clear local toggles. */
export function clearPending(state: ViewState): ViewState {
  return state.pending.size === 0 ? state : { ...state, pending: new Map() };
}

export function select(state: ViewState, nodeId: string | null): ViewState {
  if (nodeId !== null && (!state.model || !hasNode(state.model, nodeId))) return state;
  return { ...state, selected: nodeId };
}

export function setPinned(state: ViewState, pinned: boolean): ViewState {
  return { ...state, pinned };
}

export function topTokensLoading(state: ViewState, nodeId: string): ViewState {
  const topTokens = new Map(state.topTokens);
  topTokens.set(nodeId, { status: 'loading' });
  return { ...state, topTokens };
}

/**
 * The answer to a request made under cache key `key` arrived (the request/answer pairing itself is
 * ../schemas/request's); it is kept only while that node is still loading under the same key.
 */
export function topTokensArrived(state: ViewState, key: string, nodeId: string, tokens: readonly TopToken[]): ViewState {
  const entry = state.topTokens.get(nodeId);
  if (!entry || entry.status !== 'loading' || key !== state.topTokensKey) return state;
  const topTokens = new Map(state.topTokens);
  topTokens.set(nodeId, { status: 'done', tokens });
  return { ...state, topTokens };
}

export function examplesLoading(state: ViewState, nodeId: string): ViewState {
  const examples = new Map(state.examples);
  examples.set(nodeId, { status: 'loading' });
  return { ...state, examples };
}

/** A node's examples arrived for the circuit keyed `key`; kept only while that circuit is still shown and the node still loading. */
export function examplesArrived(state: ViewState, key: string, nodeId: string, found: NodeExamples | null): ViewState {
  if (state.examples.get(nodeId)?.status !== 'loading' || key !== state.examplesKey) return state;
  const examples = new Map(state.examples);
  examples.set(nodeId, { status: 'done', examples: found });
  return { ...state, examples };
}

/** The first key node, else the most important node: what the details pane shows initially. */
export function defaultSelection(model: PanelModel): string | null {
  const key = model.circuit.key_nodes?.find((id) => hasNode(model, id));
  if (key) return key;
  let best: string | null = null;
  let bestImportance = -Infinity;
  for (const n of model.circuit.nodes) {
    if (n.importance > bestImportance) {
      best = n.id;
      bestImportance = n.importance;
    }
  }
  return best;
}

/** One circuit: its task and size (another bundle's circuit for the same task gets its own scale and examples). */
function scaleKey(model: PanelModel): string {
  return `${model.circuit.task}/${model.circuit.nodes.length}/${model.circuit.edges.length}`;
}

function cacheKey(model: PanelModel): string {
  return JSON.stringify([model.documentName, model.documentVersion, model.circuit.task]);
}

function hasNode(model: PanelModel, id: string): boolean {
  return model.circuit.nodes.some((n) => n.id === id);
}
