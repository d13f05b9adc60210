/**
 * `longview` command line: the same index, layout and engine the extension uses, without VS Code.
 *   longview index <dir...>        build or refresh the index, print what it holds and what it skipped
 *   longview find <symbol>         where a symbol is defined
 *   longview refs <symbol>         where a symbol is used
 *   longview ask <dir> "question"  answer a question about the repository (the model, else the index)
 *   longview layout <dir>          the repository as one sparse-attention sequence: stats + mask picture
 */
import { parseArgs } from "node:util";
import { DEFAULT_MAX_MODEL_MEMORY_MB } from "../answer/context-budget";
import { CLI_DEFAULT_MAX_CONTEXT, commandAsk, parseBackend, parseMemoryMB } from "./ask-command";
import { commandFind, commandIndex, commandRefs } from "./commands";
import { commandLayout } from "./layout-command";

const USAGE = `usage:
  longview index <dir...> [--threads N] [--exclude GLOB]... [--fresh] [--json] [--verbose]
  longview find <symbol> [--dir DIR] [--json]
  longview refs <symbol> [--dir DIR] [--json]
  longview ask <dir> "question" [--index-only] [--model DIR] [--backend auto|cpu|js|webgpu|cuda]
                [--max-context N] [--max-model-memory MB] [--max-new-tokens N] [--json]
  longview layout <dir> [--block 64] [--heads 8] [--budget 128] [--max-tokens N] [--png FILE] [--json]
options:
  --store DIR     where the index is kept (default: $XDG_CACHE_HOME/longview/<hash of the folder>)
  --no-store      do not read or write a stored index
  --threads N     parse workers (default: number of cores; 0 parses on the main thread)
ask:
  --index-only    answer from the index (no model)
  --model DIR     a model folder (default: the bundled model); without a usable model the index answers
  --backend B     attention backend: auto (default), cpu, js (TypeScript only), webgpu, cuda
  --max-context N tokens of the repository in the model's context (default ${CLI_DEFAULT_MAX_CONTEXT}; the extension: longview.maxContextTokens)
  --max-model-memory MB  most memory for the model's KV cache (default ${DEFAULT_MAX_MODEL_MEMORY_MB}; it bounds the context too)
  --max-new-tokens N  longest answer in tokens (default 256)`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      dir: { type: "string", multiple: true },
      store: { type: "string" },
      "no-store": { type: "boolean" },
      threads: { type: "string" },
      exclude: { type: "string", multiple: true },
      fresh: { type: "boolean" },
      json: { type: "boolean" },
      verbose: { type: "boolean", short: "v" },
      help: { type: "boolean", short: "h" },
      block: { type: "string" },
      heads: { type: "string" },
      budget: { type: "string" },
      "max-tokens": { type: "string" },
      png: { type: "string" },
      "index-only": { type: "boolean" },
      model: { type: "string" },
      backend: { type: "string" },
      "max-context": { type: "string" },
      "max-model-memory": { type: "string" },
      "max-new-tokens": { type: "string" },
    },
  });
  const [command, ...args] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 2;
  }
  const common = {
    store: values["no-store"] ? null : values.store,
    threads: values.threads !== undefined ? Number(values.threads) : undefined,
    exclude: values.exclude,
    json: !!values.json,
    verbose: !!values.verbose,
    fresh: !!values.fresh,
  };
  switch (command) {
    case "index":
      return commandIndex(args.length ? args : ["."], common);
    case "find":
      return commandFind(args[0], values.dir ?? ["."], common);
    case "refs":
      return commandRefs(args[0], values.dir ?? ["."], common);
    case "layout":
      return commandLayout(args[0], {
        ...common,
        blockSize: Number(values.block ?? 64),
        heads: Number(values.heads ?? 8),
        budget: Number(values.budget ?? 128),
        maxTokens: Number(values["max-tokens"] ?? 1 << 20),
        png: values.png,
      });
    case "ask":
      return commandAsk(args[0], args.slice(1).join(" "), {
        ...common,
        indexOnly: !!values["index-only"],
        model: values.model,
        backend: parseBackend(values.backend),
        maxContext: Number(values["max-context"] ?? CLI_DEFAULT_MAX_CONTEXT),
        maxModelMemoryMB: parseMemoryMB(values["max-model-memory"]),
        maxNewTokens: Number(values["max-new-tokens"] ?? 256),
      });
    default:
      console.error(`unknown command ${command}\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`longview: ${error.message}`);
    process.exit(1);
  },
);
