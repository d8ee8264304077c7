// Pure logic of a node's validation-corpus examples (training/node_examples.py): the order and
// labels of the rows, the summary line, and whitespace made visible. The circuit file stores raw
// text; only the display marks spaces, tabs and line ends.

import type { CircuitFile, NodeExample, NodeExamples } from '../schemas/circuit';

/** A run of text: `mark` runs are whitespace drawn as glyphs (shown muted). */
export interface Segment {
  readonly text: string;
  readonly mark: boolean;
}

/** `·` for a space, `⇥` for a tab, `⏎` for a line end (followed by the real break, so lines stay lines). */
const GLYPHS: Record<string, string> = { ' ': '\u00b7', '\t': '\u21e5', '\n': '\u23ce\n', '\r\n': '\u23ce\n', '\r': '\u23ce\n' };

export function visibleWhitespace(text: string): Segment[] {
  const out: Segment[] = [];
  for (const m of text.matchAll(/(\r\n|[ \t\r\n])+|[^ \t\r\n]+/g)) {
    const run = m[0];
    if (m[1] === undefined) out.push({ text: run, mark: false });
    else out.push({ text: run.replace(/\r\n|[ \t\r\n]/g, (c) => GLYPHS[c]), mark: true });
  }
  return out;
}

export interface ExampleRow {
  /** `top 1` … or `p90` … */
  readonly label: string;
  /** What the label means, for a tooltip. */
  readonly title: string;
  readonly example: NodeExample;
}

/** The top examples (largest first), then the quantile examples from the highest quantile down. */
export function exampleRows(ex: NodeExamples): ExampleRow[] {
  const top = ex.top.map((example, i) => ({ label: `top ${i + 1}`, title: `${ordinal(i + 1)} largest |activation| in the scanned text`, example }));
  const quantiles = [...ex.quantiles]
    .sort((a, b) => b.q - a.q)
    .map(({ q, example }) => ({
      label: `p${percent(q)}`,
      title: `${percent(q)}th percentile of |activation| over the tokens where this node is nonzero`,
      example,
    }));
  return [...top, ...quantiles];
}

/** `Active on 20.9% of 49,861 tokens of corpus_val.jsonl (384 windows).`; for examples without a share (OpenAI's stored samples), where they come from and that the share is not given. */
export function examplesSummary(ex: NodeExamples, source: CircuitFile['node_examples']): string {
  if (ex.nonzero === undefined) return `From ${source ? source.corpus : 'the scanned text'}; how often this node is active is not given.`;
  const share = `${(ex.nonzero * 100).toFixed(ex.nonzero > 0 && ex.nonzero < 0.001 ? 3 : 1)}%`;
  const where = source ? ` of ${source.tokens.toLocaleString('en-US')} tokens of ${source.corpus} (${source.windows} windows)` : ' of the scanned tokens';
  return ex.nonzero === 0 ? `Never active in the ${source ? `${source.tokens.toLocaleString('en-US')} ` : ''}tokens scanned.` : `Active on ${share}${where}.`;
}

/**
 * Where an example comes from, short: the corpus's own prefix (`stdlib/`, `site-packages/`, a
 * `wheel:…whl/`) dropped, then the package and the file name: `pygments/…/sas.py:133`,
 * `torch/__init__.py:128`. The full path goes in a tooltip.
 */
export function exampleSource(e: NodeExample): string {
  const parts = e.file.split('/').filter((p) => p !== '');
  while (parts.length > 1 && (parts[0] === 'stdlib' || parts[0] === 'site-packages' || parts[0].startsWith('wheel:'))) parts.shift();
  const short = parts.length <= 2 ? parts.join('/') : `${parts[0]}/\u2026/${parts[parts.length - 1]}`;
  return `${short}:${e.line}`;
}

function percent(q: number): string {
  return String(Math.round(q * 1000) / 10);
}

function ordinal(n: number): string {
  return n === 1 ? '1st' : n === 2 ? '2nd' : n === 3 ? '3rd' : `${n}th`;
}
