// The per-repository policy on the real bed: which repositories build, who
// may use the dockerd pool, where images may go, which registry Secret is
// mounted, fork pull requests, the concurrency limit, and a reload that
// changes all of it without a restart. Every denial is a 403 (429 for the
// limit) naming the rule, and creates no Job.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tarGz } from "../bed/context-server.js";
import { buildRequest, cancelBuild, signedFetch } from "../integration/harness.js";
import { bearerFetch, postWithToken, repository, type SecureBed, sha, startSecureBed } from "./secure-bed.js";

let sb: SecureBed;
const registry = "127.0.0.1:15000";
let windowsRun = "";
let copyOnly = "";
let slow = "";

async function upload(files: Record<string, string>): Promise<string> {
  const body = await tarGz(files);
  const hex = createHash("sha256").update(body).digest("hex");
  const res = await signedFetch(`${sb.dispatcher.url}/v1/contexts/${hex}`, { method: "PUT", headers: { "content-type": "application/gzip" }, body: new Uint8Array(body), bodySha256: hex });
  expect([200, 201]).toContain(res.status);
  return `sha256:${hex}`;
}

beforeAll(async () => {
  sb = await startSecureBed("dh-sec-policy", [
    { repository, imagePrefixes: [`${registry}/bed`], dockerPool: { refs: ["refs/heads/main", "refs/tags/*"], environments: ["release"] }, registrySecrets: ["registry-push", "registry-other"] },
    { repository: "octo-org/forks-ok", imagePrefixes: [registry], forkPullRequests: true },
    { repository: "octo-org/busy", imagePrefixes: [registry], maxConcurrentBuilds: 1 },
    { repository: "octo-org/*", imagePrefixes: [registry] },
  ]);
  await sb.bed.k.core.createNamespacedSecret({
    namespace: sb.bed.namespace,
    body: { metadata: { name: "registry-other" }, type: "kubernetes.io/dockerconfigjson", stringData: { ".dockerconfigjson": JSON.stringify({ auths: {} }) } },
  });
  windowsRun = await upload({ Dockerfile: `FROM ${sb.bed.env.LINUX_BASE_IMAGE}\nRUN echo policy-run\n` });
  copyOnly = await upload({ Dockerfile: `FROM ${sb.bed.env.LINUX_BASE_IMAGE}\nCOPY Dockerfile /d\n` });
  slow = await upload({ Dockerfile: `FROM ${sb.bed.env.LINUX_BASE_IMAGE}\nRUN echo busy ${Date.now()} && sleep 60\n` });
});

afterAll(async () => {
  await sb?.close();
});

const token = (claims: Record<string, unknown> = {}) => sb.issuer.token({ claims });
const linux = (context: string, overrides: Record<string, unknown> = {}) => buildRequest(context, { platforms: ["linux/amd64"], tags: [`${registry}/bed/policy:1`], ...overrides });
const windows = (overrides: Record<string, unknown> = {}) => buildRequest(windowsRun, { platforms: ["windows/amd64:ltsc2022"], tags: [`${registry}/bed/policy-win:1`], ...overrides });

async function expectDenied(res: { status: number; body: any }, status: number, rule: string, field: string, error: RegExp, before: string[]) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.rule).toBe(rule);
  expect(res.body.field).toBe(field);
  expect(res.body.error).toMatch(error);
  expect(res.body.error).toContain(`(rule ${rule})`);
  expect(res.body.hint).toBeTruthy();
  expect(await sb.jobs()).toEqual(before);
}

