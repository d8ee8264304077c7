// "Why this token?" averaged over the positions of the same token pair in the file (issue 19): every
// place where the code has the cursor's token followed by the target token is another instance of the
// same prediction, and attributions averaged over them say what the model does for that pair in general
// rather than at one spot. ./discover searches one window; `averagingRunner` hands it a runner whose
// every run is run at each position's window under the same mask rows and answers the mean logits, so
// each attribution, circuit-only and without-circuit difference is the mean over the positions.
import type { MaskRunner } from './discover';
import type { RunInput, RunOutput } from './ortSession';

/** At most this many positions are averaged (each multiplies the forward passes): the cursor's and the first others in the file. */
export const MAX_AVERAGED = 16;

/**
 * Token indices j (into `ids`, the document's token ids or texts) where ids[j] is the cursor's token ids[i] and
 * ids[j + 1] is `target`: the cursor's own index first (whatever follows it), then the others in file
 * order, at most MAX_AVERAGED in all.
 */
export function samePairPositions<T>(ids: ArrayLike<T>, i: number, target: T): number[] {
  const out = [i];
  for (let j = 0; j + 1 < ids.length && out.length < MAX_AVERAGED; j++) if (j !== i && ids[j] === ids[i] && ids[j + 1] === target) out.push(j);
  return out;
}

/**
 * A runner that runs each input once per window of `windows` (token ids, each ending at the token whose
 * prediction is read), with the input's mask rows, and returns the logits averaged over the windows
 * [M, 1, R]. The input's own ids are ignored: the windows replace them. Only last-position reads (as
 * ./discover makes) are meaningful, and nothing is watched (discovery watches no node).
 */
export function averagingRunner(runner: MaskRunner, windows: readonly (readonly number[])[]): MaskRunner {
  if (windows.length === 0) throw new RangeError('averagingRunner needs at least one window');
  const tokens = windows.map((w) => BigInt64Array.from(w, (id) => BigInt(id)));
  return {
    parallelism: runner.parallelism,
    async run(input: RunInput): Promise<RunOutput> {
      const outs = await Promise.all(tokens.map((ids) => runner.run({ ...input, ids, B: 1, T: ids.length, scoreFrom: ids.length - 1 })));
      const sum = new Float64Array(outs[0].logits.length);
      for (const o of outs) o.logits.forEach((l, k) => (sum[k] += l));
      return { logits: Float32Array.from(sum, (s) => s / outs.length), watched: new Float32Array(0) };
    },
  };
}
