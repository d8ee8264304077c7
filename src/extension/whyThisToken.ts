// "Why this token?" (issue 19): at the cursor, the model's most likely next tokens; the user picks
// the target and the alternative (or types any two token texts); core/discoverAt finds the circuit
// behind that preference by ablation, with cancellable progress; the circuit becomes one of the
// model's circuits (./circuitSources) and opens in the circuit panel like any other.
import * as vscode from 'vscode';
import type { NextToken } from '../core/analysis';
import type { Discovery } from '../core/discoverAt';
import { errorMessage } from '../core/errors';
import { tokenCode } from '../core/readoutText';
import { samePairPositions } from '../core/samePair';
import { discoverySummary } from '../core/shareWords';
import type { CircuitController } from './circuitController';
import type { CircuitSources, FoundCircuit } from './circuitSources';
import type { Documents } from './documents';
import type { LoadedModel } from './loadedModel';
import { modelFor } from './notebookCells';
import { SAVE_COMMAND } from './saveCircuit';
import { modelOrWarn } from './modelLoader';

export const WHY_COMMAND = 'circuitInspector.whyThisToken';
const SAVE_LABEL = 'Save as circuit';

export interface WhyArgs {
  /** The document and the UTF-16 offset of the token after which the prediction is made (default: the active editor's cursor). */
  readonly uri?: string;
  readonly offset?: number;
  /** Token texts of the contrast; when both are given nothing is asked. */
  readonly target?: string;
  readonly alt?: string;
  /** Average over the places in the file with the same token followed by the target (core/samePair); default false. */
  readonly average?: boolean;
}

interface TokenItem extends vscode.QuickPickItem {
  readonly token: string;
}

export class WhyThisToken {
  constructor(
    private readonly docs: Documents,
    private readonly model: () => LoadedModel | undefined,
    private readonly sources: CircuitSources,
    /** The circuits changed: the model gets them and the documents are analysed again. */
    private readonly circuitsChanged: () => void,
    private readonly controller: CircuitController,
  ) {}

  /** The last circuit found (undefined before the first, and once another model has loaded): CircuitSources holds it. */
  get last(): FoundCircuit | undefined {
    return this.sources.found;
  }

