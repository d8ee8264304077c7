// Loads the shared fixtures for unit tests (compiled to out/test/unit, so paths go via the repo root).

import * as fs from 'fs';
import * as path from 'path';
import { circuitFile, type CircuitFile } from '../../src/schemas/circuit';
import { check } from '../../src/schemas/validate';
import type { PanelModel, TopToken } from '../../src/schemas/messages';

export const repoRoot = path.resolve(__dirname, '..', '..', '..');

export function readFixture(name: string): unknown {
  return JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', name), 'utf8')) as unknown;
}

export function sampleCircuit(): CircuitFile {
  return readFixture('circuit-sample.json') as CircuitFile;
}

export function sampleModel(): PanelModel {
  const state = readFixture('panel-state-sample.json') as { model: Omit<PanelModel, 'circuit'> };
  return { ...state.model, circuit: sampleCircuit() };
}

export function sampleTopTokens(): Record<string, TopToken[]> {
  return (readFixture('panel-state-sample.json') as { topTokens: Record<string, TopToken[]> }).topTokens;
}

/** The quote circuit of the shipped bundle (the first under models/), through the circuit file's schema as the panel gets it. */
export function shippedQuoteCircuit(): CircuitFile {
  const models = path.join(repoRoot, 'models');
  const bundle = fs.readdirSync(models).sort().find((d) => fs.existsSync(path.join(models, d, 'circuits', 'single_double_quote.json')));
  const raw = JSON.parse(fs.readFileSync(path.join(models, bundle ?? '', 'circuits', 'single_double_quote.json'), 'utf8')) as unknown;
  const checked = check(circuitFile, raw);
  if (!checked.ok) throw new Error(checked.error.message);
  return checked.value;
}

/** The text with CRLF line ends (a Windows checkout of it). */
export const crlfTwin = (text: string): string => text.replaceAll('\n', '\r\n');

/** The text indented with tabs: each four spaces that start a line as one tab. */
export const tabTwin = (text: string): string => text.replace(/^(?: {4})+/gmu, (run) => '\t'.repeat(run.length / 4));
