// Who may call what, on the real bed: signed requests (replay, stale, wrong
// secret, a secret scoped to other repositories), reads by build id, cancels
// only for the build's own repository, signed context URLs that open one
// context for one build and nothing else, and no credential in Job specs,
// logs or answers.
import { createHash, randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import { Writable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signRequest } from "../../dispatcher/protocol/request-signature.js";
import { resolveConfig } from "../../dispatcher/config/validate.js";
import { type Dispatcher, startDispatcher } from "../../dispatcher/dispatcher.js";
import { tarGz } from "../bed/context-server.js";
import { type Bed, bedSharedSecret, buildRequest, cancelBuild, ctx, dockerPoolWithoutLtsc2025Nodes, freePort, postBuild, setUpBed, signedFetch, uploadContext } from "../integration/harness.js";
import { startLocalIssuer, githubClaims, type LocalIssuer } from "./oidc-issuer.js";
import { audience, bearerFetch, repository, sha } from "./secure-bed.js";

let bed: Bed;
let dispatcher: Dispatcher;
let issuer: LocalIssuer;
let raw: Record<string, any>;
let context = "";
const logLines: string[] = [];
const scopedSecret = "scoped-secret-for-other-repositories-0123456789";

beforeAll(async () => {
  bed = await setUpBed("dh-sec-access");
  issuer = await startLocalIssuer({ audience, claims: githubClaims(repository, sha) });
  const port = await freePort();
  raw = {
    ...bed.rawConfig(port),
    auth: {
      oidc: { issuer: issuer.url, audience },
      sharedSecrets: [
        { name: "bed", secret: bedSharedSecret, repositories: ["*"] },
        { name: "scoped", secret: scopedSecret, repositories: ["other-org/*"] },
      ],
    },
    policy: { repositories: [{ repository: "*", imagePrefixes: [bed.env.REGISTRY], dockerPool: { refs: ["refs/heads/*"] } }] },
    limits: { unschedulableAfterSeconds: 3600, activeDeadlineSeconds: 600, ttlSecondsAfterFinished: 600 },
    dockerPool: dockerPoolWithoutLtsc2025Nodes(),
  };
  // Every line the dispatcher logs, at debug, to look for credentials in.
  const sink = new Writable({ write: (chunk, _encoding, done) => (logLines.push(String(chunk)), done()) });
  dispatcher = await startDispatcher(resolveConfig(raw, {}, "access"), { logger: pino({ level: "debug" }, sink), reloadConfig: async () => resolveConfig(raw, {}, "access") });
  // No node of the ltsc2025 pool: these builds stay queued until cancelled.
  context = await uploadContext(dispatcher.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo waits\n`));
});

afterAll(async () => {
  await dispatcher?.close();
  await issuer?.close();
  await bed?.close();
});

const request = (key: string, overrides: Record<string, unknown> = {}) =>
  buildRequest(context, { platforms: ["windows/amd64:ltsc2025"], tags: [`${bed.env.REGISTRY}/bed/access:${key.replace(/\W/g, "-")}`], idempotencyKey: key, ...overrides });

async function jobs(): Promise<string[]> {
  return (await bed.k.batch.listNamespacedJob({ namespace: bed.namespace })).items.map((j) => j.metadata!.name!).sort();
}

describe("signed requests", () => {
  it("are accepted once: the same signed request again is refused", async () => {
    const body = JSON.stringify(request("access/replay"));
    const headers = { "content-type": "application/json", ...signRequest(bedSharedSecret, "POST", "/v1/builds", createHash("sha256").update(body).digest("hex")) };
    const first = await fetch(`${dispatcher.url}/v1/builds`, { method: "POST", headers, body });
    expect(first.status).toBe(202);
    const before = await jobs();
    const replayed = await fetch(`${dispatcher.url}/v1/builds`, { method: "POST", headers, body });
    expect(replayed.status).toBe(401);
    expect(await replayed.json()).toMatchObject({ field: "x-dockhand-nonce", error: "x-dockhand-nonce was already used: a signed request is accepted once" });
    expect(await jobs()).toEqual(before);
  });

  it.each([
    ["a stale timestamp", () => signRequest(bedSharedSecret, "POST", "/v1/builds", "", new Date(Date.now() - 600_000)), /timestamp is \d+ s away from the dispatcher's clock/, "x-dockhand-timestamp"],
    ["an unknown secret", () => signRequest("not-any-configured-secret-0123456789", "POST", "/v1/builds", ""), /signature does not match/, "x-hub-signature-256"],
    ["a signature of another body", () => signRequest(bedSharedSecret, "POST", "/v1/builds", createHash("sha256").update("{}").digest("hex")), /signature does not match/, "x-hub-signature-256"],
    ["a signature for another path", () => signRequest(bedSharedSecret, "POST", "/v1/contexts", ""), /signature does not match/, "x-hub-signature-256"],
  ])("refuses %s with 401, creating nothing", async (_name, sign, error, field) => {
    const body = JSON.stringify(request("access/refused"));
    const signed: Record<string, string> = { ...sign() };
    const before = await jobs();
    const res = await fetch(`${dispatcher.url}/v1/builds`, { method: "POST", headers: { "content-type": "application/json", ...signed }, body });
    expect(res.status).toBe(401);
    const answer = await res.json();
    expect(answer.error).toMatch(error);
    expect(answer.field).toBe(field);
    expect(await jobs()).toEqual(before);
  });

  it("refuses a secret scoped to other repositories with 403 naming it", async () => {
    const res = await signedFetch(`${dispatcher.url}/v1/builds`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(request("access/scoped")) }, scopedSecret);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ rule: "auth.sharedSecrets[scoped].repositories", field: "repository" });
  });

  it("refuses both credentials at once", async () => {
    const res = await fetch(`${dispatcher.url}/v1/builds`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${await issuer.token()}`, ...signRequest(bedSharedSecret, "POST", "/v1/builds", "") }, body: "{}" });
    expect(res.status).toBe(401);
    expect((await res.json()).error).toMatch(/both an Authorization header and a request signature/);
  });
});

