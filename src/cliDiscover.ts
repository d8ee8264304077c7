// `circuit-inspector discover FILE --at L:C`: the circuit behind one prediction (core/discoverAt),
// as JSON or in words.
import * as fs from 'fs';
import { type Args, DEFAULT_MAX_BYTES, emit, ModelError, NoCircuitError, offsetOf, openCliModel, parseBytes, providerOf, readSource, UsageError, windowTokensOf } from './cli';
import { DocumentAnalyzer } from './core/analysis';
import { BundleError } from './core/bundle';
import { type Discovery, discoverAt, NoReadableCircuit } from './core/discoverAt';
import { toCircuitFile } from './core/foundCircuit';
import { parseNodeId } from './core/nodes';
import { OUTPUT_NODE } from './core/nodeWeights';
import { tokenCode } from './core/readoutText';
import { fullWords, onlyWords, withoutWords } from './core/shareWords';

export async function discover(args: Args): Promise<void> {
  const { positional, opts } = args;
  if (positional.length !== 1) throw new UsageError('discover needs exactly one FILE');
  if (!opts.has('--at')) throw new UsageError('discover needs --at LINE:COL');
  const mode = String(opts.get('--mode') ?? 'mean');
  if (mode !== 'mean' && mode !== 'zero') throw new UsageError('--mode must be mean or zero');
  const keep = Number(opts.get('--keep') ?? 0.8);
  if (!(keep > 0 && keep <= 1)) throw new UsageError('--keep must be a share of the logit difference above 0 and at most 1, e.g. 0.8');
  const windowTokens = windowTokensOf(opts);
  const text = readSource(positional[0], opts.has('--max-bytes') ? parseBytes(String(opts.get('--max-bytes'))) : DEFAULT_MAX_BYTES);
  const at = offsetOf(text, String(opts.get('--at')));
  const str = (name: string) => (opts.has(name) ? String(opts.get(name)) : undefined);
  const { bundle, runner } = await openCliModel(opts, providerOf(opts));
  try {
    const analyzer = new DocumentAnalyzer(bundle, runner, { windowTokens });
    let found: Discovery;
    try {
      found = await discoverAt(bundle, runner, (seq) => analyzer.windows(seq), text, at, { target: str('--target'), alt: str('--alt'), mode, keep, average: opts.has('--average'), everyNode: opts.has('--every-node') });
    } catch (e) {
      // a contrast the vocabulary cannot express is the user's to fix; anything else is a failure
      if (e instanceof Error && /not one token|same token|same logit/.test(e.message)) throw new UsageError(e.message);
      if (e instanceof BundleError) throw new ModelError(e.message);
      if (e instanceof NoReadableCircuit) throw new NoCircuitError(e.message);
      throw e;
    }
    if (opts.has('--save')) fs.writeFileSync(String(opts.get('--save')), JSON.stringify(toCircuitFile(found, bundle), null, 1) + '\n');
    await emit(opts.has('--json') ? JSON.stringify({ model: bundle.name, ...found }) + '\n' : inWords(found));
  } finally {
    await runner.dispose();
  }
}

/** Nodes outside the circuit listed in words with --every-node. */
const EVERY_NODE_SHOWN = 10;

const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)}`;
const pct = (x: number) => `${Math.round(100 * x)} %`;

/** The human form: the contrast, the full model, what the circuit keeps and costs, its nodes. */
export function inWords(d: Discovery): string {
  const q = (t: { text: string }) => tokenCode(t.text);
  const into = d.edges.filter((e) => e.target === OUTPUT_NODE).length;
  let out = `at ${d.position.line}:${d.position.col} after ${tokenCode(d.position.token)}: ${q(d.target)} vs ${q(d.alt)}${d.actual ? ` (the code has ${q(d.actual)})` : ''}\n`;
  if (d.averaged) out += `averaged over ${d.averaged.positions.length} position${d.averaged.positions.length === 1 ? '' : 's'} of ${tokenCode(d.position.token)} followed by ${q(d.target)}: ${d.averaged.positions.map((p) => `${p.line}:${p.col}`).join(', ')}\n`;
  const pref = { full: d.full.logit_diff, target: d.target.text, alt: d.alt.text };
  out += `full model: logit difference ${signed(d.full.logit_diff)} (P ${d.full.p_target.toFixed(3)} vs ${d.full.p_alt.toFixed(3)}): ${fullWords(pref)}\n`;
  // a query or key channel moves the output through where its head attends, which no weight edge shows
  const steering = d.nodes.filter((n) => {
    const p = parseNodeId(n.id);
    return p?.kind === 'attn' && (p.site === 'q' || p.site === 'k');
  }).length;
  const which = steering === d.nodes.length ? (steering === 1 ? 'it is' : 'all of them are') : `${steering} of them ${steering === 1 ? 'is' : 'are'}`;
  const steers = steering ? `; ${which} ${steering === 1 ? 'a query or key channel, which acts on the output through where its head attends' : 'query or key channels, which act on the output through where their heads attend'}, not through weight edges` : '';
  const edges = d.nodes.length === 1 ? `${into} edge${into === 1 ? '' : 's'} into the output` : `${d.edges.length - into} edges between them and ${into} into the output`;
  out += `circuit: ${d.nodes.length} node${d.nodes.length === 1 ? '' : 's'}, ${edges}${steers}\n`;
  out += `  circuit only (everything else ${d.mode}-ablated): ${signed(d.circuit_only.logit_diff)}, keeps ${pct(d.circuit_only.kept)}\n    ${onlyWords(pref, d.circuit_only.logit_diff, { diff: d.all_ablated.logit_diff, mode: d.mode })}\n`;
  out += `  without the circuit (its nodes ${d.mode}-ablated): ${signed(d.without_circuit.logit_diff)}, keeps ${pct(d.without_circuit.kept)}\n    ${withoutWords(pref, d.without_circuit.logit_diff)}\n`;
  for (const n of d.nodes) out += `  ${n.id.padEnd(22)} ${signed(n.attribution).padStart(7)}${n.label !== n.id ? `  ${n.label}` : ''}\n`;
  if (d.every_node) {
    const inCircuit = new Set(d.nodes.map((n) => n.id));
    const outside = d.every_node.filter((n) => !inCircuit.has(n.id));
    out += `every node ablated alone (--every-node; all ${d.every_node.length.toLocaleString('en-US')} in the JSON): the ${Math.min(EVERY_NODE_SHOWN, outside.length)} that move the difference most outside the circuit\n`;
    for (const n of outside.slice(0, EVERY_NODE_SHOWN)) out += `  ${n.id.padEnd(22)} ${signed(n.attribution).padStart(7)}\n`;
  }
  return out + `found in ${(d.ms / 1000).toFixed(1)} s (${d.rows.toLocaleString('en-US')} forward passes)\n`;
}
