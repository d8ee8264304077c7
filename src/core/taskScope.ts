// Task scope: where in a Python document each circuit's task applies, decided once per document
// text from Python's own lexical structure. Core module: no `vscode` import.
//
// Why a lexer of our own rather than tree-sitter (web-tree-sitter 0.25 + tree-sitter-python 0.25,
// both install offline from npm): measured on bench/stdlib-5000.py on this project's 2 cores, the
// grammar parses and walks 5,000 lines in ~85 ms of CPU (1,000 lines: ~25 ms) after a ~37 ms
// asynchronous load of 660 KB of wasm that esbuild would have to ship beside dist/ for both the
// extension and the CLI; this lexer takes ~2–3 ms for 5,000 lines (~1–2 ms for 1,000), synchronously,
// with nothing to ship. On correctness both find every string Python's `tokenize` finds on the
// standard library; tree-sitter types annotations (`Optional[int]`) as generic types rather than
// subscripts, and its error recovery is not Python's. This lexer agrees exactly with `tokenize` and
// `ast` on 3,680 files (the standard library with its tests, and site-packages): every string
// literal, every bracket pair, every `[` as list or subscript, every statement-initial name
// (test/unit/taskScope.test.ts, test/fixtures/make_scope_golden.py).
//
// The lexer below follows the rules of CPython's tokenizer (Lib/tokenize.py, Parser/tokenizer.c):
// - string literals: any case of the prefixes r u b f t br rb fr rf tr rt, one or three quotes of
//   either kind, a backslash escaping the next character in every kind of string (in raw strings
//   too, where it keeps the quote from ending the string), backslash-newline continuing a
//   one-quote string onto the next line, an unescaped newline ending a one-quote string unclosed;
//   f-strings as in Python 3.12 (PEP 701): `{{`/`}}` are literal, a replacement field holds code
//   (nested strings of any quote, brackets) up to its `}` with a `:` format spec that may nest fields;
// - comments from `#` to the end of the line; backslash-newline joining physical lines;
// - brackets ( [ { on a stack: a closer closes the nearest opener of its kind (openers above it are
//   left unclosed), a closer with no such opener is ignored; newlines inside brackets do not end
//   the logical line. A `[` right after an expression (a name, a number, a string, `...`, or a
//   closing bracket) is a subscript, otherwise a list display (comprehensions included); the same
//   rule makes `(` a call or a parenthesised expression.
// Unclosed code is handled the way an editor needs it: an unclosed one-quote string ends at its
// line end (and its task point is there, with the quote that opened it as the right answer);
// a line inside unclosed brackets that starts with a keyword that only ever begins a statement
// (`def`, `class`, `return`, `import`, …) closes those brackets, so one missing `)` does not turn
// the rest of the file into one bracketed expression. Everything is one pass over the text: linear
// time, no regular expressions over the whole text, no recursion deeper than f-string nesting.

import type { CircuitScope } from '../schemas/circuit';

export type ScopeKind = CircuitScope['kind'];

/**
 * Where a circuit's task applies, as the circuit file states it; validated by the circuit file's
 * schema (`circuitScope` in src/schemas/circuit.ts), the one place that checks it.
 * - `string-close`: one-line string literals (not triple-quoted, not continued with a backslash;
 *   unclosed ones included). Prediction point: the closing quote; truth `double` / `single`.
 * - `list-close`: list displays (comprehensions included) and subscripts whose `]` the document
 *   continues with one of the task's two answers, or with nothing yet. Prediction point: that `]`;
 *   truth `nested` (another `]` follows it) / `flat` (a newline follows it); `pending` (no truth)
 *   where nothing follows it yet on its line (only spaces, then the line's or the text's end) or the
 *   list is not closed yet: the user is typing there. A `]` followed by anything else (`x[0].y`,
 *   `f([a], b)`, `d[k] = v`) is not a point of the task: the model's contrast there is between two
 *   continuations neither of which the code has.
 * - `keyword-true`: `while True` and `return True` (statement-initial keyword). Prediction point:
 *   right after `True`; truth `colon` (`:` follows `while True`) / `newline` (the line ends after
 *   `return True`); `pending` where nothing follows yet on the line. Anything else after `True`
 *   (`return True and x`, a comment) is not a point of the task.
 * - `name-compare-assign`: a name right after a statement's `if`/`elif`, and a statement-initial
 *   name, where ` ==` (truth `compare`) or ` =` (`assign`) follows it, or nothing yet on its line
 *   (`pending`). Prediction point: right after the name. A name followed by anything else (`f(x)`,
 *   `if x:`, `w.k = 4`, `count += 1`) is not a point: as for `]`, the contrast there is between two
 *   continuations neither of which the code has.
 * - `anywhere`: no restriction (e.g. a user's circuit found at one token).
 *
 * `region`: `point` — only the token(s) that predict a task point (the token ending right before
 * the closing quote, the `]`, …); `inside` — also every token inside the construct (a one-line
 * string's content, a list's or subscript's brackets outside strings). Default: `inside` for
 * `string-close`, `point` for the others.
 */
export type TaskScope = Readonly<CircuitScope>;

export function regionOf(scope: TaskScope): 'point' | 'inside' {
  return scope.region ?? (scope.kind === 'string-close' ? 'inside' : 'point');
}

/**
 * A string literal: a top-level one (ScopeMap.strings), or one nested in an f-string's replacement
 * field (ScopeMap.fieldStrings).
 */