// Issue 11: a signature covers the exact bytes received, whatever the content
// type; a body the route does not take is a 415 naming what it takes, before
// any credential is judged.
describe("the signature covers the exact bytes received", () => {
  const emptySha256 = createHash("sha256").update("").digest("hex");
  const hex = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex");

  it.each(["text/plain", "application/octet-stream", "application/gzip"])("POST /v1/builds as %s signed over an empty body: 415, nothing parsed or built", async (contentType) => {
    const before = await jobs();
    const res = await signedFetch(`${dispatcher.url}/v1/builds`, { method: "POST", headers: { "content-type": contentType }, body: JSON.stringify(request(`access/ct-${contentType}`)), bodySha256: emptySha256 });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ field: "content-type", error: expect.stringContaining("application/json") });
    expect(await jobs()).toEqual(before);
  });

  it("a text/plain build request signed over its real body: 415 naming application/json, not 401", async () => {
    const res = await signedFetch(`${dispatcher.url}/v1/builds`, { method: "POST", headers: { "content-type": "text/plain" }, body: JSON.stringify(request("access/text-plain")) });
    expect(res.status).toBe(415);
    const answer = await res.json();
    expect(answer).toMatchObject({ field: "content-type" });
    expect(answer.error).toMatch(/text\/plain/);
    expect(answer.error).toMatch(/application\/json/);
  });

  it("a context upload as text/plain: 415 naming the gzip types", async () => {
    const body = new Uint8Array(await tarGz({ Dockerfile: "FROM scratch\n" }));
    const res = await signedFetch(`${dispatcher.url}/v1/contexts/${hex(body)}`, { method: "PUT", headers: { "content-type": "text/plain" }, body });
    expect(res.status).toBe(415);
    expect((await res.json()).error).toMatch(/application\/gzip, application\/x-gzip, application\/octet-stream/);
  });

  it("a digest-mismatched upload signed over its real body: the digest error, not 401", async () => {
    const body = new Uint8Array(await tarGz({ Dockerfile: "FROM scratch\nLABEL mismatch=1\n" }));
    const other = "0".repeat(64);
    const res = await signedFetch(`${dispatcher.url}/v1/contexts/${other}`, { method: "PUT", headers: { "content-type": "application/gzip" }, body });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatch(/does not match its digest/);
  });

  it("an upload signed over the digest in its URL but carrying other bytes: 401, nothing stored", async () => {
    const real = new Uint8Array(await tarGz({ Dockerfile: "FROM scratch\nLABEL real=1\n" }));
    const sent = new Uint8Array(await tarGz({ Dockerfile: "FROM scratch\nLABEL swapped=1\n" }));
    const res = await signedFetch(`${dispatcher.url}/v1/contexts/${hex(real)}`, { method: "PUT", headers: { "content-type": "application/gzip" }, body: sent, bodySha256: hex(real) });
    expect(res.status).toBe(401);
    expect((await res.json()).error).toMatch(/signature does not match/);
    expect((await fetch(`${dispatcher.url}/v1/contexts/${hex(real)}`, { method: "HEAD" })).status).toBe(404);
    // The spooled bytes waited in a temp file for the check; a refusal removes it.
    await expect.poll(async () => (await readdir(dispatcher.config.contexts.dir)).filter((name) => name.startsWith(".upload-")), { timeout: 5000 }).toEqual([]);
  });

  it.each(["application/octet-stream", "application/json"])("a DELETE carrying a %s body signed over an empty body: 415, the build is not cancelled", async (contentType) => {
    const created = await postBuild(dispatcher.url, request(`access/delete-body-${contentType}`));
    expect(created.status).toBe(202);
    const res = await signedFetch(`${dispatcher.url}/v1/builds/${created.body.id}`, { method: "DELETE", headers: { "content-type": contentType }, body: "{}", bodySha256: emptySha256 });
    expect(res.status).toBe(415);
    expect((await res.json()).error).toMatch(/takes no body/);
    expect((await (await fetch(`${dispatcher.url}/v1/builds/${created.body.id}`)).json()).state).toBe("queued");
    expect((await cancelBuild(dispatcher.url, created.body.id)).status).toBe(202);
  });
});

