// bench: "Why this token?" (issue 19; target ≤ 2 s a position for the shipped model on 2 cores) at
// three positions of the bench file's first 1,000 lines — a string that closes, a list that closes, a
// keyword — as the editor and the CLI run it (./core/discoverAt), reported as one line of the notes. A
// bundle with tail graphs is timed twice: with them, and with every row through model.onnx, as a bundle
// without them runs (the circuits must be the same).
import { median } from './benchMeasure';
import { DocumentAnalyzer } from './core/analysis';
import type { Bundle } from './core/bundle';
import type { MaskRunner } from './core/discover';
import { type Discovery, discoverAt } from './core/discoverAt';
import type { Runner } from './core/runner';

/** Each probe's match ends on the last character of the token whose next-token prediction is explained. */
const PROBES: readonly { readonly kind: string; readonly at: RegExp }[] = [
  { kind: 'string close', at: /"[A-Za-z_ ]{3,20}(?="[,)])/ },
  { kind: 'list close', at: /\[[A-Za-z0-9_, ]{3,30}(?=\])/ },
  { kind: 'keyword', at: /for [a-z_]+(?= in )/ },
];

interface Timed {
  readonly kind: string;
  readonly s: number;
  readonly rows: number;
  readonly nodes: number;
}

/**
 * The same nodes with attributions that agree to the 4 decimals a Discovery is rounded to (one step of
 * rounding apart at most). Compared as sets: two nodes one rounding step apart may swap places.
 */
function sameCircuit(a: Discovery, b: Discovery): boolean {
  const other = new Map(b.nodes.map((n) => [n.id, n.attribution]));
  return a.nodes.length === b.nodes.length && a.nodes.every((n) => other.has(n.id) && Math.abs(n.attribution - (other.get(n.id) ?? NaN)) <= 1.0001e-4);
}

export async function discoveryNote(b: Bundle, r: Runner, source: readonly string[], log: (line: string) => void): Promise<string> {
  if (b.manifest.mask_rows !== true) return '"Why this token?" is not timed: the bundle was exported before mask rows';
  const text = source.slice(0, 1000).join('\n') + '\n';
  const analyzer = new DocumentAnalyzer(b, r);
  const modelOnly: MaskRunner = { run: (input) => r.run(input), parallelism: r.parallelism };
  const paths: readonly [string, MaskRunner][] = r.tails.length ? [['tail graphs', r], ['model.onnx only', modelOnly]] : [['model.onnx', r]];
  const runs = new Map<string, Timed[]>(paths.map(([name]) => [name, []]));
  let same = true;
  for (const { kind, at } of PROBES) {
    const m = at.exec(text);
    if (!m) continue;
    const found: Discovery[] = [];
    for (const [name, runner] of paths) {
      log(`discover: ${kind} (${name})…`);
      const d = await discoverAt(b, runner, (seq) => analyzer.windows(seq), text, m.index + m[0].length - 1);
      runs.get(name)?.push({ kind, s: d.ms / 1000, rows: d.rows, nodes: d.nodes.length });
      found.push(d);
    }
    same &&= found.every((d) => sameCircuit(d, found[0]));
  }
  const line = (name: string, xs: readonly Timed[]) =>
    `${name}: median ${median(xs.map((x) => x.s)).toFixed(1)} s a position — ` + xs.map((x) => `${x.kind} ${x.s.toFixed(1)} s, ${x.rows.toLocaleString('en-US')} passes, ${x.nodes} nodes`).join('; ');
  const each = [...runs].map(([name, xs]) => line(name, xs)).join('. ');
  const agree = paths.length > 1 ? (same ? ' (the same circuits both ways)' : ' (THE CIRCUITS DIFFER between the two ways)') : '';
  return `"Why this token?" (first 1,000 lines, target 2 s a position): ${each}${agree}`;
}