export interface StringLiteral {
  /** Offset of the prefix (or of the opening quote when there is none). */
  readonly start: number;
  readonly prefix: string;
  readonly quote: '"' | "'";
  readonly triple: boolean;
  /** After the opening quote(s). */
  readonly contentStart: number;
  /** The closing quote(s), or where an unclosed string stops (its line end, or the text end). */
  readonly contentEnd: number;
  /** After the closing quote(s) (= contentEnd when unclosed). */
  readonly end: number;
  readonly terminated: boolean;
  /** Not triple-quoted and on one physical line (no backslash-newline inside). */
  readonly oneLine: boolean;
  readonly fstring: boolean;
  /**
   * An f-string's replacement fields, `{` to `}` (format spec included): code, not the string's
   * text, ordered; strings inside them are in ScopeMap.fieldStrings. Empty for other strings.
   */
  readonly fields: readonly Span[];
}

export type BracketKind = 'list' | 'subscript' | 'paren' | 'call' | 'brace';

export interface BracketPair {
  readonly char: '(' | '[' | '{';
  readonly kind: BracketKind;
  readonly open: number;
  /** Offset of the matching closer, or -1 when unclosed. */
  readonly close: number;
  /** `close`, or where the lexer gave up on an unclosed bracket (a statement keyword's line, or the text end). */
  readonly end: number;
  /** 1 for an outermost bracket. */
  readonly depth: number;
  /** Index in `ScopeMap.brackets` of the pair that encloses this one, or -1. */
  readonly parent: number;
}

export interface Span {
  readonly start: number;
  readonly end: number;
}

export type TruthLabel = 'double' | 'single' | 'nested' | 'flat' | 'colon' | 'newline' | 'compare' | 'assign';

/** A place where a task's next-token prediction is made, with the ground truth from the document. */
export interface TaskPoint {
  readonly kind: Exclude<ScopeKind, 'anywhere'>;
  /** Where the answer starts: the closing quote, the `]`, the character after `True` or after the name. */
  readonly offset: number;
  /**
   * Tokens ending in [from, offset] predict this point (from = offset except for `]`, where spaces
   * or tabs between the last code and the `]` may end the predicting token early).
   */
  readonly from: number;
  /**
   * The class label of what truly follows in this document, or null when nothing does yet
   * (pending: a point the code continues with neither answer is no point). The labels are the
   * shipped circuits' class labels.
   */
  readonly truth: TruthLabel | null;
  /** The construct the point closes or follows: the string literal, the bracket pair, the keyword or name. */
  readonly construct: Span;
  /** The character(s) of the right answer when there is one: `"`, `'`, `]]`, `]\n`, `:`, `\n`, ` ==`, ` =`. */
  readonly answer?: string;
  /** list-close: the bracket pair's nesting depth among brackets of every kind (1 = outermost). */
  readonly depth?: number;
  /**
   * The answer is not written yet (nothing follows the point on its line; for `]`, also a list still
   * open), so the point has no truth and the model cannot be right or wrong there.
   */
  readonly pending?: true;
}

export interface ScopeMap {
  readonly length: number;
  readonly strings: readonly StringLiteral[];
  /** The strings nested in f-strings' replacement fields (`f"{d['k']}"`: `'k'`), ordered by their close. */
  readonly fieldStrings: readonly StringLiteral[];
  /** Every top-level bracket pair, ordered by opener. */
  readonly brackets: readonly BracketPair[];
  readonly comments: readonly Span[];
  readonly points: Readonly<Record<Exclude<ScopeKind, 'anywhere'>, readonly TaskPoint[]>>;
}

// ---------------------------------------------------------------------------------------------
// Lexer

const KEYWORDS = new Set([
  'False', 'None', 'True', 'and', 'as', 'assert', 'async', 'await', 'break', 'class', 'continue', 'def', 'del', 'elif', 'else',
  'except', 'finally', 'for', 'from', 'global', 'if', 'import', 'in', 'is', 'lambda', 'nonlocal', 'not', 'or', 'pass', 'raise',
  'return', 'try', 'while', 'with', 'yield',
]);
/** Keywords that are values: a bracket after them is a subscript or call. */
const VALUE_KEYWORDS = new Set(['True', 'False', 'None']);
/** Keywords that can only begin a statement: seen first on a line inside brackets, they mean the brackets were left unclosed. */
const STATEMENT_ONLY = new Set(['def', 'class', 'return', 'import', 'pass', 'raise', 'while', 'try', 'except', 'finally', 'with', 'global', 'nonlocal', 'assert', 'del', 'break', 'continue', 'elif']);
/** Keywords whose statement ends its header with a `:` after which a statement may follow on the same line. */
const COMPOUND = new Set(['if', 'elif', 'else', 'while', 'for', 'try', 'except', 'finally', 'with', 'def', 'class', 'async', 'match', 'case']);
/**
 * Whether a statement-initial `match`/`case` ending at `j` is the soft keyword: as in Python's
 * grammar, it is when the rest of the logical line parses as a subject or pattern and a `:` — here,
 * when what follows is not an assignment, attribute, annotation or separator, and the logical line
 * ends with a `:` (`match`: its block starts on the next line) or has a `:` outside brackets (`case`,
 * whose block may follow on the same line). A call or expression statement has neither.
 */
