// Typed messages between the extension host and the circuit panel webview: each one a valibot
// schema, its type inferred from it (./validate).
//
// Every message is a flat object `{ kind, ...fields }`. Receivers call `parseWebviewMessage` /
// `parseHostMessage` and act only on what they return, so a malformed or hostile message (unknown
// kind, wrong types, extra keys, oversized payload, markup in an id) is dropped without effect.
// Free text that comes from the host (labels, meanings, token text) may legitimately contain
// `<script>` (it is the user's Python code); the webview only ever renders it as text, never as HTML.
//
// Conversation: the webview posts `ready` first; until then the host posts nothing. The host then
// posts `update` (and again whenever the model changes). Requests carry a `requestId` and are
// answered by a message with the same `requestId` (./request).

import * as v from 'valibot';
import { CIRCUIT_LIMITS, circuitFile, circuitTask, classIndex, NODE_ID_PATTERN, nodeExamples, nodeId } from './circuit';
import { checkExportData, EXPORT_LIMITS, type ExportFormat } from './exportData';
import type { RequestType } from './request';
import { boundedArray, boundedRecord, boundedString, check, finite, type Infer, integer, isPlainObject, pair, text, ValidationError } from './validate';

export const PROTOCOL_VERSION = 1;

export const LIMITS = {
  text: 4_000,
  topTokens: 100,
  notice: 1_000,
  choices: 32,
  log: 2_000,
  ...EXPORT_LIMITS,
} as const;

// ---------------------------------------------------------------------------------------------
// The panel model: everything the panel shows, supplied by the host per update.

export const ablationMode = v.picklist(['mean', 'zero']);
export type AblationMode = Infer<typeof ablationMode>;
export type { ExportFormat };

const exportFormat = v.picklist(['png', 'svg', 'json']);
const line = integer(0, 10_000_000);
const requestId = integer(0, Number.MAX_SAFE_INTEGER);
const probability = v.pipe(finite, v.minValue(0), v.maxValue(1));

/** Probabilities of the circuit's two classes and their logit difference at one token. */
const classReadout = v.object({
  /** [P(class 0), P(class 1)], each the sum over that class's tokens. */
  probs: pair(probability),
  /** logsumexp(class-0 logits) − logsumexp(class-1 logits), as in docs/bundle-format.md. */
  logitDiff: finite,
});
export type ClassReadout = Infer<typeof classReadout>;

const panelReadout = v.strictObject({
  /** The class that is correct at the cursor; the other class is the alternative. */
  target: classIndex,
  /** Full model, no ablation. */
  before: v.strictObject(classReadout.entries),
  /** With the current ablations; null when nothing is ablated (or not computed yet). */
  after: v.nullable(v.strictObject(classReadout.entries)),
  /** Logit diff with the circuit only ÷ logit diff of the full model at the cursor; null if not supplied. */
  faithfulness: v.nullable(finite),
  /** Logit diff with every node ablated ÷ the full model's, which faithfulness is read against (the means alone may lean either way); null if not supplied. */
  allAblated: v.nullable(finite),
  /**
   * The same in words (src/core/readoutText, written by the host): the full model's prediction,
   * right or wrong against the code; how the ablation moved it (null when nothing is ablated).
   */
  words: v.optional(v.strictObject({ prediction: text, change: v.nullable(text) })),
});
export type PanelReadout = Infer<typeof panelReadout>;

/** A range in the analysed document, zero-based like `vscode.Range`. */
export const tokenRange = v.pipe(
  v.strictObject({ line, character: line, endLine: line, endCharacter: line }),
  v.check((r) => r.endLine > r.line || (r.endLine === r.line && r.endCharacter >= r.character), 'range ends before it starts'),
);
export type TokenRange = Infer<typeof tokenRange>;

/** The token the panel describes (the one at the cursor, or the pinned one). */
const cursorToken = v.strictObject({ text, range: tokenRange });

/** One place in the file where a node fires strongly. */
export const topToken = v.strictObject({
  text: boundedString(200),
  /** The node's activation at this token. */
  value: finite,
  range: tokenRange,
});
export type TopToken = Infer<typeof topToken>;

/** A circuit whose task applies at the cursor's token: the panel offers to show it instead of the one shown. */
const circuitChoice = v.strictObject({ task: circuitTask, title: boundedString(200), nodes: integer(0, CIRCUIT_LIMITS.nodes) });
export type CircuitChoice = Infer<typeof circuitChoice>;