describe("reading and cancelling builds", () => {
  let id = "";
  beforeAll(async () => {
    const res = await postBuild(dispatcher.url, request("access/read"));
    expect(res.status).toBe(202);
    id = res.body.id;
  });

  it("reads a build and its logs with the build id alone (auth.buildReads: capability)", async () => {
    expect((await fetch(`${dispatcher.url}/v1/builds/${id}`)).status).toBe(200);
    expect((await fetch(`${dispatcher.url}/v1/builds/${id}/logs`)).status).toBe(200);
  });

  it("keys build ids with the dispatcher's secret: the same repository and key give another id on another dispatcher", async () => {
    const { buildIdFromKey } = await import("../../dispatcher/plan/names.js");
    expect(id).toBe(buildIdFromKey(repository, "access/read", raw.contexts.signingKey));
    expect(id).not.toBe(buildIdFromKey(repository, "access/read"));
  });

  it("cancels only with credentials for the build's repository", async () => {
    const anonymous = await fetch(`${dispatcher.url}/v1/builds/${id}`, { method: "DELETE" });
    expect(anonymous.status).toBe(401);
    const stranger = await issuer.token({ claims: { repository: "other-org/app" } });
    const other = await bearerFetch(`${dispatcher.url}/v1/builds/${id}`, stranger, { method: "DELETE" });
    expect(other.status).toBe(403);
    expect(await other.json()).toMatchObject({ rule: "auth.repository", field: "id" });
    expect((await (await fetch(`${dispatcher.url}/v1/builds/${id}`)).json()).state).toBe("queued");
    const own = await bearerFetch(`${dispatcher.url}/v1/builds/${id}`, await issuer.token(), { method: "DELETE" });
    expect(own.status).toBe(202);
  });

  it("with auth.buildReads: authenticated, reads need credentials of the build's repository", async () => {
    const res = await postBuild(dispatcher.url, request("access/read-authenticated"));
    const readable = res.body.id as string;
    raw.auth = { ...raw.auth, buildReads: "authenticated" };
    expect((await dispatcher.reload()).applied).toEqual(["auth.buildReads"]);
    try {
      expect((await fetch(`${dispatcher.url}/v1/builds/${readable}`)).status).toBe(401);
      expect((await bearerFetch(`${dispatcher.url}/v1/builds/${readable}/logs`, await issuer.token({ claims: { repository: "other-org/app" } }))).status).toBe(403);
      expect((await bearerFetch(`${dispatcher.url}/v1/builds/${readable}`, await issuer.token())).status).toBe(200);
      expect((await signedFetch(`${dispatcher.url}/v1/builds/${readable}`)).status).toBe(200);
    } finally {
      raw.auth = { ...raw.auth, buildReads: "capability" };
      await dispatcher.reload();
      await cancelBuild(dispatcher.url, readable);
    }
  });
});