function softKeywordStatement(text: string, j: number, word: string): boolean {
  const n = text.length;
  const k = nextCode(text, j);
  const d = text.charCodeAt(k);
  if (d === 61 /* = */) return text.charCodeAt(k + 1) === 61;
  if (d === 46 /* . */ && !(text.charCodeAt(k + 1) === 46 && text.charCodeAt(k + 2) === 46)) return false;
  if (d === 58 || d === 59 || d === 44 || d === 41 || d === 93 || d === 125 || d === C_NL || d === C_CR || d === C_HASH || Number.isNaN(d)) return false;
  if (k + 1 < n && text.charCodeAt(k + 1) === 61 && '+-*/%&|^@<>'.includes(text[k])) return false; // augmented assignment
  let depth = 0;
  let last = 0;
  for (let i = k; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === C_DQ || c === C_SQ) {
      // skip a string roughly (one line); enough to find the line's end
      for (i++; i < n && text.charCodeAt(i) !== c && text.charCodeAt(i) !== C_NL; i++) if (text.charCodeAt(i) === C_BS) i++;
      last = c;
      continue;
    }
    if (c === 40 || c === 91 || c === 123) depth++;
    else if (c === 41 || c === 93 || c === 125) depth = Math.max(0, depth - 1);
    else if (c === C_BS && (text.charCodeAt(i + 1) === C_NL || text.charCodeAt(i + 1) === C_CR)) {
      i++;
      continue;
    } else if ((c === C_NL || c === C_CR || c === C_HASH || c === 59) && depth === 0) break;
    else if (c === 58 && depth === 0 && word === 'case' && text.charCodeAt(i + 1) !== 61) return true;
    if (c !== C_SP && c !== C_TAB && c !== C_NL && c !== C_CR && c !== C_FF) last = c;
  }
  return last === 58;
}

const STRING_PREFIXES = new Set(['r', 'u', 'b', 'f', 't', 'br', 'rb', 'fr', 'rf', 'tr', 'rt']);

const C_NL = 10, C_CR = 13, C_SP = 32, C_TAB = 9, C_FF = 12, C_BS = 92, C_HASH = 35, C_DQ = 34, C_SQ = 39;

const ID_START = /[\p{ID_Start}_]/u;
const ID_CONTINUE = /\p{ID_Continue}/u;

function isIdStart(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95) return 1;
  if (c < 128 || Number.isNaN(c)) return 0;
  const cp = text.codePointAt(i)!;
  return ID_START.test(String.fromCodePoint(cp)) ? (cp > 0xffff ? 2 : 1) : 0;
}

function isIdContinue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95) return 1;
  if (c < 128 || Number.isNaN(c)) return 0;
  const cp = text.codePointAt(i)!;
  return ID_CONTINUE.test(String.fromCodePoint(cp)) ? (cp > 0xffff ? 2 : 1) : 0;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

interface MutableBracket {
  char: '(' | '[' | '{';
  kind: BracketKind;
  open: number;
  close: number;
  end: number;
  depth: number;
  parent: number;
  self: number;
  /** End of the last code character seen inside it (for an unclosed list's point). */
  lastCode: number;
}

/** Result of scanning a string body: where it stops and whether it was closed. */
interface StringScan {
  contentEnd: number;
  end: number;
  terminated: boolean;
  multiLine: boolean;
  /** An f-string's replacement fields, `{` to `}`. */
  fields: Span[];
}

const CLOSER_OF: Record<number, number> = { 40: 41, 91: 93, 123: 125 };

/**
 * Scans a string literal's body from `i` (just after the opening quote(s)). `fstring`: parse
 * replacement fields. Stops at the closing quote(s), at a newline for one-quote strings, or at the end.
 * The closed strings found inside its fields (at any depth) are added to `nested`.
 */
function scanString(text: string, i: number, q: number, triple: boolean, fstring: boolean, raw: boolean, nested: StringLiteral[]): StringScan {
  const n = text.length;
  let multiLine = false;
  const fields: Span[] = [];
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === C_BS) {
      const d = text.charCodeAt(i + 1);
      if (d === C_NL || d === C_CR) multiLine = true;
      if (fstring && (d === 123 || d === 125)) {
        // a backslash does not escape an f-string's braces: `\{{` is a backslash and a literal brace
        i++;
        continue;
      }
      if (fstring && !raw && d === 78 /* N */ && text.charCodeAt(i + 2) === 123) {
        // `\N{NAME}`: the braces belong to the escape, not to a field (names are short: look 100 ahead)
        let k = i + 3;
        while (k < n && k < i + 103 && /[A-Za-z0-9 -]/.test(text[k])) k++;
        i = text.charCodeAt(k) === 125 ? k + 1 : i + 2;
        continue;
      }
      i += d === C_CR && text.charCodeAt(i + 2) === C_NL ? 3 : 2;
      continue;
    }
    if (c === q) {
      if (!triple) return { contentEnd: i, end: i + 1, terminated: true, multiLine, fields };
      if (text.charCodeAt(i + 1) === q && text.charCodeAt(i + 2) === q) return { contentEnd: i, end: i + 3, terminated: true, multiLine, fields };
      i++;
      continue;
    }
    if (c === C_NL || c === C_CR) {
      if (!triple) return { contentEnd: i, end: i, terminated: false, multiLine, fields };
      multiLine = true;
      i++;
      continue;
    }
    if (fstring && c === 123 /* { */) {
      if (text.charCodeAt(i + 1) === 123) {
        i += 2;
        continue;
      }
      const r = scanField(text, i + 1, triple, nested);
      fields.push({ start: i, end: r < 0 ? -r - 1 : r });
      if (r < 0) return { contentEnd: -r - 1, end: -r - 1, terminated: false, multiLine, fields };
      i = r;
      continue;
    }
    i++;
  }
  return { contentEnd: n, end: n, terminated: false, multiLine, fields };
}

