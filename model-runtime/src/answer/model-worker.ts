/**
 * The model worker (dist/model-worker.js): runs ModelService off the caller's thread, so loading the model and
 * prefilling a repository (tens of seconds) never block the extension host or the CLI's event loop. Requests come
 * as messages (model-protocol.ts); each has an AbortController that a "cancel" message fires.
 */
import { parentPort } from "node:worker_threads";
import type { ModelRequest, ModelResponse, WireError } from "./model-protocol";
import { ModelService } from "./model-service";

const port = parentPort;
if (!port) throw new Error("model-worker.ts runs as a worker thread");
const send = (m: ModelResponse) => port.postMessage(m);
const service = new ModelService({
  status: (status) => send({ type: "status", status }),
  progress: (progress) => send({ type: "progress", progress }),
  log: (message) => send({ type: "log", message }),
});
const controllers = new Map<number, AbortController>();

function wire(e: unknown): WireError {
  const err = e as Error & { code?: string; reason?: WireError["reason"]; file?: string };
  return { name: err?.name ?? "Error", message: err?.message ?? String(e), code: err?.code, reason: err?.reason, file: err?.file };
}

async function handle(req: Exclude<ModelRequest, { type: "cancel" }>, signal: AbortSignal): Promise<void> {
  switch (req.type) {
    case "open":
      send({ type: "result", id: req.id, status: await service.open(req.opts) });
      return;
    case "prefill":
      await service.prefill(signal);
      break;
    case "ask": {
      const opts = { maxNewTokens: req.maxNewTokens, temperature: req.temperature, signal };
      for await (const event of req.explain ? service.explain(req.question, opts) : service.ask(req.question, opts)) send({ type: "event", id: req.id, event });
      break;
    }
    case "update":
      await service.updateFiles(req.changed, req.removed, signal);
      break;
    case "close":
      await service.close();
      break;
  }
  send({ type: "result", id: req.id, status: service.status() });
}

port.on("message", (req: ModelRequest) => {
  if (req.type === "cancel") {
    controllers.get(req.id)?.abort();
    return;
  }
  // Closing stops whatever is running (answers, prefill, updates) instead of waiting for it.
  if (req.type === "close") for (const c of controllers.values()) c.abort();
  const controller = new AbortController();
  controllers.set(req.id, controller);
  handle(req, controller.signal)
    .catch((e) => send({ type: "error", id: req.id, error: wire(e) }))
    .finally(() => controllers.delete(req.id));
});
send({ type: "ready" });
