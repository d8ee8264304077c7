// "Circuit Inspector: Show where attention looks" (issue 19): at the cursor (or a given token), a
// QuickPick of every head of the model with the share its sink takes, the head that looks at the text
// most preselected; the chosen head's pattern is drawn by ./attentionOverlay. The hover's link and an
// attention node selected in the circuit panel (its head, at the panel's token) come here too.
import * as vscode from 'vscode';
import type { AttentionAt, HeadPattern } from '../core/attention';
import { defaultHead, layerOfNode } from '../core/attentionText';
import { errorMessage } from '../core/errors';
import { tokenCode } from '../core/readoutText';
import type { AttentionOverlay, RenderedAttention } from './attentionOverlay';
import type { LoadedModel } from './loadedModel';
import { modelFor } from './notebookCells';
import type { NodeSelection } from './panel/circuitPanel';
import { modelOrWarn } from './modelLoader';

export const ATTENTION_COMMAND = 'circuitInspector.showAttention';

export interface AttentionArgs {
  /** The document and the UTF-16 offset of the query token (default: the active editor's cursor). */
  readonly uri?: string;
  readonly offset?: number;
  /** The head to draw; without both, the user picks one. */
  readonly layer?: number;
  readonly head?: number;
  /** An attention node (`L.attn.q|k|v.C`): draw the head it belongs to. */
  readonly node?: string;
}

interface HeadItem extends vscode.QuickPickItem {
  readonly at: AttentionAt;
  readonly pattern: HeadPattern;
  /** Why the default head is the default (said with it when drawn); undefined for the others. */
  readonly why?: string;
}

export class WhereAttentionLooks {
  constructor(
    private readonly model: () => LoadedModel | undefined,
    private readonly overlay: AttentionOverlay,
  ) {}

  /** An attention node selected in the circuit panel: its head, from the token the panel describes; any other node draws nothing. */
  async showForNode({ nodeId, document, cursor }: NodeSelection): Promise<RenderedAttention | undefined> {
    if (!layerOfNode(nodeId) || !document || !cursor) return undefined;
    const doc = await vscode.workspace.openTextDocument(document);
    return this.run({ uri: document.toString(), offset: doc.offsetAt(new vscode.Position(cursor.range.line, cursor.range.character)), node: nodeId });
  }

  /** The command: returns what was drawn, or undefined when the user stopped or it could not be drawn (with a message). */
  async run(args: AttentionArgs = {}): Promise<RenderedAttention | undefined> {
    const loaded = modelOrWarn(this.model());
    if (!loaded) return undefined;
    const where = await queryAt(args);
    if (!where) return undefined;
    const { editor, offset } = where;
    // a notebook cell is read after the cells above it, at its own offsets (./notebookCells)
    const model = modelFor(loaded, editor.document);
    const text = editor.document.getText();
    const read = (layer: number) => model.attention(text, offset, layer);
    try {
      const node = args.node === undefined ? undefined : layerOfNode(args.node);
      if (args.node !== undefined && !node) throw new Error(`${args.node} is not an attention node (L.attn.q, k or v)`);
      const layer = node?.layer ?? args.layer;
      if (layer !== undefined && (node || args.head !== undefined)) {
        const at = await read(layer);
        const head = node ? Math.floor(node.channel / at.dHead) : (args.head as number);
        const pattern = at.heads[head];
        if (!pattern) throw new Error(`layer ${layer} has no head ${head} (it has ${at.heads.length})`);
        return this.overlay.show(editor, at, pattern);
      }
      const layers = layer !== undefined ? [layer] : Array.from({ length: model.layers }, (_, l) => l);
      const picked = await pickHead(await Promise.all(layers.map(read))); // one run per layer, side by side on the runner's workers
      return picked && this.overlay.show(editor, picked.at, picked.pattern, picked.why);
    } catch (e) {
      void vscode.window.showErrorMessage(`Circuit Inspector: ${errorMessage(e)}`);
      return undefined;
    }
  }
}

/** The editor and offset of the query: the given document (shown if it is not) or the active editor's cursor. */
async function queryAt(args: AttentionArgs): Promise<{ editor: vscode.TextEditor; offset: number } | undefined> {
  if (args.uri) {
    const uri = vscode.Uri.parse(args.uri);
    const visible = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === uri.toString());
    const editor = visible ?? (await vscode.window.showTextDocument(uri, { preserveFocus: true }));
    return { editor, offset: args.offset ?? editor.document.offsetAt(editor.selection.active) };
  }
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.document.languageId !== 'python') {
    void vscode.window.showInformationMessage('Circuit Inspector: open a Python file and place the cursor on the token whose attention you want to see.');
    return undefined;
  }
  return { editor, offset: editor.document.offsetAt(editor.selection.active) };
}

/** Every head of the layers read, the default head (core/attentionText defaultHead) first and preselected, then by sink share. */
async function pickHead(ats: readonly AttentionAt[]): Promise<HeadItem | undefined> {
  const all = ats.flatMap((at) => at.heads.map((pattern) => ({ at, pattern })));
  if (all.length === 0) return undefined;
  const best = defaultHead(all.map((x) => x.pattern));
  const items: HeadItem[] = all
    .sort((a, b) => Number(b.pattern === best.head) - Number(a.pattern === best.head) || a.pattern.sink - b.pattern.sink)
    .map(({ at, pattern }) => ({
      label: `head ${at.layer}.${pattern.head}`,
      description: `sink takes ${(100 * pattern.sink).toFixed(1)} %${pattern === best.head ? ` · default: ${best.why}` : ''}`,
      at,
      pattern,
      why: pattern === best.head ? best.why : undefined,
    }));
  return vscode.window.showQuickPick(items, { title: `Where attention looks from ${tokenCode(ats[0].query.text)}`, placeHolder: 'Pick a head (its sink share: attention paid to nothing)' });
}
