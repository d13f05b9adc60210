// Small fakes shared by the extension's unit tests (they run without VS Code).
import type * as vscode from "vscode";

/** Two files: a class with a method and doc comment, and a use of it. */
export const RATE_LIMITER_FILES = {
  "src/limiter.ts": "/** Token bucket. */\nexport class RateLimiter {\n  refill(): void {}\n}\n",
  "src/api.ts": 'import { RateLimiter } from "./limiter";\nconst limiter = new RateLimiter();\n',
};

/** A vscode.CancellationToken the test cancels itself; it counts its listeners (leaks show). */
export class FakeCancellationToken {
  isCancellationRequested = false;
  private listeners = new Set<() => void>();
  onCancellationRequested(listener: () => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }
  cancel(): void {
    this.isCancellationRequested = true;
    for (const l of this.listeners) l();
  }
  get listenerCount(): number {
    return this.listeners.size;
  }
  /** As the type the answerers take. */
  get token(): vscode.CancellationToken {
    return this as unknown as vscode.CancellationToken;
  }
}