describe("which repositories may build", () => {
  it("refuses a repository no rule names, for uploads and builds", async () => {
    const before = await sb.jobs();
    const stranger = await sb.issuer.token({ claims: { repository: "stranger/app", repository_owner: "stranger" } });
    const res = await postWithToken(sb.dispatcher.url, stranger, linux(copyOnly, { repository: "stranger/app" }));
    await expectDenied(res, 403, "policy.repositories", "repository", /stranger\/app may not build on this dispatcher/, before);
    const upload = await bearerFetch(`${sb.dispatcher.url}/v1/contexts/${"a".repeat(64)}`, stranger, { method: "PUT", headers: { "content-type": "application/gzip" }, body: "x" });
    expect(upload.status).toBe(403);
    expect((await upload.json()).rule).toBe("policy.repositories");
  });
});

describe("the dockerd pool is off unless a ref or environment is listed", () => {
  it("refuses a Windows RUN build from an unlisted branch, naming the rule and the reason it needs the pool", async () => {
    const before = await sb.jobs();
    const ref = "refs/heads/feature";
    const res = await postWithToken(sb.dispatcher.url, await token({ ref }), windows({ ref }));
    await expectDenied(res, 403, "policy.repositories[0].dockerPool", "platforms[0]", /needs the dockerd pool \(windows stage #0 has RUN \(line 2\): dockerd pool\), which octo-org\/windows-app may not use from refs\/heads\/feature/, before);
  });

  it("refuses the same from a shared-secret caller claiming the branch", async () => {
    const before = await sb.jobs();
    const res = await signedFetch(`${sb.dispatcher.url}/v1/builds`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(windows({ ref: "refs/heads/feature" })) });
    await expectDenied({ status: res.status, body: await res.json() }, 403, "policy.repositories[0].dockerPool", "platforms[0]", /may not use from refs\/heads\/feature/, before);
  });

  it("lets the same build through BuildKit when it has no Windows RUN", async () => {
    const ref = "refs/heads/feature";
    const res = await postWithToken(sb.dispatcher.url, await token({ ref }), buildRequest(copyOnly, { ref, platforms: ["windows/amd64:ltsc2022"], tags: [`${registry}/bed/policy-copy:1`], idempotencyKey: "policy/copy-feature" }));
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.platforms[0].builder).toBe("buildkit");
  });

  it.each([
    ["a listed branch", { ref: "refs/heads/main" }, "policy/pool-main"],
    ["a listed tag pattern", { ref: "refs/tags/v1.2.3" }, "policy/pool-tag"],
    ["a listed environment on any ref", { ref: "refs/heads/release-candidate", environment: "release" }, "policy/pool-env"],
  ])("allows %s", async (_name, claims, key) => {
    const res = await postWithToken(sb.dispatcher.url, await token(claims), windows({ ref: claims.ref, idempotencyKey: key }));
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.platforms[0].builder).toBe("docker");
  });
});

describe("where images may go", () => {
  it.each([
    ["another registry", "ghcr.io/evil/app:1"],
    ["another path on the registry", `${registry}/other/app:1`],
    ["a path that only starts like the prefix", `${registry}/bed-evil/app:1`],
    ["Docker Hub by its short name", "alpine:latest"],
  ])("refuses a tag on %s", async (_name, tag) => {
    const before = await sb.jobs();
    const res = await postWithToken(sb.dispatcher.url, await token(), linux(copyOnly, { tags: [`${registry}/bed/ok:1`, tag] }));
    await expectDenied(res, 403, "policy.repositories[0].imagePrefixes", "tags[1]", /is not under an image prefix octo-org\/windows-app may push to \(127\.0\.0\.1:15000\/bed\)/, before);
  });

  it("mounts a registry Secret the rule grants, and refuses one it does not", async () => {
    const before = await sb.jobs();
    const refused = await postWithToken(sb.dispatcher.url, await token(), linux(copyOnly, { registrySecret: "cluster-admin-token" }));
    await expectDenied(refused, 403, "policy.repositories[0].registrySecrets", "registrySecret", /"cluster-admin-token" is not a registry Secret octo-org\/windows-app may use/, before);

    const granted = await postWithToken(sb.dispatcher.url, await token(), linux(copyOnly, { registrySecret: "registry-other", idempotencyKey: "policy/secret-other" }));
    expect(granted.status, JSON.stringify(granted.body)).toBe(202);
    const job = await sb.bed.k.batch.readNamespacedJob({ namespace: sb.bed.namespace, name: granted.body.platforms[0].job });
    const secrets = (job.spec?.template.spec?.volumes ?? []).flatMap((v) => (v.secret ? [v.secret.secretName] : []));
    expect(secrets).toContain("registry-other");
    expect(secrets).not.toContain("registry-push");
  });
});

