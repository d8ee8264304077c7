// A circuit found by "Why this token?" (./discoverAt) as a circuit file in the bundle format
// (docs/bundle-format.md), so that it can be saved, shared, shown in the panel and read back by
// `analyze --ablate/--only @FILE`. The contrast, the position and the evidence travel in "found".
import { circuitFile, type CircuitFile } from '../schemas/circuit';
import { parse } from '../schemas/validate';
import type { Bundle } from './bundle';
import type { Discovery } from './discoverAt';
import { OUTPUT_NODE } from './nodeWeights';
import { parseNodeId } from './nodes';
import { tokenCode } from './readoutText';
import { fullWords, onlyWords, withoutWords } from './shareWords';

export type FoundCircuitFile = CircuitFile & { readonly found: Omit<Discovery, 'nodes' | 'edges' | 'top'> };

export function toCircuitFile(d: Discovery, bundle: Bundle): FoundCircuitFile {
  const { line, col, token } = d.position;
  const largest = Math.max(...d.nodes.map((n) => Math.abs(n.attribution)), 1e-9);
  const nodes = d.nodes.map((n) => {
    const p = parseNodeId(n.id);
    if (!p) throw new RangeError(`found circuit: ${n.id} is not a node id`);
    const flat = bundle.layout.flat(n.id) as number;
    const moved = `${n.attribution >= 0 ? 'lowers' : 'raises'} the preference for ${tokenCode(d.target.text)} over ${tokenCode(d.alt.text)} by ${Math.abs(n.attribution).toFixed(2)} nats`;
    return {
      id: n.id,
      layer: p.layer,
      site: `${p.kind}.${p.site}`,
      index: p.index,
      flat,
      label: n.label,
      meaning: `Ablating it alone (${d.mode}) ${moved} at ${line}:${col}.`,
      mean: bundle.means[flat],
      importance: Math.round((Math.abs(n.attribution) / largest) * 1e4) / 1e4,
    };
  });
  const edges = d.edges.filter((e) => e.target !== OUTPUT_NODE);
  const pref = { full: d.full.logit_diff, target: d.target.text, alt: d.alt.text };
  const file = {
    task: `found_${line}_${col}_${d.target.id}_vs_${d.alt.id}`,
    // the panel's title: tokens as the hover, the panel and the status bar show them
    title: `found at ${line}:${col} for ${tokenCode(d.target.text)} vs ${tokenCode(d.alt.text)}`,
    description: `The nodes behind the model's preference for ${tokenCode(d.target.text)} over ${tokenCode(d.alt.text)} after ${tokenCode(token)} at ${line}:${col}, found by ablating each node alone (${d.mode}): ${fullWords(pref)}; ${onlyWords(pref, d.circuit_only.logit_diff, { diff: d.all_ablated.logit_diff, mode: d.mode })} (keeps ${Math.round(100 * d.circuit_only.kept)} % of the logit difference); ${withoutWords(pref, d.without_circuit.logit_diff)} (leaves ${Math.round(100 * d.without_circuit.kept)} %).`,
    classes: [
      { label: d.target.text, tokens: [d.target] },
      { label: d.alt.text, tokens: [d.alt] },
    ],
    nodes,
    edges,
    key_nodes: nodes.slice(0, 3).map((n) => n.id),
    metrics: {
      logit_diff_model: d.full.logit_diff,
      logit_diff_circuit: d.circuit_only.logit_diff,
      logit_diff_without_circuit: d.without_circuit.logit_diff,
      logit_diff_recovered: d.circuit_only.kept,
      n_nodes: nodes.length,
      n_edges: edges.length,
    },
  };
  const found = { position: d.position, target: d.target, alt: d.alt, actual: d.actual, mode: d.mode, full: d.full, all_ablated: d.all_ablated, circuit_only: d.circuit_only, without_circuit: d.without_circuit, rows: d.rows, ms: d.ms, ...(d.averaged ? { averaged: d.averaged } : {}) };
  return { ...parse(circuitFile, file, 'found circuit'), found }; // what is written loads as a circuit file
}
