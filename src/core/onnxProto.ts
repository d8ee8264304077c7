// The few parts of the ONNX protobuf format (onnx/onnx.proto3) that Circuit Inspector reads itself: the
// weights of a graph (dense and sparse initializers alike) — their values for the forward pass of our
// own (./wasmForward), their nonzero counts for the benchmark's sparse limit — and a one-MatMul model
// to measure the machine's dense throughput with. Nothing else of the graph is read.

/** Protobuf wire types. */
const [VARINT, I64, LEN, I32] = [0, 1, 2, 5];

/** One field of a message: its number, and its value (a number for varints, bytes otherwise). */
interface Field {
  readonly no: number;
  readonly wire: number;
  readonly int: number;
  readonly bytes: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** A varint at buf[pos]: its value and the position after it. Beyond 2^53 precision is lost (no ONNX size gets there). */
function varint(buf: Uint8Array, pos: number): [number, number] {
  let v = 0;
  for (let scale = 1; ; scale *= 128) {
    if (pos >= buf.length) throw new Error('truncated protobuf varint');
    const b = buf[pos++];
    v += (b & 0x7f) * scale;
    if (b < 0x80) return [v, pos];
  }
}

/** The fields of one protobuf message, in order. */
function* fields(buf: Uint8Array): Generator<Field> {
  let i = 0;
  while (i < buf.length) {
    const [key, at] = varint(buf, i);
    const no = Math.floor(key / 8);
    const wire = key % 8;
    i = at;
    if (wire === VARINT) {
      const [int, next] = varint(buf, i);
      i = next;
      yield { no, wire, int, bytes: EMPTY };
      continue;
    }
    let n = wire === I64 ? 8 : 4;
    if (wire === LEN) [n, i] = varint(buf, i);
    else if (wire !== I64 && wire !== I32) throw new Error(`unsupported protobuf wire type ${wire}`);
    if (i + n > buf.length) throw new Error('truncated protobuf field');
    yield { no, wire, int: 0, bytes: buf.subarray(i, i + n) };
    i += n;
  }
}

/** The values of a repeated integer field, packed or not. */
function ints(f: Field): number[] {
  if (f.wire === VARINT) return [f.int];
  const out: number[] = [];
  for (let i = 0; i < f.bytes.length; ) {
    const [v, next] = varint(f.bytes, i);
    out.push(v);
    i = next;
  }
  return out;
}

/** TensorProto data types. */
const [FLOAT, INT64, FLOAT16, BFLOAT16] = [1, 7, 10, 16];

interface Tensor {
  readonly name: string;
  readonly dims: number[];
  readonly type: number;
  /** raw_data, or the typed field's packed bytes (float_data: 4-byte floats, int64_data: varints). */
  readonly raw?: Uint8Array;
  readonly floats?: Uint8Array;
  readonly int64s?: number[];
}

function tensor(buf: Uint8Array): Tensor {
  let name = '';
  const dims: number[] = [];
  let type = 0;
  let raw: Uint8Array | undefined;
  let floats: Uint8Array | undefined;
  let int64s: number[] | undefined;
  for (const f of fields(buf)) {
    if (f.no === 1) dims.push(...ints(f));
    else if (f.no === 2) type = f.int;
    else if (f.no === 4) floats = f.bytes; // float_data, packed
    else if (f.no === 7) int64s = [...(int64s ?? []), ...ints(f)];
    else if (f.no === 8) name = new TextDecoder().decode(f.bytes);
    else if (f.no === 9) raw = f.bytes;
  }
  return { name, dims, type, raw, floats, int64s };
}

/** A float tensor's values as f32 (float16 and bfloat16 widened; both exactly), or undefined for another type. */
function floatValues(t: Tensor): Float32Array | undefined {
  const bytes = t.raw ?? t.floats;
  if (!bytes) return undefined;
  // ONNX stores little-endian, as every platform Node runs this on is: typed arrays over a copy (the bytes may not be aligned)
  if (t.type === FLOAT) return new Float32Array(bytes.slice().buffer);
  if (t.type !== FLOAT16 && t.type !== BFLOAT16) return undefined;
  const halves = new Uint16Array(bytes.slice().buffer);
  const out = new Float32Array(halves.length);
  if (t.type === BFLOAT16) {
    const bits = new Uint32Array(out.buffer);
    for (let j = 0; j < halves.length; j++) bits[j] = halves[j] << 16;
  } else {
    const table = halfTable();
    for (let j = 0; j < halves.length; j++) out[j] = table[halves[j]];
  }
  return out;
}

let halves: Float32Array | undefined;
/** Every IEEE binary16 bit pattern's value (a bigram table of 2048² halves decodes 10× faster by lookup). */
function halfTable(): Float32Array {
  halves ??= Float32Array.from({ length: 65536 }, (_, h) => halfToFloat(h));
  return halves;
}

/** IEEE binary16 bits → its value. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero and subnormals
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** An initializer: its shape, and its entries either all (dense) or as linear indices with values (sparse). */
interface Initializer {
  readonly name: string;
  readonly dims: readonly number[];
  readonly values: Float32Array;
  /** For a sparse initializer, the linear index of each value; absent: values holds every entry in order. */
  readonly at?: Float64Array;
}

/** A SparseTensorProto (values, indices, dims), with linear or [nnz, rank] indices made linear. */
function sparseInitializer(buf: Uint8Array): Initializer | undefined {
  let valuesTensor: Tensor | undefined;
  let indices: Tensor | undefined;
  const dims: number[] = [];
  for (const f of fields(buf)) {
    if (f.no === 1) valuesTensor = tensor(f.bytes);
    else if (f.no === 2) indices = tensor(f.bytes);
    else if (f.no === 3) dims.push(...ints(f));
  }
  const values = valuesTensor && floatValues(valuesTensor);
  if (!valuesTensor || !values || !indices || indices.type !== INT64) return undefined;
  const idx = indices.raw ? Array.from(new BigInt64Array(indices.raw.slice().buffer), Number) : (indices.int64s ?? []);
  const rank = indices.dims.length === 2 ? indices.dims[1] : 1;
  const at = new Float64Array(values.length);
  for (let j = 0; j < values.length; j++) {
    // row-major linear index from [rank] coordinates (rank 1: already linear)
    let lin = 0;
    for (let r = 0; r < rank; r++) lin = lin * (rank === 1 ? 1 : dims[r]) + idx[j * rank + r];
    at[j] = lin;
  }
  return { name: valuesTensor.name, dims, values, at };
}

/** Every float initializer of an ONNX model, dense and sparse, as stored. */
function* initializers(model: Uint8Array): Generator<Initializer> {
  // a plain view: a Buffer's slice() would share memory instead of copying
  for (const m of fields(new Uint8Array(model.buffer, model.byteOffset, model.byteLength))) {
    if (m.no !== 7 || m.wire !== LEN) continue; // ModelProto.graph
    for (const g of fields(m.bytes)) {
      if (g.no === 5) {
        const t = tensor(g.bytes); // GraphProto.initializer
        const values = floatValues(t);
        if (values) yield { name: t.name, dims: t.dims, values };
      } else if (g.no === 15) {
        const s = sparseInitializer(g.bytes); // GraphProto.sparse_initializer
        if (s) yield s;
      }
    }
  }
}

/** A weight of the graph: its shape and its nonzero entries per row (the first dimension). */
export interface Weight {
  readonly dims: readonly number[];
  readonly nonzero: number;
  /** [dims[0]]: nonzero entries in each row (for a 1-D weight, each entry: 0 or 1). */
  readonly rowNonzero: Int32Array;
}

/** Every float initializer of an ONNX model (dense or sparse) by name, with its nonzero counts. */
export function readWeights(model: Uint8Array): Map<string, Weight> {
  const out = new Map<string, Weight>();
  for (const { name, dims, values, at } of initializers(model)) {
    const rows = dims.length ? dims[0] : 1;
    const perRow = dims.slice(1).reduce((a, b) => a * b, 1);
    const rowNonzero = new Int32Array(rows);
    let nonzero = 0;
    values.forEach((v, j) => {
      if (v === 0) return; // ±0, and a sparse initializer's explicit zeros
      nonzero++;
      rowNonzero[Math.floor((at ? at[j] : j) / perRow)]++;
    });
    out.set(name, { dims, nonzero, rowNonzero });
  }
  return out;
}

/** A float initializer with every entry, row-major. */
export interface DenseTensor {
  readonly dims: readonly number[];
  readonly values: Float32Array;
}

/** The float initializers of an ONNX model (dense or sparse, f32, f16 or bf16) by name, every one as a dense f32 array. */
export function readTensors(model: Uint8Array): Map<string, DenseTensor> {
  const out = new Map<string, DenseTensor>();
  for (const { name, dims, values, at } of initializers(model)) {
    if (!at) {
      out.set(name, { dims, values });
      continue;
    }
    const dense = new Float32Array(dims.reduce((a, b) => a * b, 1));
    values.forEach((v, j) => (dense[at[j]] = v));
    out.set(name, { dims, values: dense });
  }
  return out;
}

// ---- writing: a model of one MatMul, Y = A·B, A [M, K] and B [K, N] both inputs ----

function varintBytes(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

const intField = (no: number, v: number): number[] => [...varintBytes(no * 8 + VARINT), ...varintBytes(v)];
const lenField = (no: number, body: readonly number[]): number[] => [...varintBytes(no * 8 + LEN), ...varintBytes(body.length), ...body];
const strField = (no: number, s: string): number[] => lenField(no, [...new TextEncoder().encode(s)]);

/** ValueInfoProto of a float tensor of fixed shape. */
function floatInput(name: string, shape: readonly number[]): number[] {
  const dims = shape.flatMap((d) => lenField(1, intField(1, d))); // TensorShapeProto.dim { dim_value }
  const tensorType = [...intField(1, FLOAT), ...lenField(2, dims)]; // TypeProto.Tensor { elem_type, shape }
  return [...strField(1, name), ...lenField(2, lenField(1, tensorType))]; // { name, type { tensor_type } }
}

/** model.onnx bytes of Y = MatMul(A [M, K], B [K, N]) (opset 13). */
export function matMulModel(M: number, K: number, N: number): Uint8Array {
  const node = [...strField(1, 'A'), ...strField(1, 'B'), ...strField(2, 'Y'), ...strField(4, 'MatMul')];
  const graph = [...lenField(1, node), ...strField(2, 'matmul'), ...lenField(11, floatInput('A', [M, K])), ...lenField(11, floatInput('B', [K, N])), ...lenField(12, floatInput('Y', [M, N]))];
  const opset = [...strField(1, ''), ...intField(2, 13)];
  return Uint8Array.from([...intField(1, 8), ...lenField(8, opset), ...lenField(7, graph)]); // ir_version 8, opset_import, graph
}
