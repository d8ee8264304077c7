// Notebook cells as the model reads them (issue 19): a Python cell is analysed after the Python
// cells above it, the way a kernel that ran them in order has seen them. The model reads one text,
// so the cells are joined into a script, like `jupyter nbconvert --to script` without its
// `# In[ ]:` markers:
// - code cells in notebook order, each with its trailing whitespace dropped and followed by
//   CELL_SEPARATOR (a blank line, the usual gap between top-level blocks of a script); empty cells
//   add nothing;
// - markdown and raw cells, cells of another language and cells run by a non-Python cell magic
//   (`%%bash`, `%%html`, `%%writefile`, …) are left out: the kernel does not run them as Python;
// - IPython's own syntax, a line magic (`%timeit f()`), a cell-magic line (`%%time`) or a shell
//   escape (`!pip install x`), is read as a comment: its first character becomes `#`. The kernel
//   does not run these lines as Python either, and replacing one character keeps every offset.
// - only the nearest cells above are read, whole, until MAX_CONTEXT_CHARS: the model reads 256
//   tokens back, and a cell at the end of a long notebook would otherwise cost the analysis of the
//   whole notebook above it when it is first shown (measured below MAX_CONTEXT_CHARS).
// The analysed text is the left context followed by the cell (asPython); an offset o in the cell
// is o + context.length in it.

/** What the model reads between two cells. */
export const CELL_SEPARATOR = '\n\n';

export interface CellSource {
  /** A code cell (markdown and raw cells are text for people). */
  readonly code: boolean;
  /** The cell's language id ('python' for a Python cell). */
  readonly language: string;
  readonly text: string;
}

/** A [start, end) range of UTF-16 offsets, a token's for one. */
export interface Span {
  readonly start: number;
  readonly end: number;
}

/**
 * Characters of the cells above that the model reads at most: about 4,000 tokens of code, 15 times
 * the shipped model's 256-token context, so the windows that score the cell's tokens (content-
 * defined: core/windows, which look at most a few hundred tokens back) are the ones the whole
 * notebook would give. The cells are cut only between cells, where Python's lexer state is the top
 * level again (a cut inside a triple-quoted string would turn every later string inside out).
 * Measured on a notebook of 80 cells of 25 lines (bench/stdlib-5000.py's first 2,000 lines), its
 * last cell: 2.9 s cold and 0.5 s after an edit in it, against 7.9 s and 0.6 s after all 72,000
 * characters above it (the shared 2-core machine, busy).
 */
export const MAX_CONTEXT_CHARS = 16_000;

/** Cell magics that still run the cell's body as Python (timing it, capturing its output, profiling it). */
const PYTHON_CELL_MAGICS = new Set(['time', 'timeit', 'capture', 'prun', 'debug']);

/** Whether the kernel runs the cell as Python: a Python code cell not handed to another program by a cell magic. */
export function isPythonCell(cell: CellSource): boolean {
  if (!cell.code || cell.language !== 'python') return false;
  const magic = /^\s*%%(\w+)/.exec(cell.text);
  return magic === null || PYTHON_CELL_MAGICS.has(magic[1]);
}

/**
 * `text` with every IPython magic (`%name`, `%%name`) and shell escape (`!cmd`, not `!=`) at the
 * start of a line turned into a comment, its first character replaced by `#`: the same length, so
 * offsets into it are offsets into `text`.
 */
export function asPython(text: string): string {
  return text.replace(/^([ \t]*)(?:%(?=[%\w])|!(?!=))/gm, '$1#');
}

/**
 * The text the model reads before cell `index` of `cells`: the Python cells above it, each followed
 * by CELL_SEPARATOR, the nearest first until `maxChars` is reached (the cell that reaches it whole).
 */
export function leftContext(cells: readonly CellSource[], index: number, maxChars = MAX_CONTEXT_CHARS): string {
  const pieces: string[] = [];
  for (let i = index - 1, length = 0; i >= 0 && length < maxChars; i--) {
    const text = isPythonCell(cells[i]) ? asPython(cells[i].text).trimEnd() : '';
    if (text.length === 0) continue;
    pieces.push(text + CELL_SEPARATOR);
    length += text.length + CELL_SEPARATOR.length;
  }
  return pieces.reverse().join('');
}

/** What the model reads for a cell whose text is `text`, after `context` (leftContext). */
export function joinedText(context: string, text: string): string {
  return context + asPython(text);
}

/**
 * Spans of the joined text that reach into the cell (which starts at `shift`), in the cell's
 * offsets; one that starts in the separator before the cell (a token of newlines and the cell's
 * indent) is clipped to the cell's start.
 */
export function spansInCell<T extends Span>(spans: readonly T[], shift: number): T[] {
  return spans.filter((s) => s.end > shift).map((s) => ({ ...s, start: Math.max(0, s.start - shift), end: s.end - shift }));
}

/** The number of lines of `context` (leftContext ends with a newline, so the cell's line 1 is the joined text's line lines + 1). */
export function linesBefore(context: string): number {
  let n = 0;
  for (let k = context.indexOf('\n'); k >= 0; k = context.indexOf('\n', k + 1)) n++;
  return n;
}