  /** The command: returns the circuit found, or undefined when the user stopped or it failed (with a message). */
  async run(args: WhyArgs = {}): Promise<FoundCircuit | undefined> {
    const loaded = modelOrWarn(this.model());
    if (!loaded) return undefined;
    const at = await target(args);
    if (!at) return undefined;
    const { doc, offset } = at;
    const model = modelFor(loaded, doc);
    const text = doc.getText();
    const contrast = args.target !== undefined && args.alt !== undefined ? { target: args.target, alt: args.alt, average: args.average } : await this.askContrast(model, doc, text, offset);
    if (!contrast) return undefined;
    let discovery: Discovery;
    try {
      discovery = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Circuit Inspector: why ${tokenCode(contrast.target)} and not ${tokenCode(contrast.alt)}?`, cancellable: true },
        (progress, cancel) => {
          progress.report({ message: 'pruning the model in runs of 64, 16 and 4 nodes, then single nodes…' });
          const stop = new AbortController();
          cancel.onCancellationRequested(() => stop.abort());
          return model.discover(text, offset, contrast, stop.signal);
        },
      );
    } catch (e) {
      // cancelled: the user knows; anything else (a token the vocabulary lacks, …) is said in one sentence
      if (!(e instanceof Error && e.name === 'AbortError')) void vscode.window.showErrorMessage(`Circuit Inspector: ${errorMessage(e)}`);
      return undefined;
    }
    const file = model.circuitFileOf(discovery);
    const found: FoundCircuit = { discovery, file, document: doc.uri };
    this.sources.setFound(found);
    this.circuitsChanged();
    await this.docs.analyzeNow(doc); // the document's analysis with the new circuit, which the panel reads
    await this.controller.show({ uri: doc.uri.toString(), offset: discovery.position.offset, task: file.task });
    void vscode.window.showInformationMessage(`Circuit Inspector: ${discoverySummary(discovery)}`, SAVE_LABEL).then((choice) => {
      if (choice === SAVE_LABEL) void vscode.commands.executeCommand(SAVE_COMMAND);
    });
    return found;
  }

  /** Two QuickPicks over the top next tokens: the target (default: the code's next token if listed, else the top one), then the alternative (default: the runner-up). */
  private async askContrast(model: LoadedModel, doc: vscode.TextDocument, text: string, offset: number): Promise<{ target: string; alt: string; average: boolean } | undefined> {
    const here = await model.nextTokens(text, offset);
    if (!here || here.next.length === 0) {
      void vscode.window.showInformationMessage('Circuit Inspector: there is no token at the cursor to predict from.');
      return undefined;
    }
    const tokens = (await this.docs.analyzeNow(doc))?.base.tokens ?? [];
    const actual = tokens.find((t) => t.start === here.end)?.text;
    const where = doc.positionAt(here.start);
    const title = `after ${tokenCode(text.slice(here.start, here.end))} at ${where.line + 1}:${where.character + 1}`;
    const target = await pickToken(`Why this token? (1/2) The token to explain, ${title}`, here.next, actual, actual !== undefined && here.next.some((n) => n.text === actual) ? actual : here.next[0].text);
    if (target === undefined) return undefined;
    const rest = here.next.filter((n) => n.text !== target);
    const alt = await pickToken(`Why this token? (2/2) Instead of which token, ${title}`, rest, actual, rest[0]?.text);
    if (alt === undefined) return undefined;
    const average = await askAverage(tokens, here.start, target, title);
    return average === undefined ? undefined : { target, alt, average };
  }
}

/**
 * Where the document has the cursor's token followed by `target` elsewhere too, a QuickPick: at the
 * cursor only (the default) or averaged over those places; false without asking where there are none.
 */
async function askAverage(tokens: readonly { text: string; start: number }[], start: number, target: string, title: string): Promise<boolean | undefined> {
  const i = tokens.findIndex((t) => t.start === start);
  const places = i < 0 ? 1 : samePairPositions(tokens.map((t) => t.text), i, target).length;
  if (places < 2) return false;
  const items = [
    { label: 'At the cursor only', average: false },
    { label: `Averaged over ${places} places`, description: `every place in the file where ${tokenCode(tokens[i].text)} is followed by ${tokenCode(target)}`, average: true },
  ];
  const choice = await vscode.window.showQuickPick(items, { title: `Why this token? Where, ${title}` });
  return choice?.average;
}

/** The document and offset the command works on: its arguments, else the active Python editor's cursor. */
async function target(args: WhyArgs): Promise<{ doc: vscode.TextDocument; offset: number } | undefined> {
  if (args.uri) return { doc: await vscode.workspace.openTextDocument(vscode.Uri.parse(args.uri)), offset: args.offset ?? 0 };
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.document.languageId !== 'python') {
    void vscode.window.showInformationMessage('Circuit Inspector: open a Python file and place the cursor after the token whose next token you want explained.');
    return undefined;
  }
  return { doc: editor.document, offset: editor.document.offsetAt(editor.selection.active) };
}

/**
 * One token text from the candidates (shown as the hover shows tokens, readoutText tokenCode, with their probabilities), `preselect` active;
 * typed text that matches none is offered as a token of its own (JSON string syntax allowed, for
 * leading spaces and newlines).
 */
function pickToken(title: string, candidates: readonly NextToken[], actual: string | undefined, preselect: string | undefined): Promise<string | undefined> {
  const items: TokenItem[] = candidates.map((n) => ({
    label: tokenCode(n.text),
    description: `p = ${n.p.toFixed(3)}${n.text === actual ? ' · next in the code' : ''}`,
    token: n.text,
  }));
  const qp = vscode.window.createQuickPick<TokenItem>();
  qp.title = title;
  qp.placeholder = 'Pick a token, or type the exact text of one';
  qp.items = items;
  qp.activeItems = items.filter((i) => i.token === preselect);
  qp.onDidChangeValue((value) => {
    const typed = value === '' || items.some((i) => i.label === value) ? [] : [{ label: value, description: 'the token typed', alwaysShow: true, token: typedToken(value) }];
    qp.items = [...typed, ...items];
  });
  return new Promise((resolve) => {
    qp.onDidAccept(() => {
      resolve(qp.selectedItems[0]?.token);
      qp.hide();
    });
    qp.onDidHide(() => {
      resolve(undefined);
      qp.dispose();
    });
    qp.show();
  });
}

/** Text typed as a token: a JSON string literal stands for its value (`" self"`), anything else for itself. */
function typedToken(value: string): string {
  if (!/^".*"$/.test(value)) return value;
  try {
    return String(JSON.parse(value));
  } catch {
    return value;
  }
}
