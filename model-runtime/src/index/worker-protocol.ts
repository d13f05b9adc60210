import type { FileCandidate } from "../workspace/walker";
import type { ProcessResult } from "./process-file";
import type { IndexOptions } from "./types";

export interface WorkerRequest {
  batchId: number;
  files: FileCandidate[];
  options: IndexOptions;
}

export interface WorkerResponse {
  batchId: number;
  results: ProcessResult[];
}
