// The bench report as a table, with the issues' speed and memory targets checked against it.
import type { BenchReport } from './bench';

const fmt = (x: number | null, digits = 0): string => (x === null ? '—' : x.toFixed(digits));
const check = (ok: boolean | undefined): string => (ok === undefined ? 'n/a' : ok ? 'met' : 'MISSED');

/** The report as a table, with the issue's targets checked against it. */
export function formatBench(rep: BenchReport): string {
  const head = ['case', 'tokens', 'windows', 'analyze ms', 'first screen ms', 'highlights ms', 'highlights/analyze', 'forward ms', 'onnxruntime ms', 'forward/onnxruntime', 'torch ms', 'forward/torch', 'limit ms', '× of the limit', 'ablate ms', 'edit ms', 'edit windows', 'RSS MB', 'peak RSS MB'];
  const rows = rep.cases.map((c) => [c.name, String(c.tokens), String(c.windows), fmt(c.analyze_ms), fmt(c.visible_ms), fmt(c.highlights_ms), fmt(c.highlights_vs_analyze, 2), fmt(c.forward_ms), fmt(c.onnxruntime_ms), fmt(c.ratio_vs_onnxruntime, 2), fmt(c.torch_ms), fmt(c.ratio_vs_torch, 2), fmt(c.limit_ms, 1), fmt(c.x_of_limit, 1), fmt(c.ablate_ms, 1), fmt(c.edit_ms, 1), `${c.edit_windows[0]} (max ${c.edit_windows[1]})`, fmt(c.rss_mb), fmt(c.peak_rss_mb)]);
  const k = rep.cases.find((c) => c.lines === 1000);
  const ratios = rep.cases.map((c) => c.ratio_vs_torch).filter((x): x is number => x !== null);
  const limits = rep.cases.map((c) => c.x_of_limit).filter((x): x is number => x !== null);
  return [
    `Circuit Inspector bench — ${rep.machine.cpu}, ${rep.machine.cores} cores, ${rep.machine.provider} (${rep.machine.kernels}), onnxruntime-node ${rep.machine.onnxruntime_node}, ${rep.machine.node}`,
    `session load ${fmt(rep.load_ms)} ms; RSS growth with the model and one analysis held ${fmt(rep.rss_growth_mb)} MB` +
      (rep.rss_growth_after_discovery_mb === null ? '' : `, after the "Why this token?" discoveries ${fmt(rep.rss_growth_after_discovery_mb)} MB`),
    '',
    ...table(head, rows),
    '',
    ...formatLimit(rep),
    '',
    ...formatCone(rep),
    'targets:',
    `  first analysis of 1,000 lines ≤ 300 ms: ${k ? `${fmt(k.analyze_ms)} ms, ${check(k.analyze_ms <= 300)} (its first screen: ${fmt(k.visible_ms)} ms)` : 'n/a'}`,
    `  whole-file highlights of 1,000 lines ≤ 250 ms cold: ${k ? `${fmt(k.highlights_ms)} ms (${fmt(k.highlights_vs_analyze, 2)} × the full analysis; first screen ${fmt(k.highlights_visible_ms)} ms), ${check(k.highlights_ms <= 250)}; the cone it runs: ${k.cone ?? 'none in the bundle (the full graph)'}` : 'n/a'}`,
    `  forward passes ≤ 0.5 × PyTorch on the same inputs: ${ratios.length ? `${ratios.map((x) => x.toFixed(2)).join(' / ')}, ${check(ratios.every((x) => x <= 0.5))}` : 'n/a (no PyTorch)'}`,
    `  forward within 4× of the sparse limit: ${limits.length ? `${limits.map((x) => x.toFixed(1)).join(' / ')}×, ${check(limits.every((x) => x <= 4))}` : 'n/a (limit not computed)'}`,
    `  ablation re-run ≤ 20 ms: ${rep.cases.map((c) => fmt(c.ablate_ms, 1)).join(' / ')} ms, ${check(rep.cases.every((c) => c.ablate_ms <= 20))}`,
    `  one-character edit recomputes ≤ 2 windows: median ${rep.cases.map((c) => c.edit_windows[0]).join(' / ')}, max ${rep.cases.map((c) => c.edit_windows[1]).join(' / ')}, ${check(rep.cases.every((c) => c.edit_windows[1] <= 2))}`,
    `  RSS growth ≤ 300 MB: ${fmt(rep.rss_growth_mb)} MB, ${check(rep.rss_growth_mb <= 300)}`,
    ...cliTargets(rep),
    ...formatScaling(rep),
    ...rep.notes.map((n) => `note: ${n}`),
  ].join('\n');
}