/**
 * Scans an f-string replacement field's code from `i` (after `{`) to just after its `}`. Returns
 * that offset, or −(stop + 1) when the field runs into a newline of a one-quote f-string or the end.
 * Closed strings in its code are added to `nested`.
 */
function scanField(text: string, i: number, triple: boolean, nested: StringLiteral[]): number {
  const n = text.length;
  let depth = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === C_NL || c === C_CR) {
      if (!triple) return -(i + 1);
      i++;
      continue;
    }
    if (c === C_DQ || c === C_SQ) {
      // a nested string; its prefix letters were skipped as code, which is harmless
      const q3 = text.charCodeAt(i + 1) === c && text.charCodeAt(i + 2) === c;
      let p = i - 1;
      while (p >= 0 && isIdContinue(text, p) === 1 && text.charCodeAt(p) < 128) p--;
      const prefix = text.slice(p + 1, i);
      const pre = prefix.toLowerCase();
      const known = STRING_PREFIXES.has(pre);
      const fstring = known && (pre.includes('f') || pre.includes('t'));
      const contentStart = i + (q3 ? 3 : 1);
      const s = scanString(text, contentStart, c, q3, fstring, known && pre.includes('r'), nested);
      if (!s.terminated) return -(s.end + 1);
      const quote = c === C_DQ ? '"' : "'";
      nested.push({ start: known ? p + 1 : i, prefix: known ? prefix : '', quote, triple: q3, contentStart, contentEnd: s.contentEnd, end: s.end, terminated: true, oneLine: !q3 && !s.multiLine, fstring, fields: s.fields });
      i = s.end;
      continue;
    }
    if (c === 40 || c === 91 || c === 123) depth++;
    else if (c === 41 || c === 93) depth = Math.max(0, depth - 1);
    else if (c === 125) {
      if (depth === 0) return i + 1;
      depth--;
    } else if (c === 58 /* : */ && depth === 0) {
      // format spec: literal text with nested fields, up to the field's `}`
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 125) return i + 1;
        if ((d === C_NL || d === C_CR) && !triple) return -(i + 1);
        if (d === 123) {
          const r = scanField(text, i + 1, triple, nested);
          if (r < 0) return r;
          i = r;
          continue;
        }
        if (d === C_BS) {
          i += 2;
          continue;
        }
        i++;
      }
      return -(n + 1);
    } else if (c === C_HASH && triple) {
      while (i < n && text.charCodeAt(i) !== C_NL && text.charCodeAt(i) !== C_CR) i++;
      continue;
    } else if (c === C_BS && (text.charCodeAt(i + 1) === C_NL || text.charCodeAt(i + 1) === C_CR)) {
      if (!triple) return -(i + 1);
    }
    i++;
  }
  return -(n + 1);
}

type Prev = 'none' | 'value' | 'op' | 'keyword';

/** Lexes a Python document into its scope map. Linear in the text length. */
export function analyzeScope(text: string): ScopeMap {
  return new ScopeLexer(text).run();
}

/**
 * One pass over a document: each method lexes one kind of token at `i` and returns where the next
 * token starts, keeping the state the task points need (the open brackets, the statement's first
 * keyword, what the previous token was).
 */
class ScopeLexer {
  private readonly n: number;
  private readonly strings: StringLiteral[] = [];
  private readonly fieldStrings: StringLiteral[] = [];
  private readonly brackets: MutableBracket[] = [];
  private readonly comments: Span[] = [];
  private readonly stack: MutableBracket[] = [];
  private readonly stringPoints: TaskPoint[] = [];
  private readonly listPoints: TaskPoint[] = [];
  private readonly truePoints: TaskPoint[] = [];
  private readonly namePoints: TaskPoint[] = [];
  private prev: Prev = 'none';
  /** The previous token when it was a name or keyword. */
  private prevWord = '';
  private prevWordStart = -1;
  /** The next token begins a statement. */
  private atStmtStart = true;
  /** The statement-initial keyword of the current statement. */
  private stmtKeyword = '';
  private stmtKeywordStart = -1;
  /** Depth-0 lambdas whose `:` is still to come on this statement. */
  private lambdas = 0;
  /** No token yet on this physical line. */
  private lineStart = true;
  /** End of the last code token. */
  private lastCode = 0;

  constructor(private readonly text: string) {
    this.n = text.length;
  }

  run(): ScopeMap {
    // a BOM is not code
    let i = this.text.charCodeAt(0) === 0xfeff ? 1 : 0;
    while (i < this.n) i = this.token(i);
    this.giveUp(this.n);
    this.stringPoints.sort((a, b) => a.offset - b.offset);
    this.listPoints.sort((a, b) => a.offset - b.offset);
    this.fieldStrings.sort((a, b) => a.contentEnd - b.contentEnd);
    return {
      length: this.n,
      strings: this.strings,
      fieldStrings: this.fieldStrings,
      brackets: this.brackets.map(({ char, kind, open, close, end, depth, parent }) => ({ char, kind, open, close, end, depth, parent })),
      comments: this.comments,
      points: { 'string-close': this.stringPoints, 'list-close': this.listPoints, 'keyword-true': this.truePoints, 'name-compare-assign': this.namePoints },
    };
  }

