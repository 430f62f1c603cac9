// What the dispatcher's checks cost on PUT /v1/contexts/{sha256}: the real
// dispatcher (local executor, nothing else running) stores a packed context
// while it hashes it and reads every tar entry (names, links, unpacked size);
// the baseline, in the same run, is a bare node:http server that only
// streams the same body to disk while hashing it — what storing costs with
// no check at all. Both on loopback, same file, alternating, median of runs.
// A third row, in-process, is the floor any entry check pays: gunzip and
// tar-stream reading the same file with no HTTP and no disk writes; a fourth
// is the dispatcher's own ArchiveCheck over the same file the same way (one
// pass: entries checked, Dockerfiles kept), so the check's cost is a ratio
// to that floor (goal ≤ 1.1×).
//
//   npx tsx bench/context-upload.ts [files=10000] [runs=5]
//
// No bed needed.

import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import tar from "tar-stream";
import { Writable } from "node:stream";
import { ArchiveCheck } from "../dispatcher/contexts/archive-check.js";
import { packContext } from "../action/context.js";
import { signRequest } from "../dispatcher/protocol/request-signature.js";
import { resolveConfig } from "../dispatcher/config/validate.js";
import { freePort } from "../test/integration/harness.js";
import { startDispatcher } from "../dispatcher/dispatcher.js";
import pino from "pino";

const files = Number(process.argv[2] ?? 10_000);
const runs = Number(process.argv[3] ?? 5);
const secret = "bench-shared-secret-0123456789abcdef0123456789";

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const mib = (bytes: number) => bytes / 1024 / 1024;