const panelModelShape = v.strictObject({
  /** The circuit without its nodes' `examples` (the webview asks for one node's with `nodeExamplesRequest`). */
  circuit: circuitFile,
  /** Display name of the analysed file (e.g. `strings.py`); null when there is none. */
  documentName: v.nullable(boundedString(500)),
  /**
   * Changes whenever the analysed text changes (e.g. `TextDocument.version`); the webview keys its
   * cache of top tokens on (documentName, documentVersion, circuit task).
   */
  documentVersion: integer(0, Number.MAX_SAFE_INTEGER),
  cursor: v.nullable(cursorToken),
  /** Activation at the cursor token per circuit node id (missing = not computed). */
  activations: boundedRecord(NODE_ID_PATTERN, finite, 2_000),
  readout: v.nullable(panelReadout),
  /**
   * False where the circuit's task does not apply at the cursor (its scope, docs/bundle-format.md):
   * the panel then shows that sentence instead of numbers. Absent: it applies.
   */
  applies: v.optional(v.boolean()),
  /**
   * Every circuit whose task applies at the cursor's token, the one shown among them, in the
   * bundle's order (e.g. the quote circuit and its core pruned on the paper's form of the task);
   * absent where the shown circuit's task does not apply.
   */
  choices: v.optional(boundedArray(circuitChoice, LIMITS.choices)),
  /** Why the circuit's evidence says it does not carry its task (src/core/circuitEvidence); absent when it does or makes no claim. */
  warning: v.optional(text),
  /** Circuit node ids that are currently ablated. */
  ablated: boundedArray(nodeId, 2_000),
  /** True when every node outside the circuit is ablated ("circuit only"). */
  circuitOnly: v.boolean(),
  mode: ablationMode,
  /** True while the host is re-running the model; the readout is then stale. */
  busy: v.boolean(),
});

/** The panel model; every ablated id names a node of the circuit. */
export const panelModel = v.pipe(
  panelModelShape,
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const m = dataset.value;
    const unknown = m.ablated.find((id) => !m.circuit.nodes.some((n) => n.id === id));
    if (unknown !== undefined) addIssue({ message: `ablated: unknown node ${unknown}` });
    if (m.choices && !m.choices.some((c) => c.task === m.circuit.task)) addIssue({ message: `choices: the shown circuit ${m.circuit.task} is not among them` });
  }),
);
export type PanelModel = Infer<typeof panelModel>;

// Webview → host ------------------------------------------------------------------------------

export const webviewMessages = {
  /** Sent once by the webview when its script has loaded; the host posts nothing before it. */
  ready: v.strictObject({ kind: v.literal('ready'), protocol: integer(0, 1_000) }),
  /** The user ticked or unticked a node's ablation toggle. */
  toggleNode: v.strictObject({ kind: v.literal('toggleNode'), nodeId, ablated: v.boolean() }),
  /** The user picked the ablation mode (mean or zero). */
  setMode: v.strictObject({ kind: v.literal('setMode'), mode: ablationMode }),
  /** The user asked to ablate everything outside the circuit. */
  circuitOnly: v.strictObject({ kind: v.literal('circuitOnly') }),
  /** The user asked to clear all ablations. */
  reset: v.strictObject({ kind: v.literal('reset') }),
  /** The user clicked a top token; the host reveals that range in the editor. */
  revealToken: v.strictObject({ kind: v.literal('revealToken'), nodeId, range: tokenRange }),
  /** The user selected a node (null: none); the host draws where an attention node's head looks (src/extension/attentionCommand). */
  selectNode: v.strictObject({ kind: v.literal('selectNode'), nodeId: v.nullable(nodeId) }),
  /** The webview needs a node's top tokens in the current file; answered by `topTokens`. */
  topTokensRequest: v.strictObject({ kind: v.literal('topTokensRequest'), requestId, nodeId }),
  /** The webview shows a node's details; answered by `nodeExamples` (the update's circuit carries none: they are megabytes). */
  nodeExamplesRequest: v.strictObject({ kind: v.literal('nodeExamplesRequest'), requestId, nodeId }),
  /**
   * Exported graph data: the user clicked an export button (`requestId` null, the host asks where to
   * save) or the host asked for it with `exportRequest` (`requestId` set).
   */
  exportData: v.pipe(
    v.strictObject({ kind: v.literal('exportData'), requestId: v.nullable(requestId), format: exportFormat, data: boundedString(LIMITS.exportPng) }),
    v.rawCheck(({ dataset, addIssue }) => {
      if (!dataset.typed) return;
      try {
        checkExportData(dataset.value.format, dataset.value.data);
      } catch (e) {
        addIssue({ message: e instanceof ValidationError ? e.message : 'data could not be checked' });
      }
    }),
  ),
  /** The page's width in CSS pixels, on load and after a resize: the host opens the side-bar view only where the graph has room. */
  viewport: v.strictObject({ kind: v.literal('viewport'), width: integer(0, 100_000) }),
  /** The user typed a label for a node (empty: back to its id); the host keeps it in the circuit's file (src/extension/nodeLabels). */
  setLabel: v.strictObject({ kind: v.literal('setLabel'), nodeId, label: boundedString(200) }),
  /** The user picked another of the `choices` (a circuit whose task applies at the same token): the host shows it there. */
  chooseCircuit: v.strictObject({ kind: v.literal('chooseCircuit'), task: circuitTask }),
  /** The user pinned or unpinned the panel (pinned = do not follow the cursor). */
  setPinned: v.strictObject({ kind: v.literal('setPinned'), pinned: v.boolean() }),
  /** A problem inside the webview, for the extension's output channel. */
  log: v.strictObject({ kind: v.literal('log'), level: v.picklist(['info', 'warn', 'error']), message: boundedString(LIMITS.log) }),
} as const;

