// What the editor knows about each circuit's task in code, and the one decision every feature asks:
// does this circuit's task apply to this token? The circuit file states its scope (`scope`,
// docs/bundle-format.md); ./taskScope decides it from Python's lexical structure, once per
// document text (memoised here). The analysis (./analysis: a circuit fires, and the CLI's
// `applies`, only in scope), the highlights and flip marks built from it, the hover, the circuit
// panel's readout and "Show circuit at cursor" all go through DocumentScope.applies / point.
// Pure: no `vscode` import, unit-tested in plain Node.
import type { CircuitFile } from '../schemas/circuit';
import { analyzeScope, applies, predictionOffsetOf, regionOf, type ScopeKind, type ScopeMap, type ScopeReach, scopeReach, taskPoint, type TaskPointAt, type TaskScope, withinReach } from './taskScope';

/** The closing quote of a string: `"` (class 0) vs `'` (class 1). */
export const QUOTE_TASK = 'single_double_quote';
/** Closing a list: `]]` when another `]` follows (class 0) vs `]` and the line ends (class 1). */
export const BRACKET_TASK = 'bracket_counting';

/** The scope of the shipped tasks, for circuit files that do not state one. */
export const SCOPE_BY_TASK: Readonly<Record<string, TaskScope>> = {
  [QUOTE_TASK]: { kind: 'string-close' },
  [BRACKET_TASK]: { kind: 'list-close' },
  while_return_true: { kind: 'keyword-true' },
  if_equals: { kind: 'name-compare-assign' },
};

const ANYWHERE: TaskScope = { kind: 'anywhere' };

/** A circuit's scope: its file's `scope`, else the shipped task's by name, else `anywhere`. */
export function scopeOf(circuit: Pick<CircuitFile, 'task' | 'scope'>): TaskScope {
  return circuit.scope ?? (Object.hasOwn(SCOPE_BY_TASK, circuit.task) ? SCOPE_BY_TASK[circuit.task] : ANYWHERE);
}

type ScopedCircuit = Pick<CircuitFile, 'task' | 'scope'>;

/** Where each circuit's task applies in one document text. Get it with documentScope(text). */
export class DocumentScope {
  readonly map: ScopeMap;
  private readonly reaches = new Map<Exclude<ScopeKind, 'anywhere'>, ScopeReach>();

  constructor(readonly text: string) {
    this.map = analyzeScope(text);
  }

  /** Whether `circuit`'s task applies to the token at UTF-16 [start, end): the one decision. */
  applies(circuit: ScopedCircuit, start: number, end: number): boolean {
    const scope = scopeOf(circuit);
    if (scope.kind !== 'anywhere' && !withinReach(this.reachOf(scope.kind), start, end)) return false;
    return applies(scope, this.map, start, end);
  }

  /** The ranges a token must meet to be in a scope of this kind (./taskScope scopeReach), made on first use. */
  private reachOf(kind: Exclude<ScopeKind, 'anywhere'>): ScopeReach {
    let reach = this.reaches.get(kind);
    if (!reach) this.reaches.set(kind, (reach = scopeReach(this.map.points[kind])));
    return reach;
  }

  /** The task point the token at [start, end) predicts or lies inside, with the document's truth; null outside the scope. */
  point(circuit: ScopedCircuit, start: number, end: number): TaskPointAt | null {
    return taskPoint(scopeOf(circuit), this.map, start, end);
  }

  /**
   * The offset at which the model's prediction for the task point of the token at [start, end) is
   * read (the token containing it predicts the point: it ends right before the closing quote or
   * the `]`, or with the closer when the scope reads the prediction there); undefined outside the scope.
   */
  predictionOffset(circuit: ScopedCircuit, start: number, end: number): number | undefined {
    const p = this.point(circuit, start, end);
    return p ? predictionOffsetOf(scopeOf(circuit), p) : undefined;
  }

