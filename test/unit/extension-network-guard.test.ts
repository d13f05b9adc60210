// The e2e suites run the extension host under test/e2e/lib/guard-preload.cjs and conclude "Longview attempted no
// connection" from its log: that conclusion is only as good as the guard, so the guard itself is tested here, in
// a real Node process, against a real local server.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";

const preload = path.resolve(__dirname, "../e2e/lib/guard-preload.cjs");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "longview-guard-"));
let server: http.Server;
let port = 0;
let hits = 0;
let ipcServer: net.Server;
const socketPath = path.join(dir, "ipc.sock");

before(async () => {
  server = http.createServer((_req, res) => {
    hits++;
    res.end("reached");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as net.AddressInfo).port;
  ipcServer = net.createServer((s) => s.end("ipc ok"));
  await new Promise<void>((r) => ipcServer.listen(socketPath, r));
});
after(() => {
  server.close();
  ipcServer.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Each probe tries one way out and prints "<name> blocked|REACHED <detail>". */
const PROBES = `
const net = require("node:net"), http = require("node:http"), dns = require("node:dns"), dgram = require("node:dgram");
const { Worker } = require("node:worker_threads");
const port = Number(process.env.PORT);
const out = (name, ok, detail) => console.log(name + " " + (ok ? "REACHED" : "blocked") + " " + (detail || ""));
const probes = [
  () => new Promise((r) => { const s = net.connect(port, "127.0.0.1"); s.on("connect", () => { out("tcp", true); s.destroy(); r(); }); s.on("error", (e) => { out("tcp", false, e.code); r(); }); }),
  () => new Promise((r) => http.get("http://127.0.0.1:" + port + "/", (res) => { out("http", true); res.resume(); r(); }).on("error", (e) => { out("http", false, e.code); r(); })),
  () => fetch("http://127.0.0.1:" + port + "/").then(() => out("fetch", true), (e) => out("fetch", false, e.cause && e.cause.code)),
  () => new Promise((r) => dns.lookup("example.com", (e) => { out("dns", !e, e && e.code); r(); })),
  () => dns.promises.resolve4("example.com").then(() => out("dns-promise", true), (e) => out("dns-promise", false, e.code)),
  () => new Promise((r) => { const s = dgram.createSocket("udp4"); s.send("x", port, "127.0.0.1", (e) => { out("udp", !e, e && e.code); s.close(); r(); }); }),
  () => new Promise((r) => { const s = net.connect(process.env.IPC); s.on("data", (d) => { out("ipc", String(d) === "ipc ok"); s.destroy(); r(); }); s.on("error", (e) => { out("ipc", false, e.code); r(); }); }),
  () => new Promise((r) => { const w = new Worker("const net=require('node:net');const s=net.connect(Number(process.env.PORT),'127.0.0.1');s.on('connect',()=>{console.log('worker-tcp REACHED');s.destroy()});s.on('error',(e)=>console.log('worker-tcp blocked '+e.code));", { eval: true }); w.on("exit", r); }),
];
// Outside an extension host the probes would really go out: only the local ones run there.
(async () => { for (const p of process.env.ONLY_LOCAL ? probes.slice(0, 2) : probes) await p(); })();
`;

async function runProbes(args: string[], log: string, onlyLocal = false): Promise<string> {
  const script = path.join(dir, "probes.js");
  fs.writeFileSync(script, PROBES);
  const { stdout } = await promisify(execFile)(process.execPath, ["--require", preload, script, ...args], {
    env: { ...process.env, PORT: String(port), IPC: socketPath, LONGVIEW_GUARD_LOG: log, LONGVIEW_GUARD_ACTIVE: "", ONLY_LOCAL: onlyLocal ? "1" : "" },
  });
  return stdout;
}

test("in an extension host, every way out is blocked and logged; local IPC still works", async () => {
  const log = path.join(dir, "host.jsonl");
  hits = 0;
  const stdout = await runProbes(["--type=extensionHost"], log);
  for (const name of ["tcp", "http", "fetch", "dns", "dns-promise", "udp", "worker-tcp"]) assert.match(stdout, new RegExp(`^${name} blocked`, "m"), stdout);
  assert.match(stdout, /^ipc REACHED/m);
  assert.equal(hits, 0, "the local server saw no request");
  const entries = fs.readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { event: string; what: string; target: string; stack: string[] });
  const blocked = entries.filter((e) => e.event === "blocked");
  for (const what of ["net.Socket#connect", "fetch", "dns.lookup", "dns.promises.resolve4", "dgram.Socket#send"]) {
    assert.ok(blocked.some((e) => e.what === what), `no blocked ${what} in the log: ${JSON.stringify(blocked.map((e) => e.what))}`);
  }
  assert.ok(blocked.every((e) => e.stack.some((l) => l.includes("probes.js") || l.includes("[worker eval]") || l.includes("node:"))), "each entry names its caller");
  assert.ok(entries.some((e) => e.event === "installed" && e.what === "extension host worker"), "worker threads are guarded too");
});

test("outside an extension host the guard does nothing", async () => {
  const log = path.join(dir, "other.jsonl");
  hits = 0;
  const stdout = await runProbes([], log, true);
  assert.match(stdout, /^tcp REACHED/m);
  assert.match(stdout, /^http REACHED/m);
  assert.ok(hits >= 1, "the HTTP probe reached the server");
  assert.equal(fs.existsSync(log), false);
});