  /** Lexes whatever starts at `i` (a token, whitespace, a line end, a comment). */
  private token(i: number): number {
    const text = this.text;
    const c = text.charCodeAt(i);
    if (c === C_SP || c === C_TAB || c === C_FF) return i + 1;
    if (c === C_NL || c === C_CR) return this.lineEnd(i, c);
    if (c === C_BS) return this.backslash(i);
    if (c === C_HASH) return this.comment(i);
    const idw = isIdStart(text, i);
    if (idw) return this.word(i, idw);
    if (c === C_DQ || c === C_SQ) return this.stringAt(i, i, '');
    if (isDigit(c) || (c === 46 && isDigit(text.charCodeAt(i + 1)))) return this.number(i, c);
    if (c === 40 || c === 91 || c === 123) return this.open(i, c);
    if (c === 41 || c === 93 || c === 125) return this.close(i, c);
    return this.operator(i, c);
  }

  /** A code token ends at `end`, of the kind `prev`: the next one starts there. */
  private after(end: number, prev: Prev): number {
    this.lastCode = end;
    if (this.stack.length) this.stack[this.stack.length - 1].lastCode = end;
    this.atStmtStart = false;
    this.lineStart = false;
    this.prev = prev;
    this.prevWord = '';
    return end;
  }

  private newStatement(): void {
    this.atStmtStart = true;
    this.prev = 'none';
    this.stmtKeyword = '';
    this.lambdas = 0;
  }

  private lineEnd(i: number, c: number): number {
    this.lineStart = true;
    if (this.stack.length === 0) this.newStatement();
    return i + (c === C_CR && this.text.charCodeAt(i + 1) === C_NL ? 2 : 1);
  }

  /** Backslash-newline joins physical lines; a lone backslash is an operator. */
  private backslash(i: number): number {
    const d = this.text.charCodeAt(i + 1);
    if (d === C_NL || d === C_CR) return i + (d === C_CR && this.text.charCodeAt(i + 2) === C_NL ? 3 : 2);
    return this.after(i + 1, 'op');
  }

  private comment(i: number): number {
    let j = i;
    while (j < this.n && this.text.charCodeAt(j) !== C_NL && this.text.charCodeAt(j) !== C_CR) j++;
    this.comments.push({ start: i, end: j });
    return j;
  }

  /** A name, a keyword, or a string's prefix. */
  private word(i: number, idw: number): number {
    const text = this.text;
    let j = i + idw;
    for (let w = isIdContinue(text, j); w; w = isIdContinue(text, j)) j += w;
    const word = text.slice(i, j);
    const q = text.charCodeAt(j);
    if ((q === C_DQ || q === C_SQ) && j - i <= 2 && STRING_PREFIXES.has(word.toLowerCase())) return this.stringAt(i, j, word);
    // a statement-only keyword first on a line inside brackets: the brackets were left unclosed
    if (this.stack.length && this.lineStart && STATEMENT_ONLY.has(word)) {
      this.giveUp(i);
      this.newStatement();
    }
    const initial = this.atStmtStart;
    // `match`/`case` begin a statement when a subject or pattern follows (not `=`, `.`, `(`…)
    const isKw = KEYWORDS.has(word) || (initial && (word === 'match' || word === 'case') && softKeywordStatement(text, j, word));
    if (initial) {
      this.stmtKeyword = isKw ? word : '';
      this.stmtKeywordStart = i;
    }
    if (word === 'lambda' && this.stack.length === 0) this.lambdas++;
    const afterStmtKeyword = this.prev === 'keyword' && this.prevWordStart === this.stmtKeywordStart;
    if (word === 'True' && afterStmtKeyword && (this.prevWord === 'while' || this.prevWord === 'return')) {
      const point = keywordTruePoint(text, this.prevWord, this.prevWordStart, j);
      if (point) this.truePoints.push(point);
    } else if (!isKw && (initial || (afterStmtKeyword && (this.prevWord === 'if' || this.prevWord === 'elif')))) {
      const point = namePoint(text, i, j);
      if (point) this.namePoints.push(point);
    }
    this.after(j, isKw && !VALUE_KEYWORDS.has(word) ? 'keyword' : 'value');
    this.prevWord = word;
    this.prevWordStart = i;
    return j;
  }

  private number(i: number, c: number): number {
    const text = this.text;
    let j = i + 1;
    const x = text.charCodeAt(i + 1) | 32;
    if (c === 48 && (x === 120 || x === 111 || x === 98)) {
      j = i + 2;
      while (j < this.n && isIdContinue(text, j) === 1 && text.charCodeAt(j) < 128) j++;
      return this.after(j, 'value');
    }
    for (;;) {
      const d = text.charCodeAt(j);
      if (isDigit(d) || d === 95 || d === 46) j++;
      else if ((d | 32) === 101 && (isDigit(text.charCodeAt(j + 1)) || ((text.charCodeAt(j + 1) === 43 || text.charCodeAt(j + 1) === 45) && isDigit(text.charCodeAt(j + 2))))) j += 2;
      else if ((d | 32) === 106) return this.after(j + 1, 'value');
      else return this.after(j, 'value');
    }
  }

