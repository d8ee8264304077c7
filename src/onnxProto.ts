// The few parts of the ONNX protobuf format (onnx/onnx.proto3) that the benchmark needs: the
// weights of a graph with how many of their entries are nonzero, read straight from model.onnx
// (dense and sparse initializers alike, so the counts follow whatever model is shipped), and a
// one-MatMul model to measure the machine's dense throughput with. Nothing else of the graph is read.

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

/** A weight of the graph: its shape and its nonzero entries per row (the first dimension). */
export interface Weight {
  readonly dims: readonly number[];
  readonly nonzero: number;
  /** [dims[0]]: nonzero entries in each row (for a 1-D weight, each entry: 0 or 1). */
  readonly rowNonzero: Int32Array;
}

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** Nonzero entries of a dense initializer, counted per row. */
function denseWeight(t: Tensor): Weight | undefined {
  const bytes = t.raw ?? t.floats;
  const width = t.type === FLOAT ? 4 : t.type === FLOAT16 || t.type === BFLOAT16 ? 2 : 0;
  if (!bytes || !width) return undefined;
  const n = bytes.length / width;
  const rows = t.dims.length ? t.dims[0] : 1;
  const perRow = n / rows;
  const rowNonzero = new Int32Array(rows);
  const dv = view(bytes);
  let nonzero = 0;
  for (let j = 0; j < n; j++) {
    // ±0 are the zeros: every bit but the sign clear
    const zero = width === 4 ? (dv.getUint32(j * 4, true) & 0x7fffffff) === 0 : (dv.getUint16(j * 2, true) & 0x7fff) === 0;
    if (!zero) {
      nonzero++;
      rowNonzero[Math.floor(j / perRow)]++;
    }
  }
  return { dims: t.dims, nonzero, rowNonzero };
}

/** A SparseTensorProto (values, indices, dims): nonzero values per row, from linear or [nnz, rank] indices. */
function sparseWeight(buf: Uint8Array): [string, Weight] | undefined {
  let values: Tensor | undefined;
  let indices: Tensor | undefined;
  const dims: number[] = [];
  for (const f of fields(buf)) {
    if (f.no === 1) values = tensor(f.bytes);
    else if (f.no === 2) indices = tensor(f.bytes);
    else if (f.no === 3) dims.push(...ints(f));
  }
  if (!values || !indices) return undefined;
  const vals = denseWeight({ ...values, dims: [values.dims[0] ?? 0] });
  if (!vals || indices.type !== INT64) return undefined;
  const idx = indices.raw ? Array.from(new BigInt64Array(indices.raw.slice().buffer), Number) : (indices.int64s ?? []);
  const rank = indices.dims.length === 2 ? indices.dims[1] : 1;
  const rowSize = dims.slice(1).reduce((a, b) => a * b, 1);
  const rowNonzero = new Int32Array(dims[0] ?? 1);
  for (let j = 0; j < vals.rowNonzero.length; j++) {
    if (!vals.rowNonzero[j]) continue; // an explicit zero among the values
    const row = rank === 1 ? Math.floor(idx[j] / rowSize) : idx[j * rank];
    rowNonzero[row]++;
  }
  return [values.name, { dims, nonzero: vals.nonzero, rowNonzero }];
}

/** Every float initializer of an ONNX model (dense or sparse) by name, with its nonzero counts. */
export function readWeights(model: Uint8Array): Map<string, Weight> {
  const out = new Map<string, Weight>();
  // a plain view: a Buffer's slice() would share memory instead of copying
  for (const m of fields(new Uint8Array(model.buffer, model.byteOffset, model.byteLength))) {
    if (m.no !== 7 || m.wire !== LEN) continue; // ModelProto.graph
    for (const g of fields(m.bytes)) {
      if (g.no === 5) {
        const t = tensor(g.bytes); // GraphProto.initializer
        const w = denseWeight(t);
        if (w) out.set(t.name, w);
      } else if (g.no === 15) {
        const s = sparseWeight(g.bytes); // GraphProto.sparse_initializer
        if (s) out.set(...s);
      }
    }
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
