// Typed messages between the extension host and the circuit panel webview.
//
// Every message is a flat object `{ kind, ...fields }`. Each kind has a descriptor with a validator;
// receivers call `parseWebviewMessage` / `parseHostMessage` and act only on what they return, so a
// malformed or hostile message (unknown kind, wrong types, extra keys, oversized payload, markup in
// an id) is dropped without effect. Free text that comes from the host (labels, meanings, token
// text) may legitimately contain `<script>` (it is the user's Python code); the webview only ever
// renders it as text, never as HTML.
//
// Conversation: the webview posts `ready` first; until then the host posts nothing. The host then
// posts `update` (and again whenever the model changes). Requests carry a `requestId` and are
// answered by a message with the same `requestId`.

import { circuitFile, nodeId, type CircuitFile } from './circuit';
import { checkExportData, EXPORT_LIMITS, type ExportFormat } from './exportData';
import type { RequestType } from './request';
import {
  array,
  boolean,
  check,
  finite,
  literal,
  nullable,
  number,
  object,
  pair,
  record,
  string,
  text,
  type Validator,
  ValidationError,
} from './validate';

export const PROTOCOL_VERSION = 1;

// ---------------------------------------------------------------------------------------------
// The panel model: everything the panel shows, supplied by the host per update.

export type AblationMode = 'mean' | 'zero';
export type { ExportFormat };

/** Probabilities of the circuit's two classes and their logit difference at one token. */
export interface ClassReadout {
  /** [P(class 0), P(class 1)], each the sum over that class's tokens. */
  readonly probs: readonly [number, number];
  /** logsumexp(class-0 logits) − logsumexp(class-1 logits), as in docs/bundle-format.md. */
  readonly logitDiff: number;
}

export interface PanelReadout {
  /** The class that is correct at the cursor; the other class is the alternative. */
  readonly target: 0 | 1;
  /** Full model, no ablation. */
  readonly before: ClassReadout;
  /** With the current ablations; null when nothing is ablated (or not computed yet). */
  readonly after: ClassReadout | null;
  /** Logit diff with the circuit only ÷ logit diff of the full model at the cursor; null if not supplied. */
  readonly faithfulness: number | null;
}

/** A range in the analysed document, zero-based like `vscode.Range`. */
export interface TokenRange {
  readonly line: number;
  readonly character: number;
  readonly endLine: number;
  readonly endCharacter: number;
}

/** The token the panel describes (the one at the cursor, or the pinned one). */
export interface CursorToken {
  readonly text: string;
  readonly range: TokenRange;
}

/** One place in the file where a node fires strongly. */
export interface TopToken {
  readonly text: string;
  /** The node's activation at this token. */
  readonly value: number;
  readonly range: TokenRange;
}

export interface PanelModel {
  readonly circuit: CircuitFile;
  /** Display name of the analysed file (e.g. `strings.py`); null when there is none. */
  readonly documentName: string | null;
  /**
   * Changes whenever the analysed text changes (e.g. `TextDocument.version`); the webview keys its
   * cache of top tokens on (documentName, documentVersion, circuit task).
   */
  readonly documentVersion: number;
  readonly cursor: CursorToken | null;
  /** Activation at the cursor token per circuit node id (missing = not computed). */
  readonly activations: Readonly<Record<string, number>>;
  readonly readout: PanelReadout | null;
  /** Circuit node ids that are currently ablated. */
  readonly ablated: readonly string[];
  /** True when every node outside the circuit is ablated ("circuit only"). */
  readonly circuitOnly: boolean;
  readonly mode: AblationMode;
  /** True while the host is re-running the model; the readout is then stale. */
  readonly busy: boolean;
}

export const LIMITS = {
  text: 4_000,
  topTokens: 100,
  notice: 1_000,
  log: 2_000,
  ...EXPORT_LIMITS,
} as const;

const line = number({ integer: true, min: 0, max: 10_000_000 });
const requestId = number({ integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });
const probability = number({ min: 0, max: 1 });
const ablationMode = literal<AblationMode>('mean', 'zero');
const exportFormat = literal<ExportFormat>('png', 'svg', 'json');

