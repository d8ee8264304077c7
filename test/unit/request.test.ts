// Requests (src/schemas/request.ts): one way to pair a request with its answer, on both sides.

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exportRequest, type HostMessage, topTokensRequest, type TopTokensMessage, type WebviewMessage } from '../../src/schemas/messages';
import { Requests } from '../../src/schemas/request';

const topTokens = (requestId: number, nodeId: string): TopTokensMessage => ({ kind: 'topTokens', requestId, nodeId, tokens: [] });

describe('Requests', () => {
  it('posts the request with a fresh id and resolves with the answer of that id only', async () => {
    const posted: WebviewMessage[] = [];
    const requests = new Requests<WebviewMessage>((m) => posted.push(m));
    const a = requests.request(topTokensRequest, { nodeId: '0.attn.v.17' });
    const b = requests.request(topTokensRequest, { nodeId: '1.attn.v.9' });
    assert.deepEqual(
      posted.map((m) => m.kind === 'topTokensRequest' && [m.requestId, m.nodeId]),
      [
        [1, '0.attn.v.17'],
        [2, '1.attn.v.9'],
      ],
    );
    assert.equal(requests.settle(topTokens(9, '0.attn.v.17')), false, 'nobody asked');
    assert.equal(requests.settle(topTokens(2, '0.attn.v.17')), false, 'the id fits, the node does not');
    assert.equal(requests.settle({ kind: 'exportData', requestId: 2 }), false, 'another kind of answer');
    assert.equal(requests.settle(topTokens(2, '1.attn.v.9')), true);
    assert.equal(requests.settle(topTokens(2, '1.attn.v.9')), false, 'answered once');
    assert.equal((await b).nodeId, '1.attn.v.9');
    requests.settle(topTokens(1, '0.attn.v.17'));
    assert.equal((await a).requestId, 1);
  });

  it('rejects after its timeout, and every waiting request when the other side goes away', async () => {
    const requests = new Requests<HostMessage>(() => undefined);
    await assert.rejects(requests.request(exportRequest, { format: 'svg' }, 5), /no answer to exportRequest within 5 ms/);
    const waiting = [requests.request(exportRequest, { format: 'png' }), requests.request(exportRequest, { format: 'json' })];
    requests.rejectAll('the circuit panel was closed');
    for (const w of waiting) await assert.rejects(w, /the circuit panel was closed/);
    assert.equal(requests.settle({ kind: 'exportData', requestId: 2 }), false, 'a late answer finds nothing');
  });
});
