import { generateKeyPairSync } from "node:crypto";
import { Octokit } from "@octokit/rest";
import { afterEach, describe, expect, it } from "vitest";
import {
  createStatusClient,
  type GitHubApiErrorEvent,
  type StatusClientOptions,
} from "../../../dispatcher/github/status-client.js";
import { startGitHubStandIn, type GitHubStandIn, type GitHubStandInOptions } from "../../github-standin/github-standin.js";

const sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
const token = "ghp_testtoken0123456789abcdefABCDEF0123";
const status = {
  repository: "octo/widgets",
  sha,
  state: "pending" as const,
  context: "dockhand/windows-ltsc2022",
  description: "Building on dockerd pool (win-ltsc2022-0)…",
  targetUrl: "https://dockhand.example.com/builds/k7q2m4x9z3ab",
};

let standIn: GitHubStandIn | undefined;
afterEach(async () => {
  await standIn?.close();
  standIn = undefined;
});

async function setUp(standInOptions: GitHubStandInOptions = { tokens: [token] }, clientOptions: Partial<StatusClientOptions> = {}) {
  standIn = await startGitHubStandIn(standInOptions);
  const errors: GitHubApiErrorEvent[] = [];
  const client = createStatusClient({
    auth: { kind: "token", token },
    baseUrl: standIn.url,
    retryBaseMs: 10,
    onApiError: (event) => errors.push(event),
    ...clientOptions,
  });
  return { standIn, client, errors };
}