export const tokenRange: Validator<TokenRange> = (value, path) => {
  const r = object<TokenRange>({ line, character: line, endLine: line, endCharacter: line })(value, path);
  if (r.endLine < r.line || (r.endLine === r.line && r.endCharacter < r.character)) {
    throw new ValidationError(path, 'range ends before it starts');
  }
  return r;
};

const classReadout = object<ClassReadout>({ probs: pair(probability), logitDiff: finite });

const panelReadout = object<PanelReadout>({
  target: literal<0 | 1>(0, 1),
  before: classReadout,
  after: nullable(classReadout),
  faithfulness: nullable(finite),
});

const cursorToken = object<CursorToken>({ text, range: tokenRange });

export const topToken = object<TopToken>({ text: string({ max: 200 }), value: finite, range: tokenRange });

export const panelModel: Validator<PanelModel> = (value, path) => {
  const m = object<PanelModel>({
    circuit: circuitFile,
    documentName: nullable(string({ max: 500 })),
    documentVersion: number({ integer: true, min: 0, max: Number.MAX_SAFE_INTEGER }),
    cursor: nullable(cursorToken),
    activations: record(nodeId, finite, { max: 2_000 }),
    readout: nullable(panelReadout),
    ablated: array(nodeId, { max: 2_000 }),
    circuitOnly: boolean,
    mode: ablationMode,
    busy: boolean,
  })(value, path);
  const ids = new Set(m.circuit.nodes.map((n) => n.id));
  for (const id of m.ablated) if (!ids.has(id)) throw new ValidationError(`${path}.ablated`, `unknown node ${id}`);
  return m;
};

// ---------------------------------------------------------------------------------------------
// Descriptors.

export interface MessageDescriptor<M extends { readonly kind: string }> {
  readonly kind: M['kind'];
  readonly validate: Validator<M>;
}

function descriptor<M extends { readonly kind: string }>(
  kind: M['kind'],
  fields: { readonly [K in Exclude<keyof M, 'kind'>]-?: Validator<M[K]> },
): MessageDescriptor<M> {
  const shape = { ...fields, kind: literal(kind) } as unknown as { readonly [K in keyof M]-?: Validator<M[K]> };
  return { kind, validate: object<M>(shape) };
}

// Webview → host ------------------------------------------------------------------------------

/** Sent once by the webview when its script has loaded; the host posts nothing before it. */
export interface ReadyMessage {
  readonly kind: 'ready';
  readonly protocol: number;
}
/** The user ticked or unticked a node's ablation toggle. */
export interface ToggleNodeMessage {
  readonly kind: 'toggleNode';
  readonly nodeId: string;
  readonly ablated: boolean;
}
/** The user picked the ablation mode (mean or zero). */
export interface SetModeMessage {
  readonly kind: 'setMode';
  readonly mode: AblationMode;
}
/** The user asked to ablate everything outside the circuit. */
export interface CircuitOnlyMessage {
  readonly kind: 'circuitOnly';
}
/** The user asked to clear all ablations. */
export interface ResetMessage {
  readonly kind: 'reset';
}
/** The user clicked a top token; the host reveals that range in the editor. */
export interface RevealTokenMessage {
  readonly kind: 'revealToken';
  readonly nodeId: string;
  readonly range: TokenRange;
}
/** The webview needs a node's top tokens in the current file; answered by `topTokens`. */
export interface TopTokensRequestMessage {
  readonly kind: 'topTokensRequest';
  readonly requestId: number;
  readonly nodeId: string;
}
/**
 * Exported graph data: the user clicked an export button (`requestId` null, the host asks where to
 * save) or the host asked for it with `exportRequest` (`requestId` set).
 */
export interface ExportDataMessage {
  readonly kind: 'exportData';
  readonly requestId: number | null;
  readonly format: ExportFormat;
  readonly data: string;
}
/** The user pinned or unpinned the panel (pinned = do not follow the cursor). */
export interface SetPinnedMessage {
  readonly kind: 'setPinned';
  readonly pinned: boolean;
}
/** A problem inside the webview, for the extension's output channel. */
export interface LogMessage {
  readonly kind: 'log';
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
}