  private open(i: number, c: number): number {
    const stack = this.stack;
    const afterValue = this.prev === 'value';
    const kind: BracketKind = c === 123 ? 'brace' : c === 91 ? (afterValue ? 'subscript' : 'list') : afterValue ? 'call' : 'paren';
    const b: MutableBracket = { char: this.text[i] as '(' | '[' | '{', kind, open: i, close: -1, end: this.n, depth: stack.length + 1, parent: stack.length ? stack[stack.length - 1].self : -1, self: this.brackets.length, lastCode: i + 1 };
    this.after(i + 1, 'op'); // the code inside the enclosing bracket now ends after this opener
    this.brackets.push(b);
    stack.push(b);
    return i + 1;
  }

  /** A closer closes the nearest opener of its kind (those above it are left unclosed); with none it is ignored. */
  private close(i: number, c: number): number {
    const stack = this.stack;
    let k = stack.length - 1;
    while (k >= 0 && CLOSER_OF[stack[k].char.charCodeAt(0)] !== c) k--;
    if (k < 0) return this.after(i + 1, 'op');
    while (stack.length - 1 > k) this.popUnclosed(i);
    const b = stack.pop()!;
    b.close = i;
    b.end = i;
    const p = b.kind === 'list' || b.kind === 'subscript' ? listClosePoint(this.text, b, this.lastCode) : undefined;
    if (p) this.listPoints.push(p);
    return this.after(i + 1, 'value');
  }

  private operator(i: number, c: number): number {
    const text = this.text;
    if (c === 46 && text.charCodeAt(i + 1) === 46 && text.charCodeAt(i + 2) === 46) return this.after(i + 3, 'value');
    if (c === 58 /* : */ && text.charCodeAt(i + 1) === 61 /* = */) return this.after(i + 2, 'op');
    this.after(i + 1, 'op');
    if (this.stack.length === 0) {
      if (c === 59 /* ; */) this.newStatement();
      else if (c === 58 /* : */) {
        if (this.lambdas > 0) this.lambdas--;
        else if (COMPOUND.has(this.stmtKeyword)) this.newStatement();
      }
    }
    return i + 1;
  }

  /** The string literal whose prefix starts at `start` and whose quote is at `quoteAt`. */
  private stringAt(start: number, quoteAt: number, prefix: string): number {
    const text = this.text;
    const q = text.charCodeAt(quoteAt);
    const triple = text.charCodeAt(quoteAt + 1) === q && text.charCodeAt(quoteAt + 2) === q;
    const p = prefix.toLowerCase();
    const fstring = p.includes('f') || p.includes('t');
    const contentStart = quoteAt + (triple ? 3 : 1);
    const nested: StringLiteral[] = [];
    const s = scanString(text, contentStart, q, triple, fstring, p.includes('r'), nested);
    const quote = q === C_DQ ? '"' : "'";
    const literal: StringLiteral = { start, prefix, quote, triple, contentStart, contentEnd: s.contentEnd, end: s.end, terminated: s.terminated, oneLine: !triple && !s.multiLine, fstring, fields: s.fields };
    this.strings.push(literal);
    // a string in a replacement field is a one-line string of its own whose close the model predicts
    for (const str of [literal, ...nested]) if (str.oneLine) this.stringPoints.push(stringClosePoint(str));
    this.fieldStrings.push(...nested);
    return this.after(s.end, 'value');
  }

  /** The innermost open bracket was left unclosed: it ends at `at`. */
  private popUnclosed(at: number): void {
    const b = this.stack.pop()!;
    b.end = at;
    if ((b.kind === 'list' || b.kind === 'subscript') && b.lastCode > b.open + 1) {
      // no `]` yet: the answer is not written
      this.listPoints.push({ kind: 'list-close', offset: b.lastCode, from: b.lastCode, truth: null, construct: { start: b.open, end: b.end }, depth: b.depth, pending: true });
    }
    const top = this.stack[this.stack.length - 1];
    if (top && top.lastCode < b.lastCode) top.lastCode = b.lastCode;
  }

  /** Every open bracket ends unclosed at `at`. */
  private giveUp(at: number): void {
    while (this.stack.length) this.popUnclosed(at);
  }
}

function nextCode(text: string, i: number): number {
  while (i < text.length && (text.charCodeAt(i) === C_SP || text.charCodeAt(i) === C_TAB)) i++;
  return i;
}

/** Only spaces or tabs from `i`, then the line's end or the text's: the user has not written what follows yet. */
function nothingYet(text: string, i: number): boolean {
  const j = nextCode(text, i);
  const e = text.charCodeAt(j);
  return j >= text.length || e === C_NL || e === C_CR;
}

/**
 * A point whose code continues with neither of the task's answers is no point of the task (the
 * model's contrast there is between two continuations the code does not have); one with nothing
 * written after it yet is, without a truth (pending).
 */
function withTruthOrPending(point: TaskPoint, text: string, after: number): TaskPoint | undefined {
  if (point.truth !== null) return point;
  return nothingYet(text, after) ? { ...point, pending: true } : undefined;
}

function stringClosePoint(s: StringLiteral): TaskPoint {
  return { kind: 'string-close', offset: s.contentEnd, from: s.contentEnd, truth: s.quote === '"' ? 'double' : 'single', construct: { start: s.start, end: s.end }, answer: s.quote };
}

