// bench: "Why this token?" (issue 19; target ≤ 2 s a position for the shipped model on 2 cores) at
// three positions of the bench file's first 1,000 lines — a string that closes, a list that closes, a
// keyword — as the editor and the CLI run it (./core/discoverAt), reported as one line of the notes.
import { median } from './benchMeasure';
import { DocumentAnalyzer } from './core/analysis';
import type { Bundle } from './core/bundle';
import { discoverAt } from './core/discoverAt';
import type { Runner } from './core/runner';

/** Each probe's match ends on the last character of the token whose next-token prediction is explained. */
const PROBES: readonly { readonly kind: string; readonly at: RegExp }[] = [
  { kind: 'string close', at: /"[A-Za-z_ ]{3,20}(?="[,)])/ },
  { kind: 'list close', at: /\[[A-Za-z0-9_, ]{3,30}(?=\])/ },
  { kind: 'keyword', at: /for [a-z_]+(?= in )/ },
];

export async function discoveryNote(b: Bundle, r: Runner, source: readonly string[], log: (line: string) => void): Promise<string> {
  if (b.manifest.mask_rows !== true) return '"Why this token?" is not timed: the bundle was exported before mask rows';
  const text = source.slice(0, 1000).join('\n') + '\n';
  const analyzer = new DocumentAnalyzer(b, r);
  const runs: { kind: string; s: number; rows: number; nodes: number }[] = [];
  for (const { kind, at } of PROBES) {
    const m = at.exec(text);
    if (!m) continue;
    log(`discover: ${kind}…`);
    const d = await discoverAt(b, r, (seq) => analyzer.windows(seq), text, m.index + m[0].length - 1);
    runs.push({ kind, s: d.ms / 1000, rows: d.rows, nodes: d.nodes.length });
  }
  const each = runs.map((x) => `${x.kind} ${x.s.toFixed(1)} s, ${x.rows.toLocaleString('en-US')} passes, ${x.nodes} nodes`).join('; ');
  return `"Why this token?" (first 1,000 lines): median ${median(runs.map((x) => x.s)).toFixed(1)} s a position (target 2 s) — ${each}`;
}
