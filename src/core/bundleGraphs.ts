// The graphs a bundle's manifest lists beside model.onnx — cones (./cone) and tails (./tails): each entry
// names a node location of the layout and a file inside the bundle. A bad entry is one sentence naming the fix.
import * as fs from 'fs';
import * as path from 'path';
import type * as v from 'valibot';
import { ValidationError, parse } from '../schemas/validate';
import { type Bundle, BundleError } from './bundle';
import type { LayoutEntry } from './nodes';

export interface ListedGraph<E> {
  readonly entry: E;
  /** The node location the entry names. */
  readonly loc: LayoutEntry;
  readonly onnxPath: string;
}

/**
 * The entries of manifest list `key` (absent: none), each with its node location (`at` names it) and file;
 * `what` says what an entry is in a message ("a cone up to").
 */
export function listedGraphs<S extends v.GenericSchema<unknown, readonly { readonly onnx: string }[]>>(bundle: Bundle, key: string, schema: S, at: (e: v.InferOutput<S>[number]) => string, what: string): ListedGraph<v.InferOutput<S>[number]>[] {
  const reexport = 're-export the bundle with training/export.py';
  const raw = bundle.manifest[key];
  if (raw === undefined) return [];
  let entries;
  try {
    entries = parse(schema, raw, key);
  } catch (e) {
    throw new BundleError(`Bundle ${bundle.dir}: manifest.json ${(e as ValidationError).message}; ${reexport}.`);
  }
  return entries.map((entry) => {
    const name = at(entry);
    const loc = bundle.layout.location(name);
    if (!loc) throw new BundleError(`Bundle ${bundle.dir}: manifest.json names ${what} ${name}, which is not in its node layout; ${reexport}.`);
    const { onnx } = entry;
    if (path.isAbsolute(onnx) || onnx.split(/[\\/]/).includes('..')) throw new BundleError(`Bundle ${bundle.dir}: manifest.json ${key.slice(0, -1)} ${name} must name a file inside the bundle; ${reexport}.`);
    const onnxPath = path.join(bundle.dir, onnx);
    if (!fs.existsSync(onnxPath)) throw new BundleError(`Bundle ${bundle.dir}: ${onnx} (named by manifest.json ${key}) is missing; ${reexport}.`);
    return { entry, loc, onnxPath };
  });
}