/**
 * The point of a closed list's or subscript's `]` when the document continues it with one of the
 * task's answers (`]`, a line end) or with nothing yet on its line (pending); undefined otherwise.
 */
function listClosePoint(text: string, b: MutableBracket, lastCode: number): TaskPoint | undefined {
  const at = b.close;
  const d = text.charCodeAt(at + 1);
  const truth: TruthLabel | null = d === 93 ? 'nested' : d === C_NL || d === C_CR ? 'flat' : null;
  // spaces or tabs between the last code and the `]` on the same line may be left out of the
  // predicting token (a BPE token like ` ],\n`); a `]` on a line of its own is predicted by the
  // token that ends right before it (its indentation)
  let from = at;
  while (from > lastCode && (text.charCodeAt(from - 1) === C_SP || text.charCodeAt(from - 1) === C_TAB)) from--;
  if (from !== lastCode) from = at;
  const point: TaskPoint = { kind: 'list-close', offset: at, from, truth, construct: { start: b.open, end: at + 1 }, answer: truth === 'nested' ? ']]' : truth === 'flat' ? ']\n' : undefined, depth: b.depth };
  return withTruthOrPending(point, text, at + 1);
}

function keywordTruePoint(text: string, keyword: string, kwStart: number, end: number): TaskPoint | undefined {
  const j = nextCode(text, end);
  const d = text.charCodeAt(j);
  let truth: TruthLabel | null = null;
  if (keyword === 'while' && d === 58 && text.charCodeAt(j + 1) !== 61) truth = 'colon';
  if (keyword === 'return' && j === end && (d === C_NL || d === C_CR)) truth = 'newline';
  const point: TaskPoint = { kind: 'keyword-true', offset: end, from: end, truth, construct: { start: kwStart, end }, answer: truth === 'colon' ? ':' : truth === 'newline' ? '\n' : undefined };
  return withTruthOrPending(point, text, end);
}

function namePoint(text: string, start: number, end: number): TaskPoint | undefined {
  let truth: TruthLabel | null = null;
  if (text.charCodeAt(end) === C_SP) {
    const j = nextCode(text, end);
    if (text.charCodeAt(j) === 61) truth = text.charCodeAt(j + 1) === 61 ? 'compare' : 'assign';
  }
  const point: TaskPoint = { kind: 'name-compare-assign', offset: end, from: end, truth, construct: { start, end }, answer: truth === 'compare' ? ' ==' : truth === 'assign' ? ' =' : undefined };
  return withTruthOrPending(point, text, end);
}

// ---------------------------------------------------------------------------------------------
// Queries

/** First index in `xs` (sorted by key) whose key is ≥ v. */
function lowerBound<T>(xs: readonly T[], v: number, key: (x: T) => number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(xs[mid]) < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The one-line string whose text the token [start, end) overlaps or ends at: a string nested in an
 * f-string's field first; a token wholly inside a field's code is code, not its f-string's text.
 */
function oneLineStringAt(map: ScopeMap, start: number, end: number): StringLiteral | undefined {
  const s = stringHolding(map.fieldStrings, start, end) ?? stringHolding(map.strings, start, end);
  return s && s.oneLine && !(end < s.contentEnd && s.fields.some((f) => f.start <= start && end <= f.end)) ? s : undefined;
}

/** Of `strings` (ordered by close), the one whose content the token overlaps or ends at. */
function stringHolding(strings: readonly StringLiteral[], start: number, end: number): StringLiteral | undefined {
  const k = lowerBound(strings, end, (s) => s.contentEnd);
  // the candidates are the string whose content ends at or after `end`, and the one before it when `end` sits on its close
  for (const s of [strings[k], strings[k - 1]]) {
    if (s && ((end > s.contentStart && start < s.contentEnd) || end === s.contentEnd)) return s;
  }
  return undefined;
}

/** Any string (one-line or not) whose content holds the token's start. */
function inAnyString(map: ScopeMap, start: number): boolean {
  const k = lowerBound(map.strings, start + 1, (s) => s.contentEnd);
  const s = map.strings[k];
  return !!s && s.contentStart <= start && start < s.contentEnd;
}

/** The lists and subscripts whose brackets hold [start, end) (after the `[`, up to the `]`), innermost first. */
function* listsAround(map: ScopeMap, start: number, end: number): Generator<BracketPair> {
  // every pair enclosing the span is an ancestor-or-self of the last pair opened before `start`
  let k = lowerBound(map.brackets, start, (b) => b.open) - 1;
  while (k >= 0) {
    const b = map.brackets[k];
    if (b.end >= end && (b.kind === 'list' || b.kind === 'subscript')) yield b;
    k = b.parent;
  }
}

/** Whether the task applies to the token at character span [start, end). No allocation; O(log n). */
export function applies(scope: TaskScope, map: ScopeMap, start: number, end: number): boolean {
  return scope.kind === 'anywhere' || locate(scope, map, start, end) !== null;
}

/**
 * The character ranges outside which no token is in a scope of one kind, whatever its region or
 * read_at: each point's predicting span (from its `from` to its offset) and its construct, widened by a
 * character on each side, merged, ascending ([starts[i], ends[i]], closed). Most tokens of a file
 * meet none, and ruling them out is one binary search on two arrays, against ~0.3–0.7 µs for the full
 * decision (predictedBy, enclosingPoint): a full analysis asks every circuit at every token.
 */
export interface ScopeReach {
  readonly starts: Int32Array;
  readonly ends: Int32Array;
}

export function scopeReach(points: readonly TaskPoint[]): ScopeReach {
  const spans = points.map((p) => [Math.min(p.from, p.construct.start) - 1, Math.max(p.offset, p.construct.end) + 1]).sort((a, b) => a[0] - b[0]);
  const starts: number[] = [];
  const ends: number[] = [];
  for (const [a, b] of spans) {
    const last = ends.length - 1;
    if (last >= 0 && a <= ends[last]) ends[last] = Math.max(ends[last], b);
    else {
      starts.push(a);
      ends.push(b);
    }
  }
  return { starts: Int32Array.from(starts), ends: Int32Array.from(ends) };
}

/** Whether the token at [start, end) meets a range of `reach`: false means out of the scope (applies would say so). */
export function withinReach({ starts, ends }: ScopeReach, start: number, end: number): boolean {
  // the last range starting at or before `end`: the ranges are disjoint and ascending, so no earlier one reaches further
  let lo = 0;
  let hi = starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid] <= end) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 && ends[lo - 1] >= start;
}

