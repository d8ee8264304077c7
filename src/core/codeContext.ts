// Where in Python syntax an offset sits: inside a string literal, inside a list display. A light
// scanner (no parser) that is right for the single-line strings and bracket nesting the circuits
// are about; it skips comments and escapes, and treats triple-quoted strings as strings.
// Pure: no `vscode` import, so it is unit-tested in plain Node.

export interface StringSpan {
  /** Offset of the opening quote character(s). */
  readonly open: number;
  /** Offset of the closing quote character, or -1 when the string is not closed. */
  readonly close: number;
  readonly quote: '"' | "'";
  readonly triple: boolean;
}

export interface ListSpan {
  /** Offset of the `[` that opens the innermost list around the offset. */
  readonly open: number;
  /** Offset of its matching `]`, or -1. */
  readonly close: number;
  /** 1 for a top-level list, 2 inside a nested one, … */
  readonly depth: number;
}

interface ScanState {
  strings: StringSpan[];
  brackets: { open: number; close: number; depth: number }[];
}

/** One pass over `text`, recording every string literal and `[`…`]` pair (memoised on the text). */
let memo: { text: string; state: ScanState } | undefined;

function scan(text: string): ScanState {
  if (memo?.text === text) return memo.state;
  const strings: StringSpan[] = [];
  const brackets: { open: number; close: number; depth: number }[] = [];
  const stack: number[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (c === '"' || c === "'") {
      const triple = text.startsWith(c.repeat(3), i);
      const delim = triple ? c.repeat(3) : c;
      let j = i + delim.length;
      let close = -1;
      while (j < text.length) {
        if (text[j] === '\\') {
          j += 2;
          continue;
        }
        if (!triple && text[j] === '\n') break;
        if (text.startsWith(delim, j)) {
          close = j;
          break;
        }
        j++;
      }
      strings.push({ open: i, close, quote: c, triple });
      i = close === -1 ? j : close + delim.length;
      continue;
    }
    if (c === '[') stack.push(i);
    else if (c === ']' && stack.length) {
      const open = stack.pop() as number;
      brackets.push({ open, close: i, depth: stack.length + 1 });
    }
    i++;
  }
  for (const open of stack) brackets.push({ open, close: -1, depth: 0 });
  const state = { strings, brackets };
  memo = { text, state };
  return state;
}

/** Every string literal in `text`, in order. */
export function stringLiterals(text: string): readonly StringSpan[] {
  return scan(text).strings;
}

/** The string literal whose quotes enclose `offset` (between the quotes, or on either quote). */
export function stringAt(text: string, offset: number): StringSpan | undefined {
  for (const s of scan(text).strings) {
    const end = s.close === -1 ? text.indexOf('\n', s.open) : s.close + (s.triple ? 3 : 1);
    if (offset >= s.open && offset <= (end === -1 ? text.length : end)) return s;
  }
  return undefined;
}

/** The innermost `[`…`]` enclosing `offset` (inclusive of the brackets). */
export function listAt(text: string, offset: number): ListSpan | undefined {
  let best: ListSpan | undefined;
  const all = scan(text).brackets;
  // depth of an unclosed bracket is recomputed from the enclosing closed ones
  for (const b of all) {
    const close = b.close === -1 ? text.length : b.close;
    if (offset >= b.open && offset <= close && (!best || b.open > best.open)) {
      best = { open: b.open, close: b.close, depth: b.depth || 1 + all.filter((o) => o.open < b.open && (o.close === -1 || o.close > b.open)).length };
    }
  }
  return best;
}
