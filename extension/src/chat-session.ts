/**
 * The chat's conversation, per workspace: questions with their answers, kept in the workspace's state
 * (VS Code's workspaceState) so the history survives closing the view and restarting VS Code. No `vscode`
 * import: the store is any Memento-like object, so this runs in unit tests too.
 *
 * Saved on every state change of an entry (asked, answered, stopped, failed, cleared), not on each streamed
 * chunk. Bounded: the oldest entries go first when there are too many or they grow too large.
 */
import type { AnswerContent, ChatEntry } from "../../webview/src/protocol";

/** What VS Code's Memento offers (workspaceState), as far as the session needs it. */
export interface StateStore {
  get<T>(key: string): T | undefined;
  update(key: string, value: unknown): PromiseLike<void>;
}

export interface ChatSessionLimits {
  maxEntries: number;
  /** Upper bound on the JSON size of the saved history. */
  maxChars: number;
}

export const HISTORY_KEY = "longview.chat.history";
const FORMAT = 1;
const DEFAULT_LIMITS: ChatSessionLimits = { maxEntries: 100, maxChars: 2_000_000 };

interface Saved {
  format: number;
  entries: ChatEntry[];
}

const STATES = new Set<ChatEntry["state"]>(["answering", "done", "stopped", "error"]);

/** A stored entry is used only if it has the shape the webview expects: the store may hold anything. */
function isEntry(e: unknown): e is ChatEntry {
  if (typeof e !== "object" || e === null) return false;
  const o = e as Record<string, unknown>;
  if (typeof o.id !== "string" || typeof o.question !== "string" || !STATES.has(o.state as ChatEntry["state"]) || typeof o.askedAt !== "number") return false;
  if (o.answer === undefined) return true;
  const a = o.answer as Record<string, unknown>;
  return typeof a === "object" && a !== null && typeof a.markdown === "string" && Array.isArray(a.citations) && Array.isArray(a.files) && (a.source === "index" || a.source === "model");
}

export class ChatSession {
  private list: ChatEntry[];
  private counter = 0;
  /** Why stored history was (partly) dropped on load, for the log. */
  readonly loadProblems: string[] = [];

  constructor(
    private readonly store: StateStore,
    private readonly limits: ChatSessionLimits = DEFAULT_LIMITS,
    private readonly now: () => number = Date.now,
  ) {
    this.list = this.load();
  }

  private load(): ChatEntry[] {
    const saved = this.store.get<Saved>(HISTORY_KEY);
    if (saved === undefined) return [];
    if (typeof saved !== "object" || saved === null || saved.format !== FORMAT || !Array.isArray(saved.entries)) {
      this.loadProblems.push("the saved chat history has an unknown format; starting a new one");
      return [];
    }
    const entries = saved.entries.filter(isEntry);
    if (entries.length < saved.entries.length) this.loadProblems.push(`${saved.entries.length - entries.length} malformed chat entries dropped`);
    // An answer in progress when VS Code closed never finished.
    return entries.map((e) => (e.state === "answering" ? { ...e, state: "stopped" } : e));
  }

  entries(): readonly ChatEntry[] {
    return this.list;
  }

  get(id: string): ChatEntry | undefined {
    return this.list.find((e) => e.id === id);
  }

  /** The questions asked, oldest first (the composer's Up key walks back through them). */
  questions(): string[] {
    return this.list.map((e) => e.question);
  }

  start(question: string): ChatEntry {
    const entry: ChatEntry = { id: `${this.now().toString(36)}-${(this.counter++).toString(36)}`, question, state: "answering", askedAt: this.now() };
    this.list.push(entry);
    void this.save();
    return entry;
  }

  /** An answer arrived (whole or a streamed part so far); `done` finishes the entry. */
  answer(id: string, content: AnswerContent, done: boolean): void {
    const e = this.get(id);
    if (!e || e.state !== "answering") return;
    e.answer = content;
    if (done) {
      e.state = "done";
      void this.save();
    }
  }

  stop(id: string): void {
    this.finish(id, "stopped");
  }

  fail(id: string, message: string): void {
    this.finish(id, "error", message);
  }

  private finish(id: string, state: "stopped" | "error", error?: string): void {
    const e = this.get(id);
    if (!e || e.state !== "answering") return;
    e.state = state;
    if (error !== undefined) e.error = error;
    void this.save();
  }

  clear(): Promise<void> {
    this.list = [];
    return this.save();
  }

  private trim(): void {
    while (this.list.length > this.limits.maxEntries) this.list.shift();
    while (this.list.length > 1 && JSON.stringify(this.list).length > this.limits.maxChars) this.list.shift();
  }

  private async save(): Promise<void> {
    this.trim();
    const saved: Saved = { format: FORMAT, entries: this.list };
    await this.store.update(HISTORY_KEY, saved);
  }
}
