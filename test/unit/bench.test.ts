import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { runBench } from '../../src/bench';
import { formatBench } from '../../src/benchFormat';

const root = path.resolve(__dirname, '..', '..', '..');
const modelsDir = path.join(root, 'models');
const shippedName = fs.existsSync(modelsDir) ? fs.readdirSync(modelsDir).sort().find((d) => fs.existsSync(path.join(modelsDir, d, 'manifest.json'))) : undefined;
const noBundle = shippedName ? false : 'no model bundle under models/ (made by training/pipeline.sh)';

// Timings are the benchmark's business, never asserted here: this checks that one small case runs
// end to end on the real model and that the report is consistent with itself.
test('bench: a 60-line case runs every measurement and the report holds together', { skip: noBundle }, async () => {
  const rep = await runBench({ root, bundleDir: path.join(modelsDir, shippedName!), provider: 'cpu', runs: 1, sizes: [60], scaling: { line: [4000, 12000], identifier: [3000], file: [20000] }, cli: path.join(root, 'bin/circuit-inspector.js') });
  assert.equal(rep.cases.length, 1);
  const c = rep.cases[0];
  assert.equal(c.lines, 60);
  assert.ok(c.tokens > 300 && c.windows >= 2, `${c.tokens} tokens in ${c.windows} windows`);
  for (const ms of [c.analyze_ms, c.visible_ms, c.forward_ms, c.ablate_ms, c.edit_ms, rep.load_ms]) assert.ok(Number.isFinite(ms) && ms > 0);
  assert.ok(c.visible_ms <= c.analyze_ms, 'the first screen is part of the analysis');
  assert.ok(c.rss_mb > 0 && c.rss_mb <= c.peak_rss_mb + 1);
  assert.equal(rep.rss_growth_after_discovery_mb, null, 'with sizes given, the discoveries (and their RSS) are not run');
  assert.ok(c.forward_ms <= c.analyze_ms * 3, 'the replayed forward passes are part of the analysis');
  assert.ok(c.edit_windows[0] >= 1 && c.edit_windows[0] <= c.edit_windows[1] && c.edit_windows[1] <= c.windows);
  // the PyTorch reference ran, or the report says why not
  if (c.torch_ms === null) assert.ok(rep.notes.some((n) => /PyTorch reference not run/.test(n)));
  else assert.ok(c.ratio_vs_torch !== null && Math.abs(c.ratio_vs_torch - c.forward_ms / c.torch_ms) < 1e-9);
  // the sparsity limit: the same passes' multiply-adds, the nonzero ones at the measured dense throughput
  // (timed around each replay: the case's median, the run's median and range)
  assert.ok(rep.dense_macs_per_ms > 0 && c.dense_macs_per_ms > 0);
  assert.ok(rep.dense_macs_per_ms_range[0] <= rep.dense_macs_per_ms && rep.dense_macs_per_ms <= rep.dense_macs_per_ms_range[1]);
  assert.ok(rep.dense_macs_per_ms_range[0] <= c.dense_macs_per_ms && c.dense_macs_per_ms <= rep.dense_macs_per_ms_range[1]);
  assert.ok(c.dense_macs !== null && c.nonzero_macs !== null && c.limit_ms !== null && c.x_of_limit !== null, rep.notes.join('; '));
  assert.ok(c.nonzero_macs > 0 && c.nonzero_macs < c.dense_macs);
  assert.equal(c.limit_ms, c.nonzero_macs / c.dense_macs_per_ms);
  assert.ok(Number.isFinite(c.x_of_limit) && c.x_of_limit > 0);
  assert.equal(rep.machine.provider, 'cpu');
  // on the CPU our kernels run the shipped bundle, and onnxruntime replays the same passes beside them
  assert.equal(rep.machine.kernels, 'webassembly');
  assert.ok(c.onnxruntime_ms !== null && c.onnxruntime_ms > 0);
  assert.ok(c.ratio_vs_onnxruntime !== null && c.ratio_vs_onnxruntime > 0);
  const table = formatBench(rep);
  // the editor's highlight pass, cold, alternating with the full analysis (one run: the ratio is that pair's)
  assert.ok(c.highlights_ms > 0 && c.highlights_visible_ms > 0 && c.highlights_visible_ms <= c.highlights_ms);
  assert.equal(c.highlights_vs_analyze, c.highlights_ms / c.analyze_ms);
  assert.match(table, /highlights\/analyze/);
  // the highlight pass through the default circuits' cone: the same windows, fewer multiply-adds than the full graph's
  assert.ok(c.cone !== null, 'the shipped bundle has a cone that covers the firing nodes of the circuits shown by default (re-export it with training/export.py)');
  assert.ok(c.cone_ms !== null && c.cone_ms > 0 && c.firing_ms !== null && c.firing_ms > 0);
  assert.equal(c.cone_vs_firing, c.cone_ms / c.firing_ms);
  assert.equal(c.cone_vs_forward, c.cone_ms / c.forward_ms);
  assert.ok(c.cone_nonzero_macs !== null && c.cone_nonzero_macs > 0 && c.cone_nonzero_macs < c.nonzero_macs);
  assert.ok(c.cone_limit_ms !== null && c.cone_limit_ms > 0);
  assert.ok(c.cone_x_of_limit !== null && Number.isFinite(c.cone_x_of_limit) && c.cone_x_of_limit > 0);
  assert.match(table, new RegExp(`60 lines +${c.cone.replace(/\./g, '\\.')} `));
  assert.match(table, /× of the limit/);
  assert.match(table, /forward within 4× of the sparse limit: [\d.]+×/);
  assert.match(table, /analyze ms/);
  assert.match(table, /60 lines/);
  assert.match(table, /one-character edit recomputes ≤ 2 windows/);
  // the scaling rows: tokenizer and windows on one long line, one identifier, a multi-line file
  assert.deepEqual(rep.scaling.map((r) => [r.kind, r.bytes]), [['line', 4001], ['line', 12001], ['identifier', 3005], ['file', rep.scaling[3].bytes]]); // + the line end, + 'x = '
  assert.ok(rep.scaling[3].bytes <= 20000 && rep.scaling[3].bytes > 19000);
  for (const r of rep.scaling) assert.ok(r.tokens > 0 && r.tokenize_ms > 0 && r.windows_ms >= 0 && r.per_byte_ratio > 0, r.name);
  assert.equal(rep.scaling[0].per_byte_ratio, 1);
  assert.match(table, /\none line, 12 KB +12,001 .*\none identifier, 3 KB +3,005 /s);
  // the CLI's refusal of a 10 MB file was timed; the end-to-end CLI rows only run with --cli
  assert.ok(rep.refusal_ms !== null && rep.refusal_ms > 0);
  assert.match(table, /CLI refuses a 10 MB file at the default --max-bytes in < 1 s: \d+ ms/);
  assert.deepEqual(rep.cli, []);
});