describe("setCommitStatus with a token", () => {
  it("creates the status once, with a body GitHub's OpenAPI description accepts", async () => {
    const { standIn, client, errors } = await setUp();

    const created = await client.setCommitStatus(status);

    const requests = standIn.requests();
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      method: "POST",
      path: `/repos/octo/widgets/statuses/${sha}`,
      operationId: "repos/create-commit-status",
      auth: "token",
      status: 201,
      validation: { valid: true, problems: [] },
      responseValidation: { valid: true, problems: [] },
      body: { state: "pending", context: status.context, description: status.description, target_url: status.targetUrl },
    });
    expect(requests[0]?.headers["user-agent"]).toMatch(/^dockhand-dispatcher/);
    expect(standIn.statuses()).toMatchObject([
      { id: created!.id, repository: "octo/widgets", sha, state: "pending", context: status.context, target_url: status.targetUrl },
    ]);
    expect(errors).toEqual([]);
  });

  it("retries two 500s and delivers the status exactly once", async () => {
    const { standIn, client, errors } = await setUp();
    standIn.failNext(2, "server-error");

    await client.setCommitStatus({ ...status, state: "success", description: "Built sha256:abcd… in 1m12s" });

    expect(standIn.requests().map((r) => r.status)).toEqual([500, 500, 201]);
    expect(standIn.statuses()).toHaveLength(1);
    expect(standIn.statuses()[0]?.state).toBe("success");
    expect(errors).toEqual([
      { route: "POST /repos/{owner}/{repo}/statuses/{sha}", status: 500, kind: "server-error" },
      { route: "POST /repos/{owner}/{repo}/statuses/{sha}", status: 500, kind: "server-error" },
    ]);
  });

  it("gives up after the configured number of 5xx retries", async () => {
    const { standIn, client } = await setUp(undefined, { retries: 2 });
    standIn.failNext(5, "server-error");

    await expect(client.setCommitStatus(status)).rejects.toMatchObject({ status: 500 });
    expect(standIn.requests()).toHaveLength(3);
    expect(standIn.statuses()).toEqual([]);
  });

  it("waits the retry-after of a secondary rate limit, then delivers once", async () => {
    const { standIn, client, errors } = await setUp(undefined, { retryBaseMs: 1000 });
    // Two seconds: longer than the throttling plugin's own one-second spacing of writes.
    standIn.failNext(1, "secondary-rate-limit", { retryAfterSeconds: 2 });

    await client.setCommitStatus(status);

    const [limited, retried] = standIn.requests();
    expect(limited?.status).toBe(403);
    expect(retried?.status).toBe(201);
    expect(retried!.receivedAt - limited!.receivedAt).toBeGreaterThanOrEqual(1950);
    expect(standIn.statuses()).toHaveLength(1);
    expect(errors.map((e) => e.kind)).toEqual(["secondary-rate-limit"]);
  });

  it("stops retrying rate limits after rateLimitRetries", async () => {
    const { standIn, client, errors } = await setUp(undefined, { rateLimitRetries: 2 });
    standIn.failNext(5, "secondary-rate-limit", { retryAfterSeconds: 1 });

    await expect(client.setCommitStatus(status)).rejects.toMatchObject({ status: 403 });
    expect(standIn.requests()).toHaveLength(3);
    expect(standIn.statuses()).toEqual([]);
    expect(errors).toHaveLength(3);
  });

  it("fails at once when the primary rate limit resets later than it is willing to wait", async () => {
    const { standIn, client, errors } = await setUp(undefined, { maxRateLimitWaitSeconds: 120 });
    standIn.failNext(1, "rate-limit", { retryAfterSeconds: 3600 });

    await expect(client.setCommitStatus(status)).rejects.toMatchObject({ status: 403 });
    expect(standIn.requests()).toHaveLength(1);
    expect(errors.map((e) => e.kind)).toEqual(["rate-limit"]);
  });

  it("after a rate limit it will not wait for, holds the credential's writes until the reset instead of asking again", async () => {
    const { standIn, client } = await setUp(undefined, { maxRateLimitWaitSeconds: 120 });
    standIn.failNext(1, "rate-limit", { retryAfterSeconds: 3600 });

    await expect(client.setCommitStatus(status)).rejects.toMatchObject({ status: 403 });
    await expect(client.setCommitStatus({ ...status, state: "success", description: "Built" })).rejects.toThrow(/rate limit for this credential holds status writes until/);
    expect(standIn.requests()).toHaveLength(1);
  });

  it("sends a credential's writes one at a time, writeIntervalMs apart, results ahead of queued pendings", async () => {
    const { standIn, client } = await setUp(undefined, { writeIntervalMs: 300 });
    const sent = [
      client.setCommitStatus({ ...status, description: "p1" }),
      client.setCommitStatus({ ...status, context: "dockhand/a", description: "p2" }),
      client.setCommitStatus({ ...status, context: "dockhand/b", description: "p3" }),
      client.setCommitStatus({ ...status, context: "dockhand/c", state: "success", description: "f1" }),
      client.setCommitStatus({ ...status, context: "dockhand/d", state: "failure", description: "f2" }),
    ];
    await Promise.all(sent);
    const writes = standIn.requests().filter((r) => r.operationId === "repos/create-commit-status");
    // p1 was already on its way when the others queued; the results overtake p2 and p3.
    expect(writes.map((r) => (r.body as { description: string }).description)).toEqual(["p1", "f1", "f2", "p2", "p3"]);
    // The client paces the starts of its writes; the stand-in, in the same
    // process, stamps their arrival, which a busy event loop can delay for one
    // and not the next (114 ms apart at 150 ms pacing, seen with a CI run
    // beside). Unpaced writes arrive within a few ms, so half the interval
    // still tells pacing from none.
    for (let i = 1; i < writes.length; i++) expect(writes[i]!.receivedAt - writes[i - 1]!.receivedAt).toBeGreaterThanOrEqual(150);
  });

  it("drops a write whose dropIf says so when its turn comes, not when it was queued", async () => {
    const { standIn, client } = await setUp(undefined, { writeIntervalMs: 150 });
    let cancelled = false;
    const first = client.setCommitStatus({ ...status, description: "first" });
    const queued = client.setCommitStatus({ ...status, context: "dockhand/b", description: "queued" }, { dropIf: () => cancelled });
    cancelled = true; // while it waits behind the first
    expect(await first).toMatchObject({ id: expect.any(Number) });
    expect(await queued).toBeUndefined();
    expect(standIn.statuses().map((s) => s.description)).toEqual(["first"]);
  });

  it("cuts the description to 140 characters and never sends a token in it", async () => {
    const { standIn, client } = await setUp();
    const leaked = `Failed: step build printed ${token} and ghs_${"a".repeat(36)} ${"then a lot of log ".repeat(20)}`;

    await client.setCommitStatus({ ...status, state: "failure", description: leaked });

    const [request] = standIn.requests();
    const sent = (request?.body as { description: string }).description;
    expect(request?.validation).toEqual({ valid: true, problems: [] });
    expect([...sent].length).toBeLessThanOrEqual(140);
    expect([...sent].length).toBeGreaterThan(130);
    expect(sent.endsWith("…")).toBe(true);
    expect(sent).toContain("printed [redacted] and [redacted] then");
    expect(sent).not.toContain("ghp_");
    expect(sent).not.toContain("ghs_");
  });

  it("does not retry a token GitHub refuses", async () => {
    const { standIn, client, errors } = await setUp({ tokens: ["some-other-token"] });
    await expect(client.setCommitStatus(status)).rejects.toMatchObject({ status: 401 });
    expect(standIn.requests()).toHaveLength(1);
    expect(errors).toEqual([{ route: "POST /repos/{owner}/{repo}/statuses/{sha}", status: 401, kind: "client-error" }]);
  });

  it.each([
    [{ repository: "octo" }, /owner\/name/],
    [{ sha: "abc" }, /40 lowercase hex/],
    [{ state: "done" }, /not one of/],
    [{ context: " " }, /context is empty/],
    [{ targetUrl: "javascript:alert(1)" }, /http\(s\) URL/],
  ])("refuses %j before calling GitHub", async (override, message) => {
    const { standIn, client } = await setUp();
    await expect(client.setCommitStatus({ ...status, ...(override as object) })).rejects.toThrow(message);
    expect(standIn.requests()).toEqual([]);
  });
});

