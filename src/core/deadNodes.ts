// Nodes whose ablation is a no-op in a window, for "Why this token?" (./discover, issue 19). Ablating
// node f sets its value x to fill[f] at every position (x ← mask·x + (1 − mask)·fill); where x already
// equals fill[f] at every position of the window, the ablated forward pass computes the same numbers as
// the unablated one, and ablating all of them at once too: the model's other nodes alone keep all of its
// difference, so the circuit is pruned from those. In mean mode these are the nodes that never fire
// (mean 0, value 0: ~380 of the shipped model's 2,816, 165 of them in layer 0); in zero mode every node
// silent on the window.
import type { MaskRunner } from './discover';

/**
 * Per node [N]: 1 where ablating it with `fill` [N] changes nothing in any of `windows` (token ids; the
 * search's window, or every averaged one), from one unablated run per window that watches every node
 * at every position.
 */
export async function deadNodes(runner: MaskRunner, windows: readonly (readonly number[])[], fill: Float32Array): Promise<Uint8Array> {
  const N = fill.length;
  const dead = new Uint8Array(N).fill(1);
  const every = Array.from({ length: N }, (_, f) => f);
  for (const ids of windows) {
    const T = ids.length;
    const { watched } = await runner.run({
      ids: BigInt64Array.from(ids, (id) => BigInt(id)),
      B: 1,
      T,
      mask: new Float32Array(N).fill(1),
      fill,
      watch: every,
      scoreFrom: 0,
      readIds: BigInt64Array.of(0n),
    }); // watched [1, T, N]
    for (let t = 0; t < T; t++) {
      const at = t * N;
      for (let f = 0; f < N; f++) if (watched[at + f] !== fill[f]) dead[f] = 0;
    }
  }
  return dead;
}