/** The multiply-adds behind the limit column: per case dense, nonzero, their ratio. */
function formatLimit(rep: BenchReport): string[] {
  const M = (x: number | null) => (x === null ? '—' : (x / 1e6).toFixed(0));
  const G = (x: number) => (x / 1e6).toFixed(1);
  const head = ['case', 'dense M multiply-adds', 'nonzero M multiply-adds', 'dense/nonzero', 'forward ms', 'dense G/s', 'limit ms', '× of the limit'];
  const rows = rep.cases.map((c) => [c.name, M(c.dense_macs), M(c.nonzero_macs), c.dense_macs && c.nonzero_macs ? (c.dense_macs / c.nonzero_macs).toFixed(1) : '—', fmt(c.forward_ms), G(c.dense_macs_per_ms), fmt(c.limit_ms, 1), fmt(c.x_of_limit, 1)]);
  const [low, high] = rep.dense_macs_per_ms_range;
  return [
    `the sparsity limit: nonzero weights × kept activations at the dense MatMul throughput on ${rep.machine.cores} cores, timed before and after each of the passes' replays: median ${G(rep.dense_macs_per_ms)} G multiply-adds/s (${G(low)}–${G(high)}); × of the limit is the median over replays of replay ms ÷ the limit at its own moment (docs/BENCHMARKS.md, "The limit"):`,
    ...table(head, rows),
  ];
}

/** The highlight pass's forward passes through the quote circuit's cone beside the full graph's (./benchCone). */
function formatCone(rep: BenchReport): string[] {
  const withCone = rep.cases.filter((c) => c.cone !== null);
  if (!withCone.length) return ['the highlight pass through a cone: the bundle has no cone that covers the quote circuit\'s firing nodes (re-export it with training/export.py)', ''];
  const head = ['case', 'cone up to', 'forward ms', 'firing nodes ms', 'cone ms', 'cone/firing', 'cone/forward', 'cone/torch', 'cone limit ms', 'cone × of the limit'];
  const rows = withCone.map((c) => [c.name, c.cone ?? '', fmt(c.forward_ms), fmt(c.firing_ms), fmt(c.cone_ms), fmt(c.cone_vs_firing, 2), fmt(c.cone_vs_forward, 2), fmt(c.cone_vs_torch, 2), fmt(c.cone_limit_ms, 1), fmt(c.cone_x_of_limit, 1)]);
  return [
    "the highlight pass through a cone: the same windows as forward ms with only the firing nodes of the circuits shown by default watched, through the full graph (firing nodes ms) and through the smallest cone that computes them (cone ms); replays alternate:",
    ...table(head, rows),
    '',
  ];
}

function cliTargets(rep: BenchReport): string[] {
  const line = rep.cli.find((c) => c.name.includes('line'));
  const big = rep.cli.find((c) => c.name.includes('10 MB'));
  const out: string[] = [];
  if (rep.refusal_ms !== null) out.push(`  CLI refuses a 10 MB file at the default --max-bytes in < 1 s: ${fmt(rep.refusal_ms)} ms, ${check(rep.refusal_ms < 1000)}`);
  if (line) out.push(`  CLI analyses a 1 MB line in ≤ 30 s: ${fmt(line.seconds, 1)} s, ${check(line.exit === 0 && line.seconds <= 30)}`);
  if (big) out.push(`  CLI --jsonl on a 10 MB file: RSS ≤ 400 MB: ${fmt(big.peak_rss_mb)} MB in ${fmt(big.seconds)} s, ${check(big.exit === 0 && big.peak_rss_mb !== null && big.peak_rss_mb <= 400)}`);
  return out;
}

function formatScaling(rep: BenchReport): string[] {
  if (!rep.scaling.length) return [];
  const head = ['input', 'bytes', 'tokens', 'tokenize ms', 'windows ms', 'ms per MB', '× first of kind'];
  const rows = rep.scaling.map((r) => [r.name, r.bytes.toLocaleString('en-US'), r.tokens.toLocaleString('en-US'), fmt(r.tokenize_ms), fmt(r.windows_ms, 1), fmt(((r.tokenize_ms + r.windows_ms) * 1e6) / r.bytes), fmt(r.per_byte_ratio, 2)]);
  const out = ['', 'scaling of the steps before the model (tokenize, plan windows); per-byte cost against the smallest input of its kind, 1.00 = linear:', ...table(head, rows)];
  if (rep.cli.length) {
    const cliHead = ['CLI analyze --jsonl', 'bytes', 'exit', 's', 'tokens', 'tokens/s', 'peak RSS MB'];
    const cliRows = rep.cli.map((c) => [c.name, c.bytes.toLocaleString('en-US'), String(c.exit), fmt(c.seconds, 1), c.tokens === null ? '—' : c.tokens.toLocaleString('en-US'), fmt(c.tokens_per_s), fmt(c.peak_rss_mb)]);
    const [line, big] = [rep.cli[0], rep.cli[1]];
    out.push('', ...table(cliHead, cliRows));
    if (line?.tokens_per_s && big?.tokens_per_s) out.push(`tokens/s of the 10 MB file ÷ the 1 MB line: ${(big.tokens_per_s / line.tokens_per_s).toFixed(2)}`);
  }
  return out;
}

/** Rows under a header, columns padded (the first left-aligned). */
function table(head: readonly string[], rows: readonly string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), ...rows.map(line)];
}
