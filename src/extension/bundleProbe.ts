// A bundle whose files are each well-formed can still disagree with itself: a manifest whose node
// layout or vocabulary is not the graph's loads fine and then fails every analysis with
// onnxruntime's multi-line complaint. One tiny analysis right after loading turns that into the
// same one-sentence load error as any other broken bundle.
import { type Engine, NO_ABLATION } from './engine';

/** undefined when the engine runs; otherwise the sentence that says what is wrong and how to fix it. */
export async function probeEngine(engine: Engine, dir: string): Promise<string | undefined> {
  try {
    await engine.analyze('circuitInspector.probe', 'x = "a"\n', NO_ABLATION);
    return undefined;
  } catch (e) {
    const why = (e instanceof Error ? e.message : String(e)).split('\n')[0].trim().replace(/\.$/, '').slice(0, 200);
    return `Bundle ${dir}: the ONNX graph does not run with the node layout and model in manifest.json (${why}); re-export the bundle with training/export.py.`;
  }
}
