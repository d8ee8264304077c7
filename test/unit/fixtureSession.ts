// A fixture bundle and one onnxruntime session of its graph for a test file: opened before its
// tests, released after them.
import { after, before } from 'node:test';
import { type Bundle, loadBundle } from '../../src/core/bundle';
import { ModelSession } from '../../src/core/ortSession';

export interface FixtureSession {
  readonly bundle: Bundle;
  readonly session: ModelSession;
}

/** Registers the file's before/after hooks; the returned object is filled in by the time its tests run. */
export function fixtureSession(dir: string): FixtureSession {
  const opened = {} as { bundle: Bundle; session: ModelSession };
  before(async () => {
    opened.bundle = loadBundle(dir);
    opened.session = await ModelSession.create(opened.bundle.onnxPath, { provider: 'cpu', threads: 2, spinning: false });
  });
  after(() => opened.session.release());
  return opened;
}