describe("pull requests from forks", () => {
  const pr = (number: number, extra: Record<string, unknown> = {}) => ({ ref: `refs/pull/${number}/merge`, event_name: "pull_request", head_ref: "feature", base_ref: "main", ...extra });

  it("refuses a pull request whose head GitHub says is in a fork", async () => {
    sb.github.pulls.set(`${repository}#12`, "evil-fork/windows-app");
    const before = await sb.jobs();
    const res = await postWithToken(sb.dispatcher.url, await token(pr(12)), linux(copyOnly, { ref: "refs/pull/12/merge" }));
    await expectDenied(res, 403, "policy.repositories[0].forkPullRequests", "ref", /pull request #12 comes from evil-fork\/windows-app, not octo-org\/windows-app/, before);
    expect(sb.github.lookups()).toContain(`${repository}#12`);
  });

  it("builds a pull request from a branch of the repository itself, labelled with its number", async () => {
    sb.github.pulls.set(`${repository}#13`, repository);
    const res = await postWithToken(sb.dispatcher.url, await token(pr(13)), linux(copyOnly, { ref: "refs/pull/13/merge", idempotencyKey: "policy/pr-13" }));
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const job = await sb.bed.k.batch.readNamespacedJob({ namespace: sb.bed.namespace, name: res.body.platforms[0].job });
    expect(job.metadata?.labels?.["dockhand.dev/pull-request"]).toBe("13");
  });

  it("takes the pull request's head as the commit (statuses belong there) when GitHub says it is the head, not another commit", async () => {
    const head = "c".repeat(40);
    sb.github.pulls.set(`${repository}#16`, repository);
    sb.github.heads.set(`${repository}#16`, head);
    // The token names the test merge commit (sha); the Action sends the head.
    const res = await postWithToken(sb.dispatcher.url, await token(pr(16)), linux(copyOnly, { ref: "refs/pull/16/merge", sha: head, idempotencyKey: "policy/pr-16-head" }));
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.sha).toBe(head);
    const before = await sb.jobs();
    const other = await postWithToken(sb.dispatcher.url, await token(pr(16)), linux(copyOnly, { ref: "refs/pull/16/merge", sha: "d".repeat(40) }));
    await expectDenied(other, 403, "oidc.sha", "sha", /is not the sha the OIDC token was issued for .* nor the pull request's head/, before);
  });

  it("refuses when GitHub cannot say where the head is", async () => {
    const before = await sb.jobs();
    const res = await postWithToken(sb.dispatcher.url, await token(pr(14)), linux(copyOnly, { ref: "refs/pull/14/merge" }));
    await expectDenied(res, 403, "policy.repositories[0].forkPullRequests", "ref", /cannot confirm that pull request #14 comes from octo-org\/windows-app and not a fork \(GitHub answered 404/, before);
  });

  it("needs no lookup for a public repository, where GitHub gives fork runs no OIDC token", async () => {
    const res = await postWithToken(sb.dispatcher.url, await token(pr(15, { repository_visibility: "public" })), linux(copyOnly, { ref: "refs/pull/15/merge", idempotencyKey: "policy/pr-15" }));
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(sb.github.lookups()).not.toContain(`${repository}#15`);
  });

  it("refuses pull_request_target, which runs a pull request's code with the base repository's identity", async () => {
    const before = await sb.jobs();
    const res = await postWithToken(sb.dispatcher.url, await token({ event_name: "pull_request_target" }), linux(copyOnly));
    await expectDenied(res, 403, "policy.repositories[0].forkPullRequests", "ref", /pull_request_target/, before);
  });

  it("builds a fork's pull request where the rule allows forks", async () => {
    const forksOk = "octo-org/forks-ok";
    sb.github.pulls.set(`${forksOk}#3`, "evil-fork/forks-ok");
    const res = await postWithToken(
      sb.dispatcher.url,
      await token({ ...pr(3), repository: forksOk }),
      linux(copyOnly, { repository: forksOk, ref: "refs/pull/3/merge", tags: [`${registry}/bed/forks-ok:1`], idempotencyKey: "policy/fork-ok" }),
    );
    expect(res.status, JSON.stringify(res.body)).toBe(202);
  });
});

describe("per-repository concurrency", () => {
  it("answers 429 with Retry-After past the limit, never refuses a retry of an accepted build, and takes the next once one ends", async () => {
    const busy = "octo-org/busy";
    const busyToken = () => token({ repository: busy });
    const body = (key: string) => linux(slow, { repository: busy, tags: [`${registry}/bed/busy:${key}`], idempotencyKey: `policy/${key}` });
    const first = await postWithToken(sb.dispatcher.url, await busyToken(), body("one"));
    expect(first.status, JSON.stringify(first.body)).toBe(202);

    const before = await sb.jobs();
    const second = await postWithToken(sb.dispatcher.url, await busyToken(), body("two"));
    await expectDenied(second, 429, "policy.repositories[2].maxConcurrentBuilds", "repository", /octo-org\/busy has 1 platform build running; 1 more would pass its limit of 1/, before);
    expect(second.headers.get("retry-after")).toBe("30");

    const retried = await postWithToken(sb.dispatcher.url, await busyToken(), body("one"));
    expect(retried.status).toBe(200);
    expect(retried.body.id).toBe(first.body.id);

    const cancelled = await bearerFetch(`${sb.dispatcher.url}/v1/builds/${first.body.id}`, await busyToken(), { method: "DELETE" });
    expect(cancelled.status).toBe(202);
    await expect.poll(async () => (await postWithToken(sb.dispatcher.url, await busyToken(), body("two"))).status, { timeout: 60_000, interval: 1_000 }).toBe(202);
    await cancelBuild(sb.dispatcher.url, (await postWithToken(sb.dispatcher.url, await busyToken(), body("two"))).body.id);
  });
});

describe("reloading the policy", () => {
  it("applies a changed policy to the next request without a restart, and says which changes need one", async () => {
    const newcomer = "newcomer/app";
    const newcomerToken = () => sb.issuer.token({ claims: { repository: newcomer, repository_owner: "newcomer" } });
    const request = linux(copyOnly, { repository: newcomer, tags: [`${registry}/newcomer/app:1`], idempotencyKey: "policy/newcomer" });
    expect((await postWithToken(sb.dispatcher.url, await newcomerToken(), request)).status).toBe(403);

    sb.raw.policy = { repositories: [{ repository: newcomer, imagePrefixes: [`${registry}/newcomer`] }, ...sb.raw.policy.repositories] };
    sb.raw.limits = { ...sb.raw.limits, activeDeadlineSeconds: 900 };
    const result = await sb.dispatcher.reload();
    expect(result.applied).toEqual(["policy"]);
    expect(result.needRestart).toEqual(["limits.activeDeadlineSeconds"]);

    const res = await postWithToken(sb.dispatcher.url, await newcomerToken(), request);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    // Rule indexes moved with the new first rule: denials name the rule as it is now.
    const before = await sb.jobs();
    const moved = await postWithToken(sb.dispatcher.url, await token({ ref: "refs/heads/feature" }), windows({ ref: "refs/heads/feature" }));
    await expectDenied(moved, 403, "policy.repositories[1].dockerPool", "platforms[0]", /dockerd pool/, before);
  });
});

export { sha };
