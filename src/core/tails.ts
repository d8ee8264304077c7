// The tails of a bundle (manifest "tails", training/export.py TailInterface): graphs that take the same mask
// rows as model.onnx but apply mask row 0 alone before their first node location, so the model up to
// there runs once for all rows, and return the read logits without the bigram table's term (the same in
// every row). "Why this token?" runs its ablation rows through them (./discoverRoute). A bundle without
// tails runs every row through model.onnx, as before.
import { tailList } from '../schemas/tails';
import type { Bundle } from './bundle';
import { listedGraphs } from './bundleGraphs';
import type { TailStart } from './discoverRoute';

export interface Tail extends TailStart {
  readonly onnxPath: string;
}

/** The bundle's tails, by start; none for a bundle exported before them. */
export function bundleTails(bundle: Bundle): Tail[] {
  const last = bundle.model.n_layer - 1;
  const tails = listedGraphs(bundle, 'tails', tailList, (t) => t.from, 'a tail from').map(({ entry, loc, onnxPath }) => ({ from: entry.from, onnxPath, start: loc.offset, lastLayer: Number(entry.from.split('.')[0]) === last }));
  return tails.sort((a, b) => a.start - b.start);
}
