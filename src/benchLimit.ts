// The bench's sparsity-limit columns (docs/BENCHMARKS.md, "The limit"): each case's forward passes, and
// its cone's, replayed again with a timing of the machine's dense throughput (sparseLimit.DenseProbe)
// before and after each replay, so that every replay is set against the throughput of its own moment.
// Run after every case: the probe's onnxruntime session is one the editor never opens, and the cases'
// memory figures hold the editor's runner alone.
import type { BenchCase } from './bench';
import { type MeasuredCase, replay } from './benchCase';
import { median } from './benchMeasure';
import type { RunInput, Runner } from './core/runner';
import { DenseProbe } from './sparseLimit';

/** A case's row with the passes behind it: its forward passes and, where the bundle has one, its cone's. */
export interface CasePasses {
  readonly row: MeasuredCase;
  readonly batches: readonly RunInput[];
  readonly cone: readonly RunInput[] | undefined;
}

/** Every dense-throughput timing of the run, multiply-adds per ms. */
export interface Throughput {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/** Each case's row with its limit columns, and the throughput timings they were taken at. */
export async function atTheLimits(runs: number, r: Runner, cases: readonly CasePasses[]): Promise<{ rows: BenchCase[]; throughput: Throughput }> {
  const probe = await DenseProbe.open();
  const timings: number[] = [];
  try {
    const rows: BenchCase[] = [];
    for (const c of cases) {
      const full = await besideProbe(runs, r, probe, c.batches, c.row.nonzero_macs);
      const cone = c.cone ? await besideProbe(runs, r, probe, c.cone, c.row.cone_nonzero_macs) : undefined;
      timings.push(...full.throughputs, ...(cone?.throughputs ?? []));
      rows.push({
        ...c.row,
        dense_macs_per_ms: median(full.throughputs),
        limit_ms: full.limitMs,
        x_of_limit: full.x,
        cone_limit_ms: cone?.limitMs ?? null,
        cone_x_of_limit: cone?.x ?? null,
      });
    }
    return { rows, throughput: { median: median(timings), min: Math.min(...timings), max: Math.max(...timings) } };
  } finally {
    await probe.close();
  }
}

/**
 * `runs` replays of `passes`, each between two timings of the probe: the throughput around each replay
 * (the mean of the two), the limit at their median, and the median over replays of replay ms ÷ the
 * limit at its own throughput (null without the nonzero count).
 */
async function besideProbe(runs: number, r: Runner, probe: DenseProbe, passes: readonly RunInput[], nonzeroMacs: number | null): Promise<{ throughputs: number[]; limitMs: number | null; x: number | null }> {
  const throughputs: number[] = [];
  const ratios: number[] = [];
  let before = await probe.measure();
  for (let i = 0; i < runs; i++) {
    await settle();
    const ms = await replay(r, passes);
    const after = await probe.measure();
    const around = (before + after) / 2;
    throughputs.push(around);
    if (nonzeroMacs !== null) ratios.push(ms / (nonzeroMacs / around));
    before = after;
  }
  return { throughputs, limitMs: nonzeroMacs === null ? null : nonzeroMacs / median(throughputs), x: ratios.length ? median(ratios) : null };
}

/**
 * A pause after the probe before a replay: onnxruntime's threads keep spinning for work after a run, and
 * the 1,000-line case's replays right after a probe took ~20 % longer than 50 ms after it (session 34).
 */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 50));
}
