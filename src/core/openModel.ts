// Opens a bundle for running: validate its files (./bundle), start the model's worker threads
// (./runner: onnxruntime, and on the CPU our own kernels where they run the bundle), and make one tiny
// forward pass. Files that are each well-formed can still disagree
// with each other — a manifest whose node layout or vocabulary is not the graph's loads fine and
// then fails every analysis with onnxruntime's multi-line complaint; the probe turns that into the
// same one-sentence BundleError as any other broken bundle, once, at load.
import { type Bundle, BundleError, loadBundle } from './bundle';
import { bundleCones } from './cone';
import { firstLine } from './ortSession';
import { type ProviderChoice, Runner } from './runner';
import { bundleTails } from './tails';

export interface OpenModel {
  readonly bundle: Bundle;
  readonly runner: Runner;
}

/** ourKernels: whether our WebAssembly kernels may run the CPU's single passes (./wasmForward); false: onnxruntime runs all. */
export async function openModel(dir: string, provider: ProviderChoice, ourKernels = true): Promise<OpenModel> {
  const bundle = loadBundle(dir);
  const forward = ourKernels ? { model: bundle.model, layout: bundle.layout.entries, context: bundle.context } : undefined;
  const runner = await Runner.create(bundle.onnxPath, { provider, cones: bundleCones(bundle), tails: bundleTails(bundle), forward });
  const N = bundle.layout.count;
  try {
    // the last node and the last vocabulary entry: out of range in a graph smaller than the manifest says
    await runner.run({ ids: BigInt64Array.of(BigInt(bundle.eotId), BigInt(bundle.eotId)), B: 1, T: 2, mask: new Float32Array(N).fill(1), fill: bundle.means, watch: [N - 1], scoreFrom: 1, readIds: BigInt64Array.of(BigInt(bundle.model.vocab_size - 1)) });
  } catch (e) {
    await runner.dispose();
    const why = firstLine(e).replace(/\.$/, '');
    throw new BundleError(`Bundle ${dir}: the ONNX graph does not run with the node layout and model in manifest.json (${why}); re-export the bundle with training/export.py.`);
  }
  return { bundle, runner };
}
