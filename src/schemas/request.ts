// Requests between the extension host and the webview, paired with their answers by id (after
// GitLens's IpcRequest: every pair is matched the same way). A `RequestType` names the message that
// asks and the one that answers; both carry `requestId`. Either side keeps one `Requests` object:
// `request()` posts the question and resolves with the answer, `settle()` hands it each answer that
// arrives. No `vscode` and no DOM here: both sides use it.

/** A message that asks (or answers) and carries the id that pairs them. */
export interface Identified {
  readonly kind: string;
  readonly requestId: number;
}

export interface RequestType<Q extends Identified, A extends Identified> {
  readonly request: Q['kind'];
  readonly answer: A['kind'];
  /** Whether `answer` fits `request` beyond its id (e.g. the same export format). */
  readonly fits?: (request: Q, answer: A) => boolean;
}

interface Pending {
  readonly request: Identified;
  readonly type: RequestType<Identified, Identified>;
  readonly resolve: (answer: Identified) => void;
  readonly reject: (error: Error) => void;
  readonly timer: ReturnType<typeof setTimeout> | undefined;
}

export class Requests<Out extends { readonly kind: string }> {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly post: (message: Out) => void) {}

  /**
   * Posts `type.request` with `params` and a fresh id; resolves with the answer of that id, rejects
   * after `timeoutMs` (if given) or when `rejectAll` is called.
   */
  request<Q extends Identified & Out, A extends Identified>(type: RequestType<Q, A>, params: Omit<Q, 'kind' | 'requestId'>, timeoutMs?: number): Promise<A> {
    const requestId = this.nextId++;
    const request = { ...params, kind: type.request, requestId } as unknown as Q;
    return new Promise<A>((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              this.pending.delete(requestId);
              reject(new Error(`no answer to ${type.request} within ${timeoutMs} ms`));
            }, timeoutMs);
      const entry = { request, type, resolve, reject, timer } as unknown as Pending;
      this.pending.set(requestId, entry);
      this.post(request);
    });
  }

  /** Resolves the request `answer` belongs to; false when nobody asked for it (it is then ignored). */
  settle(answer: Identified): boolean {
    const p = this.pending.get(answer.requestId);
    if (!p || p.type.answer !== answer.kind || (p.type.fits && !p.type.fits(p.request, answer))) return false;
    this.pending.delete(answer.requestId);
    clearTimeout(p.timer);
    p.resolve(answer);
    return true;
  }

  /** Rejects every request still waiting (the other side went away). */
  rejectAll(reason: string): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(reason));
    }
    this.pending.clear();
  }
}
