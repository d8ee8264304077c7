// The bench's groups that need no model session: tokenizing and windowing inputs of growing size
// (is each step linear?), and the CLI run end to end in a child process.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { CliRow, ScalingRow, ScalingSizes } from './bench';
import { median } from './benchMeasure';
import { analysisWindows } from './core/analysis';
import type { Bundle } from './core/bundle';
import { encodeDocumentCompact } from './core/documentReading';
import { Tokenizer } from './core/tokenizer';

/** `source`'s statements (comments, blank lines and block headers dropped) joined by "; " on one line of `bytes` characters (ASCII in practice). */
export function oneLine(source: readonly string[], bytes: number): string {
  const statements = source.map((l) => l.trim()).filter((l) => l && !l.startsWith('#') && !l.endsWith(':'));
  const parts: string[] = [];
  for (let i = 0, n = 0; n < bytes; i++) {
    parts.push(statements[i % statements.length]);
    n += statements[i % statements.length].length + 2;
  }
  return parts.join('; ').slice(0, bytes) + '\n';
}

/** `text` repeated and cut at the last line end within `chars`. */
export function repeatTo(text: string, chars: number): string {
  const s = text.repeat(Math.ceil(chars / Math.max(1, text.length))).slice(0, chars);
  return s.slice(0, s.lastIndexOf('\n') + 1);
}

export function scalingInputs(source: readonly string[], sizes: ScalingSizes): { name: string; kind: string; text: string }[] {
  let seed = 1;
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const identifier = (n: number) => 'x = ' + Array.from({ length: n }, () => letters[((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % 52]).join('') + '\n';
  const kb = (n: number) => (n >= 1e6 ? `${n / 1e6} MB` : `${n / 1e3} KB`);
  return [
    ...sizes.line.map((n) => ({ name: `one line, ${kb(n)}`, kind: 'line', text: oneLine(source, n) })),
    ...sizes.identifier.map((n) => ({ name: `one identifier, ${kb(n)}`, kind: 'identifier', text: identifier(n) })),
    ...sizes.file.map((n) => ({ name: `${kb(n)} file`, kind: 'file', text: repeatTo(source.join('\n'), n) })),
  ];
}

export function scalingRow(b: Bundle, name: string, kind: string, text: string, runs: number, earlier: readonly ScalingRow[]): ScalingRow {
  const tok: number[] = [];
  const win: number[] = [];
  let tokens = 0;
  // a fresh tokenizer each time, as in a CLI run: its cache of pre-tokens starts empty
  const json = fs.readFileSync(path.resolve(b.dir, String(b.manifest.tokenizer)), 'utf8');
  for (let i = 0; i < Math.min(runs, 3); i++) {
    const tokenizer = Tokenizer.fromJson(json);
    const t0 = performance.now();
    const enc = encodeDocumentCompact(tokenizer, text); // as Analysis.stream() tokenizes
    const t1 = performance.now();
    const withEot = new Int32Array(enc.ids.length + 1);
    withEot[0] = b.eotId;
    withEot.set(enc.ids, 1); // as Analysis.stream() does
    analysisWindows(withEot, b.context);
    win.push(performance.now() - t1);
    tok.push(t1 - t0);
    tokens = enc.ids.length;
  }
  const [tokenizeMs, windowsMs] = [median(tok), median(win)];
  const first = earlier.find((r) => r.kind === kind);
  const perMb = ((tokenizeMs + windowsMs) * 1e6) / text.length;
  return { name, kind, bytes: Buffer.byteLength(text), tokens, tokenize_ms: tokenizeMs, windows_ms: windowsMs, per_byte_ratio: first ? perMb / (((first.tokenize_ms + first.windows_ms) * 1e6) / first.bytes) : 1 };
}

/** The CLI in a child process; its time, exit status and (from --progress's last line) tokens and peak memory. */
export function runCli(bin: string, args: readonly string[], name = ''): CliRow {
  const started = performance.now();
  const r = spawnSync(process.execPath, [bin, 'analyze', ...args], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', maxBuffer: 1 << 26 });
  const seconds = (performance.now() - started) / 1000;
  const last = /([\d,]+) \/ [\d,]+ tokens \(100 %\) in .*; peak memory ([\d,]+) MB/.exec(r.stderr ?? '');
  const num = (s: string | undefined) => (s === undefined ? null : Number(s.replace(/,/g, '')));
  const tokens = num(last?.[1]);
  return { name, bytes: fs.statSync(args[0]).size, exit: r.status, seconds, tokens, tokens_per_s: tokens === null ? null : tokens / seconds, peak_rss_mb: num(last?.[2]) };
}