// --- a context like a real repository: many small source files, a few large binaries
let seed = 7;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const tree = mkdtempSync(join(tmpdir(), "dh-bench-upload-tree-"));
for (let i = 0; i < files; i++) {
  const dir = join(tree, `src/m${i % 50}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `f${i}.ts`), `export const v${i} = ${JSON.stringify("x".repeat(200 + Math.floor(random() * 4000)))};\n`);
}
mkdirSync(join(tree, "bin"), { recursive: true });
for (let i = 0; i < 4; i++) {
  const blob = Buffer.alloc(8 * 1024 * 1024);
  for (let j = 0; j < blob.length; j += 4) blob.writeUInt32LE(Math.floor(random() * 2 ** 32), j);
  writeFileSync(join(tree, `bin/tool${i}.exe`), blob);
}
writeFileSync(join(tree, "Dockerfile"), "FROM scratch\nCOPY . /\n");
const out = mkdtempSync(join(tmpdir(), "dh-bench-upload-out-"));
const archive = join(out, "ctx.tar.gz");
const packed = await packContext({ contextDir: tree, dockerfile: "Dockerfile", outFile: archive });
const size = statSync(archive).size;
console.log(`context: ${files + 5} files, ${mib(size).toFixed(1)} MiB tar.gz, ${packed.digest}`);

function put(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "PUT", headers: { "content-type": "application/gzip", "content-length": String(size), ...headers } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    createReadStream(archive).pipe(req);
  });
}

async function timed(send: () => Promise<number>): Promise<number> {
  const started = performance.now();
  const status = await send();
  if (status !== 201 && status !== 200) throw new Error(`upload answered HTTP ${status}`);
  return (performance.now() - started) / 1000;
}

// --- the baseline: stream to disk while hashing, nothing else
const bareDir = mkdtempSync(join(tmpdir(), "dh-bench-upload-bare-"));
let bareCount = 0;
const bare = createServer(async (req, res) => {
  const hash = createHash("sha256");
  req.on("data", (chunk: Buffer) => hash.update(chunk));
  await pipeline(req, createWriteStream(join(bareDir, `${bareCount++}.tar.gz`)));
  hash.digest("hex");
  res.writeHead(201).end();
});
await new Promise<void>((resolve) => bare.listen(0, "127.0.0.1", resolve));
const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}/`;

// --- the dispatcher, as `npm start` runs it but with a shared secret
const hex = packed.digest.slice("sha256:".length);
async function dispatcherRun(): Promise<number> {
  // A fresh store each time: a stored digest is answered without reading the body.
  const dir = mkdtempSync(join(tmpdir(), "dh-bench-upload-store-"));
  const config = resolveConfig(
    {
      listen: { host: "127.0.0.1", port: await freePort() },
      publicUrl: "http://127.0.0.1",
      executor: "local",
      contexts: { dir, signingKey: "bench-signing-key-0123456789abcdef0123456789", maxBytes: 4 * 1024 ** 3 },
      auth: { sharedSecrets: [{ name: "bench", secret, repositories: ["*"] }] },
    },
    {},
    "bench",
  );
  const dispatcher = await startDispatcher(config, { logger: pino({ level: "error" }) });
  try {
    const path = `/v1/contexts/${hex}`;
    return await timed(() => put(`${dispatcher.url}${path}`, { ...signRequest(secret, "PUT", path, hex) }));
  } finally {
    await dispatcher.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function unpackOnly(): Promise<number> {
  const started = performance.now();
  const extract = tar.extract();
  // zlib's chunks at 64 KiB, as the dispatcher's check reads them: the floor at its best, not at zlib's default 16 KiB.
  const reading = pipeline(createReadStream(archive), createGunzip({ chunkSize: 64 * 1024 }), extract);
  for await (const entry of extract) entry.resume();
  await reading;
  return (performance.now() - started) / 1000;
}

async function checkOnly(): Promise<number> {
  const started = performance.now();
  const check = new ArchiveCheck({ archiveLabel: "bench", maxUnpackedBytes: 16 * 1024 ** 3, keep: (name) => name.toLowerCase().includes("dockerfile"), maxKeptBytes: 1024 * 1024 });
  await pipeline(createReadStream(archive), check, new Writable({ write: (_chunk, _encoding, done) => done() }));
  if (check.problem) throw check.problem;
  if (!check.kept.get("Dockerfile")?.content) throw new Error("the check kept no Dockerfile");
  return (performance.now() - started) / 1000;
}

const dispatcherSeconds: number[] = [];
const checkSeconds: number[] = [];
const bareSeconds: number[] = [];
const unpackSeconds: number[] = [];
for (let i = 0; i < runs; i++) {
  bareSeconds.push(await timed(() => put(bareUrl, {})));
  dispatcherSeconds.push(await dispatcherRun());
  unpackSeconds.push(await unpackOnly());
  checkSeconds.push(await checkOnly());
}
await new Promise((r) => bare.close(r));
rmSync(bareDir, { recursive: true, force: true });
rmSync(tree, { recursive: true, force: true });
rmSync(out, { recursive: true, force: true });

const d = median(dispatcherSeconds);
const b = median(bareSeconds);
console.log(`| path | s | MiB/s |`);
console.log(`| --- | --- | --- |`);
console.log(`| dispatcher PUT /v1/contexts (hash + archive check + store) | ${d.toFixed(2)} | ${(mib(size) / d).toFixed(1)} |`);
console.log(`| bare node:http (hash + store) | ${b.toFixed(2)} | ${(mib(size) / b).toFixed(1)} |`);
const u = median(unpackSeconds);
console.log(`| in-process gunzip + tar-stream read, nothing else | ${u.toFixed(2)} | ${(mib(size) / u).toFixed(1)} |`);
const c = median(checkSeconds);
console.log(`| in-process ArchiveCheck (every entry checked, Dockerfiles kept), nothing else | ${c.toFixed(2)} | ${(mib(size) / c).toFixed(1)} |`);
console.log(`ratio ArchiveCheck/unpack floor: ${(c / u).toFixed(2)}× (goal ≤ 1.1×; runs ${checkSeconds.map((s) => s.toFixed(2)).join(" / ")} vs ${unpackSeconds.map((s) => s.toFixed(2)).join(" / ")})`);
console.log(`load average at end: ${(await import("node:fs")).readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
console.log(`ratio dispatcher/bare: ${(d / b).toFixed(2)}×, dispatcher/unpack-only: ${(d / u).toFixed(2)}× (runs: ${dispatcherSeconds.map((s) => s.toFixed(2)).join(" / ")} vs ${bareSeconds.map((s) => s.toFixed(2)).join(" / ")})`);
