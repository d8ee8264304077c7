// `circuit-inspector import-openai`: converts one of OpenAI's released weight-sparse models into a
// bundle. The converter is training/import_openai.py (reading PyTorch checkpoints needs PyTorch), run
// with the package's Python; its own argument parser checks the options and its messages are passed on.
import { spawn } from 'child_process';
import { once } from 'events';
import * as path from 'path';
import { pythonFor } from './bench';

export const IMPORT_USAGE = `  import-openai --model DIR --tokenizer DIR --out DIR [--viz [TASK=]FILE ...]
                      convert an OpenAI circuit_sparsity model (beeg_config.json + final_model.pt)
                      and its tinypython_2k tokenizer (vocab.bpe + encoder.json) into a bundle;
                      runs python -m training.import_openai (needs training/requirements.lock)
    --viz [TASK=]FILE   one of OpenAI's viz_data.pt files for this model (repeatable): its circuit
                        becomes circuits/TASK.json; TASK defaults to the folder in upstream's layout
                        <task>/<sweep>/<k>/viz_data.pt (docs/openai-viz-format.md)
    --val-corpus FILE   texts for the node means (default training/data/corpus_val.jsonl)
    --name NAME         bundle name (default: the --out folder's name)
    --mean-windows N    context windows the node means average over (default 64; fewer for
                        the large models, whose forward is slow on a laptop's CPU)
`;

/** Runs the converter with the user's working directory (relative paths are theirs); its exit status. */
export async function importOpenai(argv: readonly string[], root: string): Promise<number> {
  const python = pythonFor(root);
  const pythonPath = [root, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter);
  const child = spawn(python, ['-m', 'training.import_openai', ...argv], { stdio: 'inherit', env: { ...process.env, PYTHONPATH: pythonPath } });
  const [code] = (await Promise.race([once(child, 'close'), once(child, 'error').then(([e]) => Promise.reject(new Error(`cannot run ${python} (${(e as Error).message}); install training/requirements.lock into .venv, or set CIRCUIT_INSPECTOR_PYTHON`)))])) as [number | null];
  return code ?? 1;
}