describe("the stand-in's OpenAPI check", () => {
  it("flags a body whose state the create-commit-status schema does not allow", async () => {
    const { standIn } = await setUp();
    const octokit = new Octokit({ auth: token, baseUrl: standIn.url, log: { debug() {}, info() {}, warn() {}, error() {} } });
    const send = (state: string) =>
      octokit.request("POST /repos/{owner}/{repo}/statuses/{sha}", { owner: "octo", repo: "widgets", sha, state: state as "success" });

    await expect(send("done")).rejects.toMatchObject({ status: 422 });
    await send("success");

    const [invalid, valid] = standIn.requests();
    expect(invalid?.validation.valid).toBe(false);
    expect(invalid?.validation.problems).toEqual(["body.state: must be equal to one of the allowed values (error, failure, pending, success)"]);
    expect(valid?.validation).toEqual({ valid: true, problems: [] });
    expect(standIn.statuses().map((s) => s.state)).toEqual(["success"]);
  });
});

describe("setCommitStatus as a GitHub App", () => {
  // GitHub hands out PKCS#1 PEM keys ("BEGIN RSA PRIVATE KEY").
  const { privateKey, publicKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  const app = { appId: 4242, publicKey, installations: { "octo/widgets": 77, "octo/gadgets": 77, "other/thing": 78 } };

  it("looks the installation up once per repository and reuses its token", async () => {
    const { standIn, client, errors } = await setUp({ tokens: [], app }, { auth: { kind: "app", appId: app.appId, privateKey } });

    await client.setCommitStatus(status);
    await client.setCommitStatus({ ...status, state: "success", description: "Built" });
    await client.setCommitStatus({ ...status, repository: "octo/gadgets" });
    await client.setCommitStatus({ ...status, repository: "other/thing" });

    const requests = standIn.requests();
    expect(requests.map((r) => `${r.operationId} ${r.auth} ${r.status}`)).toEqual([
      "apps/get-repo-installation app:4242 200",
      "apps/create-installation-access-token app:4242 201",
      "repos/create-commit-status installation:77 201",
      "repos/create-commit-status installation:77 201",
      "apps/get-repo-installation app:4242 200",
      "repos/create-commit-status installation:77 201",
      "apps/get-repo-installation app:4242 200",
      "apps/create-installation-access-token app:4242 201",
      "repos/create-commit-status installation:78 201",
    ]);
    expect(requests.every((r) => r.validation.valid && r.responseValidation?.valid)).toBe(true);
    expect(standIn.statuses().map((s) => s.repository)).toEqual(["octo/widgets", "octo/widgets", "octo/gadgets", "other/thing"]);
    expect(errors).toEqual([]);
  });

  it("paces each installation on its own: one installation's statuses do not wait behind another's", async () => {
    const { standIn, client } = await setUp({ tokens: [], app }, { auth: { kind: "app", appId: app.appId, privateKey } });
    // Warm both installations' tokens, then send two statuses to each at once.
    await Promise.all([client.setCommitStatus(status), client.setCommitStatus({ ...status, repository: "other/thing" })]);
    const before = standIn.requests().length;
    await Promise.all([
      client.setCommitStatus({ ...status, state: "success", description: "a1" }),
      client.setCommitStatus({ ...status, state: "success", description: "a2" }),
      client.setCommitStatus({ ...status, repository: "other/thing", state: "success", description: "b1" }),
      client.setCommitStatus({ ...status, repository: "other/thing", state: "success", description: "b2" }),
    ]);
    const order = standIn.requests().slice(before).filter((r) => r.operationId === "repos/create-commit-status").map((r) => `${r.auth} ${(r.body as { description: string }).description}`);
    // Each installation's writes are serial (GitHub's best practice), but the
    // second installation's first write does not wait for the first's second:
    // one limiter for the whole process would send a1, a2, b1, b2.
    expect(order.indexOf("installation:78 b1")).toBeLessThan(order.indexOf("installation:77 a2"));
  });

  it("is refused when the JWT is signed with another key", async () => {
    const other = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs1", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
    const { standIn, client } = await setUp({ tokens: [], app }, { auth: { kind: "app", appId: app.appId, privateKey: other.privateKey } });

    await expect(client.setCommitStatus(status)).rejects.toMatchObject({ status: 401 });
    expect(standIn.requests()[0]?.validation.problems[0]).toMatch(/^authorization: JWT does not verify/);
    expect(standIn.statuses()).toEqual([]);
  });

  it("reports a repository the App is not installed on, and looks again next time", async () => {
    const { standIn, client } = await setUp({ tokens: [], app }, { auth: { kind: "app", appId: app.appId, privateKey } });

    await expect(client.setCommitStatus({ ...status, repository: "octo/unknown" })).rejects.toMatchObject({ status: 404 });
    await expect(client.setCommitStatus({ ...status, repository: "octo/unknown" })).rejects.toMatchObject({ status: 404 });
    expect(standIn.requests().map((r) => r.operationId)).toEqual(["apps/get-repo-installation", "apps/get-repo-installation"]);
  });
});

describe("shown", () => {
  it("says what the commit shows as the newest status of that context: this one, another of the build, or none of it, asking as GitHub's API describes", async () => {
    const { standIn, client } = await setUp();
    const result = { ...status, state: "success" as const, description: "Built sha256:abcd… in 1m12s" };
    expect(await client.shown(result)).toBe("none");
    await client.setCommitStatus(status);
    expect(await client.shown(result)).toBe("build");
    await client.setCommitStatus(result);
    expect(await client.shown(result)).toBe("this");
    // Another description or an older status of the build: another of it; another target: none of it.
    expect(await client.shown({ ...result, description: "Built sha256:ffff… in 1m12s" })).toBe("build");
    expect(await client.shown(status)).toBe("build");
    expect(await client.shown({ ...result, targetUrl: "https://dockhand.example/v1/builds/other" })).toBe("none");
    // Another build of the commit reporting to the same context later does not hide this build's own.
    await client.setCommitStatus({ ...status, targetUrl: "https://dockhand.example/v1/builds/other" });
    expect(await client.shown(result)).toBe("this");
    const lists = standIn.requests().filter((r) => r.operationId === "repos/list-commit-statuses-for-ref");
    expect(lists.every((r) => r.validation.valid && r.responseValidation?.valid)).toBe(true);
  });
});
