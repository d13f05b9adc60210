/**
 * Parse worker: receives batches of files, answers with their records. Runs in a worker_thread so that
 * tree-sitter never blocks the extension host (or the CLI's event loop), and can be restarted if the wasm
 * heap dies.
 */
import { parentPort } from "node:worker_threads";
import { SourceParser } from "../parse/extract";
import { processFile } from "./process-file";
import type { WorkerRequest, WorkerResponse } from "./worker-protocol";

const parser = new SourceParser();
// Tells the pool the script loaded: a crash after this is a file's fault, before it the worker's.
parentPort?.postMessage("ready");

parentPort?.on("message", async (request: WorkerRequest) => {
  const results = [];
  for (const file of request.files) results.push(await processFile(parser, file, request.options));
  const response: WorkerResponse = { batchId: request.batchId, results };
  parentPort?.postMessage(response);
});
