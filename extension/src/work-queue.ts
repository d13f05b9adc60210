/**
 * One model operation at a time (reading the repository, re-reading after edits, an answer, a hover explanation):
 * they share one KV cache in the worker. Waiting is abortable, so a hover that goes away or a stopped answer leaves
 * the queue at once. First come, first served. No `vscode` import.
 */

export class WorkQueue {
  private busy = false;
  private readonly waiting: Array<{ grant: () => void }> = [];

  get idle(): boolean {
    return !this.busy && this.waiting.length === 0;
  }

  /** Resolves with a release function once it is this caller's turn; rejects with an AbortError if aborted first. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(abortError());
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next.grant();
      else this.busy = false;
    };
    if (!this.busy) {
      this.busy = true;
      return Promise.resolve(release);
    }
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(release);
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(abortError());
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  /** Runs `work` in turn. */
  async run<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await work();
    } finally {
      release();
    }
  }
}

/** Shaped like the engine's cancellation (code LONGVIEW_CANCELLED), so callers need one check for both. */
function abortError(): Error {
  const e = new Error("cancelled while waiting for the model");
  e.name = "AbortError";
  (e as Error & { code: string }).code = "LONGVIEW_CANCELLED";
  return e;
}