describe("signed context URLs", () => {
  let url: URL;
  let buildId: string;
  beforeAll(async () => {
    const res = await postBuild(dispatcher.url, request("access/context-url"));
    buildId = res.body.id;
    const job = await bed.k.batch.readNamespacedJob({ namespace: bed.namespace, name: res.body.platforms[0].job });
    const text = JSON.stringify(job.spec);
    url = new URL(/"(http:\/\/127\.0\.0\.1:\d+\/v1\/contexts\/[0-9a-f]{64}\/download\?[^"]+)"/.exec(text)![1]!);
  });
  afterAll(async () => {
    await cancelBuild(dispatcher.url, buildId);
  });

  it("open the build's own context", async () => {
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(createHash("sha256").update(Buffer.from(await res.arrayBuffer())).digest("hex")).toBe(context.slice(7));
  });

  const tampered: [string, (u: URL) => void][] = [
    ["another build", (u) => u.searchParams.set("build", "abcdefghijkl")],
    ["a later expiry", (u) => u.searchParams.set("expires", String(Number(u.searchParams.get("expires")) + 3600))],
    ["another digest", (u) => (u.pathname = u.pathname.replace(/[0-9a-f]{64}/, "0".repeat(64)))],
    ["no signature", (u) => u.searchParams.delete("sig")],
    ["a forged signature", (u) => u.searchParams.set("sig", randomBytes(32).toString("base64url"))],
  ];
  it.each(tampered)("refuse %s with 403", async (_name, change) => {
    const forged = new URL(url);
    change(forged);
    const res = await fetch(forged);
    expect(res.status).toBe(403);
    expect((await res.json()).field).toBe("sig");
  });

  // BuildKit writes the context URL, signature included, into provenance
  // attestations anyone who pulls the image can read.
  it("open nothing once their build has ended", async () => {
    const res = await postBuild(dispatcher.url, request("access/context-url-ended"));
    const job = await bed.k.batch.readNamespacedJob({ namespace: bed.namespace, name: res.body.platforms[0].job });
    const own = /"(http:\/\/127\.0\.0\.1:\d+\/v1\/contexts\/[0-9a-f]{64}\/download\?[^"]+)"/.exec(JSON.stringify(job.spec))![1]!;
    expect((await fetch(own)).status).toBe(200);
    await cancelBuild(dispatcher.url, res.body.id);
    const ended = await fetch(own);
    expect(ended.status).toBe(403);
    expect(await ended.json()).toMatchObject({ field: "build", error: "context URL belongs to a build that has ended" });
  });
});

describe("credentials stay out of specs, answers and logs", () => {
  it("keeps a build's GitHub token in a Secret only, and no token, signature or URL signature in any log line", async () => {
    const githubToken = `ghs_${randomBytes(18).toString("hex")}`;
    const oidcToken = await issuer.token();
    const res = await bearerFetch(`${dispatcher.url}/v1/builds`, oidcToken, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(request("access/token", { githubToken })) });
    expect(res.status).toBe(202);
    const answer = await res.text();
    expect(answer).not.toContain(githubToken);
    const build = JSON.parse(answer);
    const job = await bed.k.batch.readNamespacedJob({ namespace: bed.namespace, name: build.platforms[0].job });
    expect(JSON.stringify(job)).not.toContain(githubToken);
    const secretName = job.metadata?.annotations?.["dockhand.dev/github-token-secret"];
    const secret = await bed.k.core.readNamespacedSecret({ namespace: bed.namespace, name: secretName! });
    expect(Buffer.from(secret.data!.token!, "base64").toString()).toBe(githubToken);

    // A context download and a signed upload, so their lines are in the log too.
    const contextUrl = /"(http:\/\/[^"]+\/download\?[^"]+)"/.exec(JSON.stringify(job.spec))![1]!;
    await fetch(contextUrl);
    const body = await tarGz({ Dockerfile: "FROM scratch\n", n: String(Date.now()) });
    const hex = createHash("sha256").update(body).digest("hex");
    const signed = signRequest(bedSharedSecret, "PUT", `/v1/contexts/${hex}`, hex);
    await fetch(`${dispatcher.url}/v1/contexts/${hex}`, { method: "PUT", headers: { "content-type": "application/gzip", ...signed }, body: new Uint8Array(body) });
    await cancelBuild(dispatcher.url, build.id);
    await new Promise((r) => setTimeout(r, 2_000));

    const log = logLines.join("");
    expect(log).toContain("incoming request");
    expect(log).toContain("/download?build=");
    for (const secretText of [githubToken, oidcToken, oidcToken.split(".")[2]!, new URL(contextUrl).searchParams.get("sig")!, signed["x-hub-signature-256"].slice(7), bedSharedSecret, raw.contexts.signingKey]) {
      expect(log.includes(secretText), `log contains ${secretText.slice(0, 12)}…`).toBe(false);
    }
  });
});
