// GitHub Actions OIDC tokens against the real dispatcher on the real bed,
// minted by a local issuer with jose: a good token builds; every kind of bad
// one is refused with 401 (or 403 when a good token asks for another
// repository, commit or ref) and a reason, and creates nothing.
import { createHash } from "node:crypto";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tarGz } from "../bed/context-server.js";
import { buildRequest } from "../integration/harness.js";
import { bearerFetch, postWithToken, repository, type SecureBed, sha, startSecureBed } from "./secure-bed.js";

let sb: SecureBed;
let context = "";

async function uploadWithToken(url: string, token: string | undefined, files: Record<string, string>) {
  const body = await tarGz(files);
  const hex = createHash("sha256").update(body).digest("hex");
  const res = await bearerFetch(`${url}/v1/contexts/${hex}`, token, { method: "PUT", headers: { "content-type": "application/gzip" }, body: new Uint8Array(body) });
  return { status: res.status, body: await res.json(), digest: `sha256:${hex}` };
}

beforeAll(async () => {
  sb = await startSecureBed("dh-sec-oidc", [{ repository, imagePrefixes: ["127.0.0.1:15000"], dockerPool: { refs: ["refs/heads/main"] } }]);
  const uploaded = await uploadWithToken(sb.dispatcher.url, await sb.issuer.token(), { Dockerfile: `FROM ${sb.bed.env.LINUX_BASE_IMAGE}\nCOPY Dockerfile /d\n` });
  expect(uploaded.status, JSON.stringify(uploaded.body)).toBe(201);
  context = uploaded.digest;
});

afterAll(async () => {
  await sb?.close();
});

const request = (overrides: Record<string, unknown> = {}) =>
  buildRequest(context, { platforms: ["linux/amd64"], tags: [`${sb.bed.env.REGISTRY}/bed/oidc:1`], ...overrides });

describe("a valid token", () => {
  it("builds for its own repository, commit and ref, and labels the Jobs with its run", async () => {
    const before = await sb.jobs();
    const res = await postWithToken(sb.dispatcher.url, await sb.issuer.token(), request({ idempotencyKey: "oidc/valid" }));
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const job = await sb.bed.k.batch.readNamespacedJob({ namespace: sb.bed.namespace, name: res.body.platforms[0].job });
    expect(job.metadata?.labels).toMatchObject({ "dockhand.dev/run-id": "9876543210", "dockhand.dev/run-attempt": "1" });
    expect((await sb.jobs()).filter((j) => !before.includes(j))).toEqual([res.body.platforms[0].job]);
  });

  it("is needed to upload a context", async () => {
    const files = { Dockerfile: `FROM scratch\nCOPY x /x\n`, x: String(Date.now()) };
    const anonymous = await uploadWithToken(sb.dispatcher.url, undefined, files);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.field).toBe("authorization");
    expect((await bearerFetch(`${sb.dispatcher.url}/v1/contexts/${anonymous.digest.slice(7)}`, undefined, { method: "HEAD" })).status).toBe(404);
  });
});