  /**
   * The class the document itself says is right at the token's task point (the class whose label
   * is the point's truth), or undefined where neither side follows or outside the scope. For
   * `list-close`, `nested` means another `]` follows (the contrast the model is trained on), not
   * the bracket depth. A circuit without a task scope (one found at a token: its classes are the
   * target and the alternative) has no points: there the class is the one whose token text the
   * document continues with right after the token (the longer when both do, as `]` and `]\n`).
   */
  truth(circuit: ScopedCircuit & Pick<CircuitFile, 'classes'>, start: number, end: number): 0 | 1 | undefined {
    if (scopeOf(circuit).kind === 'anywhere') return this.nextClass(circuit, end);
    const label = this.point(circuit, start, end)?.truth;
    const k = label ? circuit.classes.findIndex((c) => c.label === label) : -1;
    return k === 0 || k === 1 ? k : undefined;
  }

  private nextClass(circuit: Pick<CircuitFile, 'classes'>, end: number): 0 | 1 | undefined {
    const longest = (k: 0 | 1) => Math.max(-1, ...circuit.classes[k].tokens.filter((t) => t.text !== '' && this.text.startsWith(t.text, end)).map((t) => t.text.length));
    const [a, b] = [longest(0), longest(1)];
    return a < 0 && b < 0 ? undefined : a >= b ? 0 : 1;
  }
}

// one lexer pass per document text: the analysis, the hover and the panel ask about the same text
const recent: DocumentScope[] = [];
const RECENT = 4;

/** The scope decisions for `text`, computed once per text (the last few texts are kept). */
export function documentScope(text: string): DocumentScope {
  const k = recent.findIndex((d) => d.text === text);
  if (k >= 0) {
    const hit = recent[k];
    if (k > 0) {
      recent.splice(k, 1);
      recent.unshift(hit);
    }
    return hit;
  }
  const made = new DocumentScope(text);
  recent.unshift(made);
  if (recent.length > RECENT) recent.length = RECENT;
  return made;
}

/** The circuits of `circuits` (bundle order) with a task scope that applies to the token at [start, end): the ones the circuit panel offers there. */
export function circuitsAt<C extends ScopedCircuit>(circuits: readonly C[], text: string, start: number, end: number): C[] {
  const scope = documentScope(text);
  return circuits.filter((c) => scopeOf(c).kind !== 'anywhere' && scope.applies(c, start, end));
}

/** The first of them: the circuit "Show circuit at cursor" opens. */
export function circuitAt<C extends ScopedCircuit>(circuits: readonly C[], text: string, start: number, end: number): C | undefined {
  return circuitsAt(circuits, text, start, end)[0];
}

/**
 * Whether two circuits read the same prediction at every token: the same scope and the same class
 * tokens (a task's circuit and its core pruned on the paper's form of the task). The hover then
 * states that prediction once.
 */
export function samePrediction(a: Pick<CircuitFile, 'task' | 'scope' | 'classes'>, b: Pick<CircuitFile, 'task' | 'scope' | 'classes'>): boolean {
  const [x, y] = [scopeOf(a), scopeOf(b)];
  const ids = (c: Pick<CircuitFile, 'classes'>) => JSON.stringify(c.classes.map((k) => k.tokens.map((t) => t.id)));
  return x.kind === y.kind && regionOf(x) === regionOf(y) && (x.read_at ?? 'before-closer') === (y.read_at ?? 'before-closer') && ids(a) === ids(b);
}

/** A bundle circuit left out because an earlier one stands for it (withoutRepeats). */
export interface RepeatedCircuit {
  readonly task: string;
  readonly title: string;
  /** The task of the earlier circuit: the same prediction and exactly these nodes. */
  readonly sameAs: string;
}

/**
 * The circuits in order, without any that repeats an earlier one: the same prediction and the same
 * set of nodes (a task's core pruned on the paper's form that found the task circuit itself). Both
 * would draw one graph, and each has its own firing rule, so one token would show two firing values
 * for it and the panel would offer the same graph twice; the repeat is listed with the one shown.
 */
export function withoutRepeats<C extends CircuitFile>(circuits: readonly C[]): { circuits: C[]; repeats: RepeatedCircuit[] } {
  const nodeSet = (c: C) => c.nodes.map((n) => n.id).sort().join(' ');
  const kept: C[] = [];
  const repeats: RepeatedCircuit[] = [];
  for (const c of circuits) {
    const same = kept.find((k) => samePrediction(k, c) && nodeSet(k) === nodeSet(c));
    if (same) repeats.push({ task: c.task, title: c.title, sameAs: same.task });
    else kept.push(c);
  }
  return { circuits: kept, repeats };
}