type MessageOf<T extends Record<string, v.GenericSchema>> = { [K in keyof T]: Infer<T[K]> }[keyof T];
export type WebviewMessage = MessageOf<typeof webviewMessages>;
export type TopTokensRequestMessage = Infer<typeof webviewMessages.topTokensRequest>;
export type NodeExamplesRequestMessage = Infer<typeof webviewMessages.nodeExamplesRequest>;
export type ExportDataMessage = Infer<typeof webviewMessages.exportData>;
export type SetLabelMessage = Infer<typeof webviewMessages.setLabel>;

// Host → webview ------------------------------------------------------------------------------

export const hostMessages = {
  /** The complete state to show; sent after `ready` and on every change. */
  update: v.strictObject({ kind: v.literal('update'), model: panelModel, pinned: v.boolean() }),
  /** Answer to `topTokensRequest`. */
  topTokens: v.strictObject({ kind: v.literal('topTokens'), requestId, nodeId, tokens: boundedArray(topToken, LIMITS.topTokens) }),
  /** Answer to `nodeExamplesRequest`: the node's examples from the validation corpus; null when the circuit file has none for it. */
  nodeExamples: v.strictObject({ kind: v.literal('nodeExamples'), requestId, nodeId, examples: v.nullable(nodeExamples) }),
  /** The host wants the graph exported; answered by `exportData` with the same `requestId`. */
  exportRequest: v.strictObject({ kind: v.literal('exportRequest'), requestId, format: exportFormat }),
  /** The circuit last shown is gone (the model changed and has none at that place): the panel shows `message` instead. */
  cleared: v.strictObject({ kind: v.literal('cleared'), message: boundedString(LIMITS.notice) }),
  /** A short status line for the user (e.g. "Saved circuit.svg"). */
  notice: v.strictObject({ kind: v.literal('notice'), level: v.picklist(['info', 'error']), message: boundedString(LIMITS.notice) }),
} as const;

export type HostMessage = MessageOf<typeof hostMessages>;
export type TopTokensMessage = Infer<typeof hostMessages.topTokens>;
export type NodeExamplesMessage = Infer<typeof hostMessages.nodeExamples>;
export type ExportRequestMessage = Infer<typeof hostMessages.exportRequest>;

// Requests ------------------------------------------------------------------------------------

/** The webview asks for a node's top tokens; the host answers `topTokens`. */
export const topTokensRequest: RequestType<TopTokensRequestMessage, TopTokensMessage> = {
  request: 'topTokensRequest',
  answer: 'topTokens',
  fits: (q, a) => q.nodeId === a.nodeId,
};

/** The webview asks for a node's validation-corpus examples; the host answers `nodeExamples`. */
export const nodeExamplesRequest: RequestType<NodeExamplesRequestMessage, NodeExamplesMessage> = {
  request: 'nodeExamplesRequest',
  answer: 'nodeExamples',
  fits: (q, a) => q.nodeId === a.nodeId,
};

/** The host asks for the exported graph; the webview answers `exportData` in the same format. */
export const exportRequest: RequestType<ExportRequestMessage, ExportDataMessage & { readonly requestId: number }> = {
  request: 'exportRequest',
  answer: 'exportData',
  fits: (q, a) => q.format === a.format,
};

/** The webview messages that change the ablation; the circuit controller owns that state. */
export type AblationMessage = Extract<WebviewMessage, { readonly kind: 'toggleNode' | 'setMode' | 'circuitOnly' | 'reset' }>;

// Parsing -------------------------------------------------------------------------------------

export type ParseResult<M> = { readonly ok: true; readonly message: M } | { readonly ok: false; readonly error: string };

function parseWith<M>(table: Readonly<Record<string, v.GenericSchema>>, raw: unknown): ParseResult<M> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, error: 'message is not an object' };
  let kind: unknown;
  try {
    kind = (raw as { kind?: unknown }).kind;
  } catch {
    return { ok: false, error: 'message could not be read' };
  }
  if (typeof kind !== 'string' || !Object.prototype.hasOwnProperty.call(table, kind)) {
    return { ok: false, error: `unknown message kind ${typeof kind === 'string' ? JSON.stringify(kind.slice(0, 40)) : typeof kind}` };
  }
  if (!isPlainObject(raw)) return { ok: false, error: `${kind}: expected an object, got a ${Object.prototype.toString.call(raw).slice(8, -1)}` };
  const result = check(table[kind], raw);
  return result.ok ? { ok: true, message: result.value as M } : { ok: false, error: `${kind}: ${result.error.message}` };
}

/** Validates a message the host received from the webview. */
export function parseWebviewMessage(raw: unknown): ParseResult<WebviewMessage> {
  return parseWith<WebviewMessage>(webviewMessages, raw);
}

/** Validates a message the webview received from the host. */
export function parseHostMessage(raw: unknown): ParseResult<HostMessage> {
  return parseWith<HostMessage>(hostMessages, raw);
}
