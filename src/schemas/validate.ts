// Small validator combinators for data that crosses a trust boundary (webview ⇄ host).
//
// A `Validator<T>` takes `unknown` and either returns a fresh, plain value of type T or throws a
// `ValidationError` naming the offending path. Everything is bounded: strings and arrays have a
// maximum length and objects a fixed set of keys, so a hostile message cannot make the receiver
// allocate or walk more than the schema allows. Objects are rebuilt from their known keys only
// (prototype-less keys such as `__proto__` never reach the result).

export class ValidationError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path || '(root)'}: ${reason}`);
    this.name = 'ValidationError';
  }
}

export type Validator<T> = (value: unknown, path: string) => T;

/** The type a validator produces. */
export type Infer<V> = V extends Validator<infer T> ? T : never;

export interface StringOptions {
  /** Maximum length in UTF-16 code units. */
  readonly max: number;
  readonly min?: number;
  /** Anchored pattern the whole string must match. */
  readonly pattern?: RegExp;
}

/** Default bound on free text (labels, meanings, token text). */
export const MAX_TEXT = 4_000;

export function string(opts: StringOptions): Validator<string> {
  return (value, path) => {
    if (typeof value !== 'string') throw new ValidationError(path, `expected a string, got ${describe(value)}`);
    if (value.length > opts.max) throw new ValidationError(path, `string longer than ${opts.max}`);
    if (opts.min !== undefined && value.length < opts.min) throw new ValidationError(path, `string shorter than ${opts.min}`);
    if (opts.pattern && !opts.pattern.test(value)) throw new ValidationError(path, 'string has an unexpected form');
    return value;
  };
}

/** Free text: any characters (it is only ever rendered as text), bounded length. */
export const text: Validator<string> = string({ max: MAX_TEXT });

export interface NumberOptions {
  readonly min?: number;
  readonly max?: number;
  readonly integer?: boolean;
}

/** A finite number (NaN and ±Infinity are rejected; JSON cannot carry them anyway). */
export function number(opts: NumberOptions = {}): Validator<number> {
  return (value, path) => {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new ValidationError(path, `expected a finite number, got ${describe(value)}`);
    }
    if (opts.integer && !Number.isInteger(value)) throw new ValidationError(path, 'expected an integer');
    if (opts.min !== undefined && value < opts.min) throw new ValidationError(path, `less than ${opts.min}`);
    if (opts.max !== undefined && value > opts.max) throw new ValidationError(path, `greater than ${opts.max}`);
    return value;
  };
}

export const finite: Validator<number> = number();

export const boolean: Validator<boolean> = (value, path) => {
  if (typeof value !== 'boolean') throw new ValidationError(path, `expected a boolean, got ${describe(value)}`);
  return value;
};

export function literal<L extends string | number | boolean>(...allowed: readonly L[]): Validator<L> {
  return (value, path) => {
    for (const a of allowed) if (value === a) return a;
    throw new ValidationError(path, `expected one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
  };
}

export function array<T>(item: Validator<T>, opts: { readonly max: number; readonly min?: number }): Validator<T[]> {
  return (value, path) => {
    if (!Array.isArray(value)) throw new ValidationError(path, `expected an array, got ${describe(value)}`);
    if (value.length > opts.max) throw new ValidationError(path, `more than ${opts.max} items`);
    if (opts.min !== undefined && value.length < opts.min) throw new ValidationError(path, `fewer than ${opts.min} items`);
    const out: T[] = [];
    for (let i = 0; i < value.length; i++) out.push(item(value[i], `${path}[${i}]`));
    return out;
  };
}

/** A fixed-length tuple of the same item type. */
export function pair<T>(item: Validator<T>): Validator<[T, T]> {
  return (value, path) => {
    if (!Array.isArray(value) || value.length !== 2) throw new ValidationError(path, 'expected a pair');
    return [item(value[0], `${path}[0]`), item(value[1], `${path}[1]`)];
  };
}

const OPTIONAL = Symbol('optional');
type OptionalValidator<T> = Validator<T | undefined> & { readonly [OPTIONAL]: true };

/** Marks an object key as optional: absent (or `undefined`) is allowed, otherwise `inner` applies. */
export function optional<T>(inner: Validator<T>): Validator<T | undefined> {
  const v = ((value: unknown, path: string) => (value === undefined ? undefined : inner(value, path))) as OptionalValidator<T>;
  Object.defineProperty(v, OPTIONAL, { value: true });
  return v;
}

export function nullable<T>(inner: Validator<T>): Validator<T | null> {
  return (value, path) => (value === null ? null : inner(value, path));
}

export interface ObjectOptions {
  /** What to do with keys the schema does not name: reject the value (default) or drop them. */
  readonly extra?: 'reject' | 'strip';
}

/** Object with exactly the keys of `shape` (each key must have a validator; see `optional`). */
export function object<T>(shape: { readonly [K in keyof T]-?: Validator<T[K]> }, opts: ObjectOptions = {}): Validator<T> {
  const keys = Object.keys(shape) as (keyof T & string)[];
  const known = new Set<string>(keys);
  return (value, path) => {
    if (!isPlainObject(value)) throw new ValidationError(path, `expected an object, got ${describe(value)}`);
    if (opts.extra !== 'strip') {
      for (const k of Object.keys(value)) {
        if (!known.has(k)) throw new ValidationError(path, `unexpected key ${JSON.stringify(k.slice(0, 40))}`);
      }
    }
    const out: Partial<T> = {};
    for (const k of keys) {
      const has = Object.prototype.hasOwnProperty.call(value, k);
      const validator = shape[k] as Validator<T[typeof k]> & { [OPTIONAL]?: true };
      if (!has && !validator[OPTIONAL]) throw new ValidationError(path, `missing key ${JSON.stringify(k)}`);
      const v = validator(has ? (value as Record<string, unknown>)[k] : undefined, path ? `${path}.${k}` : k);
      if (v !== undefined) out[k] = v;
    }
    return out as T;
  };
}

/**
 * A string-keyed map. Keys must match `key`; the result has no prototype, so keys such as
 * `__proto__` or `constructor` cannot alias Object.prototype members.
 */
export function record<T>(key: Validator<string>, item: Validator<T>, opts: { readonly max: number }): Validator<Record<string, T>> {
  return (value, path) => {
    if (!isPlainObject(value)) throw new ValidationError(path, `expected an object, got ${describe(value)}`);
    const entries = Object.keys(value);
    if (entries.length > opts.max) throw new ValidationError(path, `more than ${opts.max} entries`);
    const out = Object.create(null) as Record<string, T>;
    for (const k of entries) {
      key(k, `${path}{key}`);
      out[k] = item((value as Record<string, unknown>)[k], `${path}.${k}`);
    }
    return out;
  };
}

/** Runs `validator` and returns a result instead of throwing. */
export function check<T>(validator: Validator<T>, value: unknown): { ok: true; value: T } | { ok: false; error: ValidationError } {
  try {
    return { ok: true, value: validator(value, '') };
  } catch (e) {
    if (e instanceof ValidationError) return { ok: false, error: e };
    // A getter or proxy trap on a hostile value threw: treat it as a malformed value.
    return { ok: false, error: new ValidationError('', 'value could not be read') };
  }
}

function isPlainObject(value: unknown): value is object {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return typeof value;
}
