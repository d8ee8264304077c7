// Schemas for data that crosses a trust boundary (webview ⇄ host, files on disk), written once with
// valibot: the TypeScript types are inferred from them (`Infer<typeof schema>`), never written again
// by hand. Valibot adds about 8 KB (minified) to the webview bundle, against about 22 KB for zod/mini
// and far more for zod (measured with esbuild on the same schemas).
//
// What these building blocks add to valibot's own: everything is bounded (strings and arrays have a
// maximum length, checked before the items are walked; records a maximum entry count), records come
// out without a prototype and refuse keys such as `__proto__`, a value whose getters throw is
// malformed rather than a crash, and an issue reads as one short sentence naming its path
// (`model.ablated[0]: string has an unexpected form`) — never the offending payload.

import * as v from 'valibot';



export class ValidationError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(path ? `${path}: ${reason}` : reason);
    this.name = 'ValidationError';
  }
}

/** A schema whose output is T (any input). */
export type Schema<T> = v.GenericSchema<unknown, T>;

/** The type a schema produces. */
export type Infer<S extends v.GenericSchema> = v.InferOutput<S>;

/** Default bound on free text (labels, meanings, token text). */
export const MAX_TEXT = 4_000;

/** Free text: any characters (it is only ever rendered as text), bounded length. */
export const text = v.pipe(v.string(), v.maxLength(MAX_TEXT));

/** A string of at most `max` UTF-16 code units, matching `pattern` (anchored) if given. */
export function boundedString(max: number, pattern?: RegExp): Schema<string> {
  return pattern ? v.pipe(v.string(), v.maxLength(max), v.regex(pattern)) : v.pipe(v.string(), v.maxLength(max));
}

/** A finite number (NaN and ±Infinity are rejected; JSON cannot carry them anyway). */
export const finite = v.pipe(v.number(), v.finite());

export function integer(min: number, max: number): Schema<number> {
  return v.pipe(v.number(), v.finite(), v.integer(), v.minValue(min), v.maxValue(max));
}

/** At most `max` (and at least `min`) items; the length is checked before any item is. */
export function boundedArray<S extends v.GenericSchema>(item: S, max: number, min = 0) {
  const length = min > 0 ? v.pipe(v.array(v.unknown()), v.maxLength(max), v.minLength(min)) : v.pipe(v.array(v.unknown()), v.maxLength(max));
  return v.pipe(length, v.array(item), v.readonly());
}

/** Two items of the same type. */
export function pair<S extends v.GenericSchema>(item: S) {
  return v.pipe(v.strictTuple([item, item]), v.readonly());
}

/**
 * A string-keyed map of at most `max` entries whose keys match `key`. The result has no prototype,
 * and `__proto__`, `constructor` and the like never match a key pattern, so they are refused.
 */
export function boundedRecord<S extends v.GenericSchema>(key: RegExp, item: S, max: number) {
  return v.pipe(
    v.custom<Record<string, unknown>>(isPlainObject, 'expected an object'),
    v.check((r) => Object.keys(r).length <= max, `more than ${max} entries`),
    v.check((r) => Object.keys(r).every((k) => k.length <= 64 && key.test(k)), 'a key has an unexpected form'),
    v.record(v.string(), item),
    v.transform((r) => Object.assign(Object.create(null) as Record<string, v.InferOutput<S>>, r)),
  );
}

/** Only plain objects (no class instances, arrays or exotic objects) are data. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

export type CheckResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ValidationError };

/** Validates `value`; `root` names it in the error (e.g. a file name). Never throws. */
export function check<S extends v.GenericSchema>(schema: S, value: unknown, root = ''): CheckResult<v.InferOutput<S>> {
  let result: v.SafeParseResult<S>;
  try {
    result = v.safeParse(schema, value, { abortEarly: true });
  } catch {
    // A getter or proxy trap on a hostile value threw: treat it as a malformed value.
    return { ok: false, error: new ValidationError(root, 'value could not be read') };
  }
  if (result.success) return { ok: true, value: result.output };
  const issue = result.issues[0];
  return { ok: false, error: new ValidationError(pathOf(root, issue), reasonOf(issue)) };
}

/** Validates `value` and returns it, or throws a ValidationError. */
export function parse<S extends v.GenericSchema>(schema: S, value: unknown, root = ''): v.InferOutput<S> {
  const r = check(schema, value, root);
  if (!r.ok) throw r.error;
  return r.value;
}

function pathOf(root: string, issue: v.BaseIssue<unknown>): string {
  let path = root;
  for (const item of issue.path ?? []) {
    const key = item.key;
    path += typeof key === 'number' ? `[${key}]` : path ? `.${String(key)}` : String(key);
  }
  return path;
}

/** One short sentence per kind of issue, in the words the old hand-written validators used. */
function reasonOf(issue: v.BaseIssue<unknown>): string {
  const isString = typeof issue.input === 'string';
  switch (issue.type) {
    case 'object':
    case 'strict_object':
    case 'loose_object':
      if (issue.expected === 'never') return `unexpected key ${JSON.stringify(String(issue.path?.at(-1)?.key ?? '').slice(0, 40))}`;
      if (issue.input === undefined && issue.path?.length) return `missing key ${issue.expected ?? ''}`;
      return `expected an object, got ${describe(issue.input)}`;
    case 'string':
    case 'number':
    case 'boolean':
    case 'array':
      return `expected ${issue.type === 'array' ? 'an' : 'a'} ${issue.type}, got ${describe(issue.input)}`;
    case 'finite':
      return `expected a finite number, got ${describe(issue.input)}`;
    case 'integer':
      return 'expected an integer';
    case 'literal':
    case 'picklist':
      return `expected one of ${(issue.expected ?? '').replace(/ \| /g, ', ')}`;
    case 'max_length':
      return isString ? `string longer than ${issue.requirement as number}` : `more than ${issue.requirement as number} items`;
    case 'min_length':
      return isString ? `string shorter than ${issue.requirement as number}` : `fewer than ${issue.requirement as number} items`;
    case 'min_value':
      return `less than ${issue.requirement as number}`;
    case 'max_value':
      return `greater than ${issue.requirement as number}`;
    case 'regex':
      return 'string has an unexpected form';
    case 'strict_tuple':
    case 'tuple':
      return issue.expected === 'never' ? 'too many items' : 'expected a pair';
    default:
      return issue.message.slice(0, 200);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return typeof value;
}
