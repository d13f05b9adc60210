// The e2e "sandbox" of the extension host: loaded with `node --require` into code-server, whose server forks the
// extension host with its own execArgv, so this file runs first in every extension host (and in its worker
// threads, which inherit execArgv). Elsewhere (code-server's server, pty host, file watcher) it does nothing.
//
// In the extension host it
// - BLOCKS every network attempt: TCP/TLS connects (net.Socket#connect, which http, https, http2, tls, undici
//   and fetch all go through), DNS (dns.* and dns.promises.*), UDP (dgram), fetch and WebSocket. A blocked call
//   fails the way an offline machine fails (ECONNREFUSED / ENOTFOUND), so callers see an ordinary error;
// - allows only local IPC (a socket with a `path`: Unix socket or named pipe), which VS Code itself uses;
// - RECORDS each attempt, blocked or not, and every native addon loaded (process.dlopen), as JSON lines in
//   $LONGVIEW_GUARD_LOG with the caller's stack, so a test can say WHO tried (Longview or another extension).
//
// Written as CommonJS on purpose: --require loads it before anything else, untranspiled, in Node 24.
"use strict";
const fs = require("node:fs");
const { isMainThread, threadId } = require("node:worker_threads");

const LOG = process.env.LONGVIEW_GUARD_LOG;
const inExtensionHost = isMainThread ? process.argv.includes("--type=extensionHost") : process.env.LONGVIEW_GUARD_ACTIVE === "1";

function record(event, detail) {
  const stack = (new Error().stack || "").split("\n").slice(3, 40).map((l) => l.trim());
  try {
    fs.appendFileSync(LOG, JSON.stringify({ event, pid: process.pid, thread: threadId, time: Date.now(), ...detail, stack }) + "\n");
  } catch {
    // the log folder is gone (test over): nothing left to tell
  }
}

function offlineError(code, what) {
  const e = new Error(`${code}: blocked by the Longview e2e network guard (${what})`);
  e.code = code;
  e.errno = code === "ENOTFOUND" ? -3008 : -111;
  return e;
}

function install() {
  // Worker threads copy process.env at creation: this marks them as part of the extension host.
  process.env.LONGVIEW_GUARD_ACTIVE = "1";
  const net = require("node:net");
  const dns = require("node:dns");
  const dgram = require("node:dgram");
  const http = require("node:http");
  const https = require("node:https");

  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function guardedConnect(...args) {
    // net.connect() passes [options, callback] marked with an internal symbol; people pass (options), (port,
    // host) or (path).
    const first = Array.isArray(args[0]) ? args[0][0] : args[0];
    const options = typeof first === "object" && first !== null ? first : typeof first === "string" && Number.isNaN(Number(first)) ? { path: first } : { port: first, host: args[1] };
    if (options.path) {
      record("ipc", { what: "net.Socket#connect", target: String(options.path) });
      return connect.apply(this, args);
    }
    const target = `${options.host ?? "localhost"}:${options.port}`;
    record("blocked", { what: "net.Socket#connect", target });
    process.nextTick(() => this.destroy(offlineError("ECONNREFUSED", `connect ${target}`)));
    return this;
  };

  const failLookup = (name) =>
    function guardedDns(host, ...rest) {
      record("blocked", { what: `dns.${name}`, target: String(host) });
      const callback = rest.reverse().find((a) => typeof a === "function");
      if (callback) process.nextTick(() => callback(offlineError("ENOTFOUND", `${name} ${host}`)));
    };
  const rejectLookup = (name) =>
    async function guardedDnsPromise(host) {
      record("blocked", { what: `dns.promises.${name}`, target: String(host) });
      throw offlineError("ENOTFOUND", `${name} ${host}`);
    };
  for (const name of Object.keys(dns)) {
    if (name === "lookup" || name === "lookupService" || /^resolve/.test(name) || name === "reverse") dns[name] = failLookup(name);
  }
  for (const name of Object.keys(dns.promises)) {
    if (name === "lookup" || name === "lookupService" || /^resolve/.test(name) || name === "reverse") dns.promises[name] = rejectLookup(name);
  }
  for (const proto of [dns.Resolver.prototype, dns.promises.Resolver.prototype]) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (/^resolve|^reverse/.test(name)) proto[name] = proto === dns.Resolver.prototype ? failLookup(`Resolver#${name}`) : rejectLookup(`Resolver#${name}`);
    }
  }

  for (const method of ["send", "connect"]) {
    const original = dgram.Socket.prototype[method];
    dgram.Socket.prototype[method] = function guardedUdp(...args) {
      record("blocked", { what: `dgram.Socket#${method}`, target: args.filter((a) => typeof a !== "function" && typeof a !== "object").join(" ") });
      const callback = args.find((a) => typeof a === "function");
      if (callback) process.nextTick(() => callback(offlineError("ECONNREFUSED", `udp ${method}`)));
      void original;
    };
  }

  // http(s).request end at net.Socket#connect (blocked there); recorded here too for the URL.
  for (const [mod, scheme] of [[http, "http"], [https, "https"]]) {
    for (const name of ["request", "get"]) {
      const original = mod[name];
      mod[name] = function guardedRequest(...args) {
        const a = args[0];
        const options = typeof a === "string" || a instanceof URL ? (typeof args[1] === "object" ? args[1] : {}) : a ?? {};
        if (options.socketPath) {
          // A request over a Unix socket (code-server's own IPC): local, not network.
          record("ipc", { what: `${scheme}.${name}`, target: `${options.socketPath} ${options.path ?? ""}` });
          return original.apply(this, args);
        }
        const target = typeof a === "string" || a instanceof URL ? String(a) : `${scheme}://${a?.hostname ?? a?.host ?? "localhost"}${a?.port ? `:${a.port}` : ""}${a?.path ?? ""}`;
        record("attempt", { what: `${scheme}.${name}`, target });
        return original.apply(this, args);
      };
    }
  }

  if (typeof globalThis.fetch === "function") {
    globalThis.fetch = async function guardedFetch(input) {
      const target = typeof input === "string" ? input : input?.url ?? String(input);
      record("blocked", { what: "fetch", target });
      throw new TypeError("fetch failed", { cause: offlineError("ECONNREFUSED", `fetch ${target}`) });
    };
  }
  if (typeof globalThis.WebSocket === "function") {
    globalThis.WebSocket = function GuardedWebSocket(url) {
      record("blocked", { what: "WebSocket", target: String(url) });
      throw offlineError("ECONNREFUSED", `WebSocket ${url}`);
    };
  }

  const dlopen = process.dlopen;
  process.dlopen = function guardedDlopen(module, filename, ...rest) {
    record("dlopen", { what: "process.dlopen", target: String(filename) });
    return dlopen.call(this, module, filename, ...rest);
  };

  record("installed", { what: isMainThread ? "extension host" : "extension host worker", target: process.argv.slice(1).join(" ") });
}

if (LOG && inExtensionHost) install();
