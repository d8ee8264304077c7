// bench: "where attention looks" (issue 19; target ≤ 50 ms after the cursor stops) at positions spread
// over the bench file's first 1,000 lines, as the editor computes it (./core/attention): every head of
// every layer (what the command's QuickPick lists), first in a window not read yet (one run per layer),
// then a few characters to the left, mostly in the same window (its q and k kept). One line of the notes.
import { median, timed } from './benchMeasure';
import { DocumentAnalyzer } from './core/analysis';
import { AttentionReader } from './core/attention';
import type { Bundle } from './core/bundle';
import { encodeDocument } from './core/documentReading';
import type { Runner } from './core/runner';

const POSITIONS = 12;
/** How far the cursor moves for the second reading, characters. */
const NUDGE = 6;

export async function attentionNote(b: Bundle, r: Runner, source: readonly string[], log: (line: string) => void): Promise<string> {
  if (b.manifest.attention === undefined) return 'the attention overlay is not timed: the bundle does not carry its attention parameters';
  const text = source.slice(0, 1000).join('\n') + '\n';
  const analyzer = new DocumentAnalyzer(b, r);
  const reader = new AttentionReader(b, r, (seq) => analyzer.windows(seq));
  const everyHead = (offset: number) => Promise.all(Array.from({ length: reader.layers }, (_, l) => reader.at(text, offset, l)));
  log('attention overlay…');
  await everyHead(0); // tokenizes the text once, as the first overlay in an unchanged file does
  // beside it, for scale on a shared machine: one forward pass of a full window as the highlights run it
  const ids = BigInt64Array.from([b.eotId, ...encodeDocument(b.tokenizer, text).ids.slice(0, b.context - 1)], (id) => BigInt(id));
  const pass = () => r.run({ ids, B: 1, T: ids.length, mask: new Float32Array(b.layout.count).fill(1), fill: b.means, watch: [], scoreFrom: 0, readIds: BigInt64Array.of(0n) });
  const cold: number[] = [];
  const warm: number[] = [];
  const forward: number[] = [];
  for (let k = 1; k <= POSITIONS; k++) {
    const offset = Math.floor((k * text.length) / (POSITIONS + 1));
    cold.push((await timed(() => everyHead(offset)))[1]);
    warm.push((await timed(() => everyHead(offset - NUDGE)))[1]);
    forward.push((await timed(pass))[1]);
  }
  const ms = (xs: number[]) => `${median(xs).toFixed(1)} ms (max ${Math.max(...xs).toFixed(1)})`;
  return `attention overlay after the cursor stops (every head of ${reader.layers} layers through ${reader.cone ? `the cone up to ${reader.cone}` : 'the full graph'}, ${POSITIONS} positions in the first 1,000 lines; target 50 ms): median ${ms(cold)} in a window not read yet, ${ms(warm)} ${NUDGE} characters to the left; one window's forward pass beside it ${ms(forward)}`;
}