describe("refused tokens create nothing", () => {
  const other = "octo-org/other-app";
  const cases: [string, () => Promise<string | undefined>, Record<string, unknown>, number, RegExp, string][] = [
    ["no token at all", async () => undefined, {}, 401, /no credentials/, "authorization"],
    ["a token for another audience", () => sb.issuer.token({ audience: "sts.amazonaws.com" }), {}, 401, /audience is not "dockhand-bed"/, "authorization"],
    ["a token from another issuer", () => sb.issuer.token({ issuer: "https://token.actions.githubusercontent.com" }), {}, 401, /issuer is not http:\/\/127\.0\.0\.1/, "authorization"],
    ["an expired token", () => sb.issuer.token({ expiresIn: -120, notBefore: -600, issuedAt: -600 }), {}, 401, /has expired/, "authorization"],
    ["a token not valid yet", () => sb.issuer.token({ notBefore: 600 }), {}, 401, /not valid yet/, "authorization"],
    ["a token issued in the future", () => sb.issuer.token({ issuedAt: 600, notBefore: -60 }), {}, 401, /issued in the future/, "authorization"],
    ["a token issued hours ago that has not expired", () => sb.issuer.token({ issuedAt: -7200, notBefore: -7200, expiresIn: 600 }), {}, 401, /issued more than 3600 s ago/, "authorization"],
    ["a token whose claims were changed after signing", async () => tamper(await sb.issuer.token(), { repository: other }), {}, 401, /signature does not verify/, "authorization"],
    ["a token signed by another key under a published kid", () => sb.issuer.token({ foreignKid: "key-1" }), {}, 401, /signature does not verify/, "authorization"],
    ["a token signed by a key the issuer does not publish", () => sb.issuer.token({ foreignKid: "key-unknown" }), {}, 401, /unknown kid/, "authorization"],
    ["a token with alg none", async () => sb.issuer.unsignedToken(), {}, 401, /not signed with RS256/, "authorization"],
    ["a token with alg HS256", async () => hs256Token(), {}, 401, /not signed with RS256/, "authorization"],
    ["something that is not a JWT", async () => "not-a.jwt", {}, 401, /not a well-formed signed JWT/, "authorization"],
    ["a valid token of another repository", () => sb.issuer.token({ claims: { repository: other } }), {}, 403, /is not the repository the OIDC token was issued for \("octo-org\/other-app"\)/, "repository"],
    ["a valid token asking for another repository", () => sb.issuer.token(), { repository: other }, 403, /is not the repository the OIDC token was issued for/, "repository"],
    ["a valid token of another commit", () => sb.issuer.token({ claims: { sha: "f".repeat(40) } }), {}, 403, /is not the sha the OIDC token was issued for/, "sha"],
    ["a valid token of another ref", () => sb.issuer.token({ claims: { ref: "refs/heads/feature" } }), {}, 403, /is not the ref the OIDC token was issued for/, "ref"],
  ];

  it.each(cases)("%s", async (_name, token, overrides, status, error, field) => {
    const before = await sb.jobs();
    const res = await postWithToken(sb.dispatcher.url, await token(), request(overrides));
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(res.body.error).toMatch(error);
    expect(res.body.field).toBe(field);
    expect(res.body.hint).toBeTruthy();
    if (status === 401) expect(res.headers.get("www-authenticate")).toBe('Bearer realm="dockhand"');
    if (status === 403) expect(res.body.rule).toBe(`oidc.${field}`);
    expect(await sb.jobs()).toEqual(before);
  });

  it("never echoes the token back", async () => {
    const token = await sb.issuer.token({ audience: "someone-else" });
    const res = await postWithToken(sb.dispatcher.url, token, request());
    expect(JSON.stringify(res.body)).not.toContain(token.split(".")[1]);
  });
});

describe("key rotation", () => {
  it("accepts a token signed with a newly published key once the keys are refetched, and refuses the retired key", async () => {
    const oldToken = await sb.issuer.token();
    const fetchesBefore = sb.issuer.jwksFetches();
    const kid = await sb.issuer.rotate(true);
    // jose refetches the JWKS for an unknown kid, at most once per 30 s cooldown.
    await expect
      .poll(async () => (await postWithToken(sb.dispatcher.url, await sb.issuer.token({ kid }), request({ idempotencyKey: "oidc/rotated" }))).status, { timeout: 90_000, interval: 5_000 })
      .toBe(202);
    expect(sb.issuer.jwksFetches()).toBeGreaterThan(fetchesBefore);
    const retired = await postWithToken(sb.dispatcher.url, oldToken, request({ idempotencyKey: "oidc/retired" }));
    expect(retired.status).toBe(401);
    expect(retired.body.error).toMatch(/unknown kid/);
  });
});

function tamper(token: string, claims: Record<string, unknown>): string {
  const [header, payload, signature] = token.split(".");
  const changed = { ...JSON.parse(Buffer.from(payload!, "base64url").toString()), ...claims };
  return `${header}.${Buffer.from(JSON.stringify(changed)).toString("base64url")}.${signature}`;
}

async function hs256Token(): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ repository, sha, ref: "refs/heads/main", event_name: "push" })
    .setProtectedHeader({ alg: "HS256", kid: "key-1" })
    .setIssuer(sb.issuer.url)
    .setAudience("dockhand-bed")
    .setIssuedAt(now)
    .setNotBefore(now - 60)
    .setExpirationTime(now + 300)
    .sign(new TextEncoder().encode("a-guessable-shared-hmac-key-0123456789"));
}