export type WebviewMessage =
  | ReadyMessage
  | ToggleNodeMessage
  | SetModeMessage
  | CircuitOnlyMessage
  | ResetMessage
  | RevealTokenMessage
  | TopTokensRequestMessage
  | ExportDataMessage
  | SetPinnedMessage
  | LogMessage;

const exportData: Validator<ExportDataMessage> = (value, path) => {
  const m = object<ExportDataMessage>({
    kind: literal('exportData'),
    requestId: nullable(requestId),
    format: exportFormat,
    data: string({ max: LIMITS.exportPng }),
  })(value, path);
  checkExportData(m.format, m.data, `${path}.data`);
  return m;
};

export const webviewMessages = {
  ready: descriptor<ReadyMessage>('ready', { protocol: number({ integer: true, min: 0, max: 1_000 }) }),
  toggleNode: descriptor<ToggleNodeMessage>('toggleNode', { nodeId, ablated: boolean }),
  setMode: descriptor<SetModeMessage>('setMode', { mode: ablationMode }),
  circuitOnly: descriptor<CircuitOnlyMessage>('circuitOnly', {}),
  reset: descriptor<ResetMessage>('reset', {}),
  revealToken: descriptor<RevealTokenMessage>('revealToken', { nodeId, range: tokenRange }),
  topTokensRequest: descriptor<TopTokensRequestMessage>('topTokensRequest', { requestId, nodeId }),
  exportData: { kind: 'exportData', validate: exportData } satisfies MessageDescriptor<ExportDataMessage>,
  setPinned: descriptor<SetPinnedMessage>('setPinned', { pinned: boolean }),
  log: descriptor<LogMessage>('log', { level: literal('info', 'warn', 'error'), message: string({ max: LIMITS.log }) }),
} as const satisfies { readonly [K in WebviewMessage['kind']]: MessageDescriptor<Extract<WebviewMessage, { kind: K }>> };

// Host → webview ------------------------------------------------------------------------------

/** The complete state to show; sent after `ready` and on every change. */
export interface UpdateMessage {
  readonly kind: 'update';
  readonly model: PanelModel;
  readonly pinned: boolean;
}
/** Answer to `topTokensRequest`. */
export interface TopTokensMessage {
  readonly kind: 'topTokens';
  readonly requestId: number;
  readonly nodeId: string;
  readonly tokens: readonly TopToken[];
}
/** The host wants the graph exported; answered by `exportData` with the same `requestId`. */
export interface ExportRequestMessage {
  readonly kind: 'exportRequest';
  readonly requestId: number;
  readonly format: ExportFormat;
}
/** A short status line for the user (e.g. "Saved circuit.svg"). */
export interface NoticeMessage {
  readonly kind: 'notice';
  readonly level: 'info' | 'error';
  readonly message: string;
}

export type HostMessage = UpdateMessage | TopTokensMessage | ExportRequestMessage | NoticeMessage;

// Requests ------------------------------------------------------------------------------------

/** The webview asks for a node's top tokens; the host answers `topTokens`. */
export const topTokensRequest: RequestType<TopTokensRequestMessage, TopTokensMessage> = {
  request: 'topTokensRequest',
  answer: 'topTokens',
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

export const hostMessages = {
  update: descriptor<UpdateMessage>('update', { model: panelModel, pinned: boolean }),
  topTokens: descriptor<TopTokensMessage>('topTokens', { requestId, nodeId, tokens: array(topToken, { max: LIMITS.topTokens }) }),
  exportRequest: descriptor<ExportRequestMessage>('exportRequest', { requestId, format: exportFormat }),
  notice: descriptor<NoticeMessage>('notice', { level: literal('info', 'error'), message: string({ max: LIMITS.notice }) }),
} as const satisfies { readonly [K in HostMessage['kind']]: MessageDescriptor<Extract<HostMessage, { kind: K }>> };

// Parsing -------------------------------------------------------------------------------------

export type ParseResult<M> = { readonly ok: true; readonly message: M } | { readonly ok: false; readonly error: string };

function parseWith<M>(table: Readonly<Record<string, MessageDescriptor<{ readonly kind: string }>>>, raw: unknown): ParseResult<M> {
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
  const result = check(table[kind].validate, raw);
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