export interface TaskPointAt extends TaskPoint {
  /** True when this token is the one that predicts the point; false when it only lies inside the construct. */
  readonly here: boolean;
}

/**
 * The task point a token at [start, end) belongs to under `scope`: the one it predicts, or (region
 * `inside`) the one that closes the construct it lies in. Null where the task does not apply
 * (and for `anywhere`, which has no points).
 */
export function taskPoint(scope: TaskScope, map: ScopeMap, start: number, end: number): TaskPointAt | null {
  if (scope.kind === 'anywhere') return null;
  const predicted = predictedBy(scope, map.points[scope.kind], start, end);
  if (predicted) return { ...predicted, here: true };
  const around = enclosingPoint(scope, map, start, end);
  return around ? { ...around, here: false } : null;
}

/**
 * The point whose prediction the token at [start, end) makes, if any. By default the token that
 * ends right before the closer; with `read_at: closer`, the token that ends with the closer itself
 * (a point with no closer yet, an unclosed list, has no such token).
 */
function predictedBy(scope: TaskScope, points: readonly TaskPoint[], start: number, end: number): TaskPoint | undefined {
  if (scope.read_at === 'closer') {
    const p = points[lowerBound(points, end - 1, (x) => x.offset)];
    return p && p.offset === end - 1 && start <= p.offset && p.construct.end === p.offset + 1 ? p : undefined;
  }
  const p = points[lowerBound(points, end, (x) => x.offset)];
  return p && start < p.offset && end >= p.from && end <= p.offset ? p : undefined;
}

/** The offset of the character whose token's prediction answers point `p` (see predictedBy). */
export function predictionOffsetOf(scope: TaskScope, p: TaskPoint): number {
  return scope.read_at === 'closer' ? p.offset : Math.max(0, p.from - 1);
}

function locate(scope: TaskScope, map: ScopeMap, start: number, end: number): TaskPoint | null {
  if (scope.kind === 'anywhere') return null;
  return predictedBy(scope, map.points[scope.kind], start, end) ?? enclosingPoint(scope, map, start, end);
}

/** Region `inside`: the point that closes the construct the token at [start, end) lies in. */
function enclosingPoint(scope: TaskScope, map: ScopeMap, start: number, end: number): TaskPoint | null {
  if (scope.kind === 'anywhere' || regionOf(scope) !== 'inside') return null;
  const points = map.points[scope.kind];
  if (scope.kind === 'string-close') {
    const s = oneLineStringAt(map, start, end);
    if (!s) return null;
    const q = points[lowerBound(points, s.contentEnd, (x) => x.offset)];
    return q && q.offset === s.contentEnd ? q : null;
  }
  if (scope.kind === 'list-close') {
    if (inAnyString(map, start)) return null;
    // the innermost list around the token that is a point of the task (one whose `]` nothing of the task follows is not)
    for (const b of listsAround(map, start, end)) {
      // its point: at its `]`, or (unclosed) at the end of its last code, never past where it ends
      for (let k = lowerBound(points, b.close >= 0 ? b.close : b.open, (x) => x.offset); k < points.length && points[k].offset <= b.end; k++) {
        if (points[k].construct.start === b.open) return points[k];
      }
    }
    return null;
  }
  return null;
}

/**
 * name-compare-assign: the point of the name that the token at [start, end) is part of without
 * ending it (` node` of `node_link`, split into tokens). Only the name's last token predicts the
 * point, so such a token is not in the scope; a view can still say where the point is.
 */
export function nameAround(scope: TaskScope, map: ScopeMap, start: number, end: number): TaskPoint | undefined {
  if (scope.kind !== 'name-compare-assign') return undefined;
  const points = map.points[scope.kind];
  const p = points[lowerBound(points, end, (x) => x.offset)];
  // the token overlaps the name (it may take the space before it with it: ` node`) and ends inside it
  return p && start < p.offset && p.construct.start < end && end < p.offset ? p : undefined;
}

/** Every prediction point of a scope's task in the document, in order (none for `anywhere`). */
export function taskPoints(scope: TaskScope, map: ScopeMap): readonly TaskPoint[] {
  return scope.kind === 'anywhere' ? [] : map.points[scope.kind];
}
