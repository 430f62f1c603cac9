import { generateKeyPairSync } from "node:crypto";
import { request } from "node:http";
import { createAppAuth } from "@octokit/auth-app";
import { throttling } from "@octokit/plugin-throttling";
import { Octokit } from "@octokit/rest";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startGitHubStandIn, type GitHubStandIn, type GitHubStandInOptions } from "../../github-standin/github-standin.js";

const sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
const headers = {
  accept: "application/vnd.github+json",
  authorization: "token t0ken-for-tests",
  "user-agent": "standin-test",
  "content-type": "application/json",
};

let standIn: GitHubStandIn;
beforeEach(async () => {
  standIn = await startGitHubStandIn({ tokens: ["t0ken-for-tests"] });
});
afterEach(async () => {
  await standIn.close();
});

/** node:http rather than fetch: fetch adds its own User-Agent and Accept when they are missing. */
async function call(method: string, path: string, body?: unknown, override: Record<string, string | undefined> = {}): Promise<Response> {
  const merged = Object.fromEntries(Object.entries({ ...headers, ...override }).filter(([, v]) => v !== undefined)) as Record<string, string>;
  return new Promise((resolve, reject) => {
    const outgoing = request(`${standIn.url}${path}`, { method, headers: merged }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
      incoming.on("end", () => {
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(incoming.headers)) if (typeof value === "string") responseHeaders.set(name, value);
        resolve(new Response(Buffer.concat(chunks), { status: incoming.statusCode ?? 0, headers: responseHeaders }));
      });
    });
    outgoing.on("error", reject);
    outgoing.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe("GitHub stand-in", () => {
  it("answers create-commit-status like GitHub: 201, Location, rate-limit headers, example-shaped body", async () => {
    const response = await call("POST", `/repos/octo/widgets/statuses/${sha}`, { state: "success", context: "ci" });
    const body = (await response.json()) as Record<string, unknown>;

    expect(response.status).toBe(201);
    expect(response.headers.get("location")).toBe(`${standIn.url}/repos/octo/widgets/statuses/${sha}`);
    expect(response.headers.get("x-ratelimit-limit")).toBe("5000");
    expect(response.headers.get("x-ratelimit-remaining")).toBe("4999");
    expect(body).toMatchObject({ id: 1, state: "success", context: "ci", description: null, target_url: null });
    expect(body.creator).toMatchObject({ login: "octocat" });
    expect(standIn.requests()[0]?.responseValidation).toEqual({ valid: true, problems: [] });
  });

  it.each([
    ["GET", "/repos/octo/widgets/nonsense/path", undefined],
    ["POST", "/not/an/endpoint", { a: 1 }],
  ])("answers 404 to %s %s, which is no GitHub operation", async (method, path, body) => {
    const response = await call(method, path, body);
    expect(response.status).toBe(404);
    expect(standIn.requests()[0]).toMatchObject({ operationId: undefined, validation: { valid: false } });
  });

  it("names a documented operation it does not implement, and still answers 404", async () => {
    const response = await call("GET", "/repos/octo/widgets/branches");
    expect(response.status).toBe(404);
    expect(standIn.requests()[0]).toMatchObject({ operationId: "repos/list-branches", validation: { valid: true } });
  });

  it.each([
    ["no User-Agent", { "user-agent": undefined }, 403, "user-agent: missing"],
    ["no Accept", { accept: undefined }, 422, "accept: missing"],
    ["Accept text/html", { accept: "text/html" }, 422, "accept: text/html is not a GitHub JSON media type"],
    ["Content-Type text/plain", { "content-type": "text/plain" }, 422, "content-type: text/plain"],
    ["no Authorization", { authorization: undefined }, 401, "authorization: missing"],
    ["an unknown token", { authorization: "token wrong" }, 401, "authorization: token not recognised"],
    ["Basic auth", { authorization: "Basic dXNlcjpwYXNz" }, 401, "authorization: unknown scheme Basic"],
  ])("flags a request with %s", async (_name, override, status, problem) => {
    const response = await call("POST", `/repos/octo/widgets/statuses/${sha}`, { state: "success" }, override);
    expect(response.status).toBe(status);
    expect(standIn.requests()[0]?.validation.problems.some((p) => p.startsWith(problem))).toBe(true);
    expect(standIn.statuses()).toEqual([]);
  });

  it.each([
    [{ state: "done" }, "body.state: must be equal to one of the allowed values"],
    [{ context: "ci" }, "body: must have required property 'state'"],
    [{ state: "success", target_url: 5 }, "body.target_url: must be string"],
    [{ state: "success", description: "x".repeat(141) }, "body.description: is too long (maximum is 140 characters)"],
  ])("refuses the body %j with 422", async (body, problem) => {
    const response = await call("POST", `/repos/octo/widgets/statuses/${sha}`, body);
    expect(response.status).toBe(422);
    expect(((await response.json()) as { message: string }).message).toBe("Validation Failed");
    expect(standIn.requests()[0]?.validation.problems.some((p) => p.startsWith(problem))).toBe(true);
  });

  it("accepts null description and target_url, which the schema marks nullable", async () => {
    const response = await call("POST", `/repos/octo/widgets/statuses/${sha}`, { state: "error", description: null, target_url: null });
    expect(response.status).toBe(201);
  });

  it("checks path parameters against their schema", async () => {
    await call("POST", "/app/installations/not-a-number/access_tokens", {}, { authorization: "Bearer x.y.z" });
    expect(standIn.requests()[0]?.validation.problems).toContain("path.installation_id: must be integer");
  });

  it("refuses malformed JSON the way GitHub does", async () => {
    // Raw bytes, which call() would encode as JSON.
    const response = await fetch(`${standIn.url}/repos/octo/widgets/statuses/${sha}`, { method: "POST", headers, body: "{nope" });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { message: string }).message).toBe("Problems parsing JSON");
  });

  it("sends a secondary rate limit as GitHub does: 403, retry-after and a non-empty primary budget", async () => {
    standIn.failNext(1, "secondary-rate-limit", { retryAfterSeconds: 30 });
    const limited = await call("POST", `/repos/octo/widgets/statuses/${sha}`, { state: "success" });
    const after = await call("POST", `/repos/octo/widgets/statuses/${sha}`, { state: "success" });

    expect(limited.status).toBe(403);
    expect(limited.headers.get("retry-after")).toBe("30");
    expect(Number(limited.headers.get("x-ratelimit-remaining"))).toBeGreaterThan(0);
    expect(((await limited.json()) as { message: string }).message).toMatch(/secondary rate limit/);
    expect(after.status).toBe(201);
    expect(standIn.requests().map((r) => r.injected)).toEqual(["secondary-rate-limit", undefined]);
    expect(standIn.statuses()).toHaveLength(1);
  });

  it("sends an exhausted primary rate limit with remaining 0 and the reset time", async () => {
    standIn.failNext(1, "rate-limit", { retryAfterSeconds: 60 });
    const limited = await call("POST", `/repos/octo/widgets/statuses/${sha}`, { state: "success" });
    expect(limited.status).toBe(403);
    expect(limited.headers.get("x-ratelimit-remaining")).toBe("0");
    expect(Number(limited.headers.get("x-ratelimit-reset")) - Date.now() / 1000).toBeGreaterThan(55);
  });

  it("refuses the App endpoints without a JWT signed by the App", async () => {
    const response = await call("GET", "/repos/octo/widgets/installation");
    expect(response.status).toBe(401);
    expect(standIn.requests()[0]?.validation.problems[0]).toMatch(/apps\/get-repo-installation needs an App JWT/);
  });
});

describe("GitHub stand-in enforcing GitHub's documented limits (limits: true)", () => {
  const other = "other-t0ken-for-tests";
  let clock = Date.parse("2030-01-01T00:00:00Z");
  const statusPath = `/repos/octo/widgets/statuses/${sha}`;
  const asOther = { authorization: `token ${other}` };

  async function limited(limits: GitHubStandInOptions["limits"] = {}): Promise<void> {
    await standIn.close();
    clock = Date.parse("2030-01-01T00:00:00Z");
    standIn = await startGitHubStandIn({
      tokens: ["t0ken-for-tests", other],
      limits: typeof limits === "object" ? { now: () => clock, ...limits } : limits,
    });
  }
  const post = (n: number, body: Record<string, unknown> = { state: "success", context: "ci" }, override: Record<string, string> = {}) =>
    Array.from({ length: n }).reduce<Promise<Response[]>>(async (all, _) => [...(await all), await call("POST", statusPath, body, override)], Promise.resolve([]));
  const message = async (response: Response) => ((await response.json()) as { message: string }).message;

  it("is off by default: a burst past every limit is answered, from one shared budget", async () => {
    const answers = await post(100);
    expect(answers.map((r) => r.status)).toEqual(Array(100).fill(201));
    expect(answers.at(-1)!.headers.get("x-ratelimit-remaining")).toBe("4900");
    expect(standIn.requests().some((r) => r.limited !== undefined || r.credential !== undefined)).toBe(false);
  });

  it.each([403, 429] as const)("counts the primary limit per credential and refuses with %i and remaining 0 once it is spent, until the reset", async (answerStatus) => {
    await limited({ primaryPerHour: 3, answerStatus });
    const reset = String(Math.ceil((clock + 3_600_000) / 1000));
    const answers = await post(4);

    expect(answers.map((r) => r.status)).toEqual([201, 201, 201, answerStatus]);
    expect(answers.map((r) => r.headers.get("x-ratelimit-remaining"))).toEqual(["2", "1", "0", "0"]);
    expect(answers.map((r) => r.headers.get("x-ratelimit-used"))).toEqual(["1", "2", "3", "3"]);
    expect(answers.every((r) => r.headers.get("x-ratelimit-limit") === "3" && r.headers.get("x-ratelimit-reset") === reset)).toBe(true);
    expect(await message(answers[3]!)).toMatch(/^API rate limit exceeded for user ID/);
    expect(answers[3]!.headers.get("retry-after")).toBeNull();
    expect(standIn.requests()[3]).toMatchObject({ limited: "primary", status: answerStatus });
    expect(standIn.statuses()).toHaveLength(3);

    // Another token has its own budget; the first one's comes back at the reset.
    const [fromOther] = await post(1, undefined, asOther);
    expect(fromOther!.status).toBe(201);
    expect(fromOther!.headers.get("x-ratelimit-remaining")).toBe("2");
    clock += 3_600_000;
    const [afterReset] = await post(1);
    expect(afterReset!.status).toBe(201);
    expect(afterReset!.headers.get("x-ratelimit-used")).toBe("1");
  });

  it("allows 80 statuses a minute per credential, then answers 403 'secondary rate limit' with retry-after and a primary budget left", async () => {
    await limited();
    const answers = await post(81);

    expect(answers.slice(0, 80).every((r) => r.status === 201)).toBe(true);
    const refused = answers[80]!;
    expect(refused.status).toBe(403);
    expect(await message(refused)).toMatch(/secondary rate limit/);
    expect(refused.headers.get("retry-after")).toBe("60");
    expect(Number(refused.headers.get("x-ratelimit-remaining"))).toBeGreaterThan(0);
    expect(standIn.requests()[80]).toMatchObject({ limited: "secondary-content", credential: expect.stringMatching(/^token:/) });
    expect(standIn.statuses()).toHaveLength(80);

    // Reading is not creating content; another credential has its own 80; the minute passes.
    expect((await call("GET", `/repos/octo/widgets/commits/${sha}/statuses`)).status).toBe(200);
    expect((await post(1, undefined, asOther))[0]!.status).toBe(201);
    clock += 59_000;
    expect((await post(1))[0]!.headers.get("retry-after")).toBe("1");
    clock += 1_000;
    expect((await post(1))[0]!.status).toBe(201);
  });

  it("allows 500 statuses an hour per credential, however they are spread over the minutes", async () => {
    await limited();
    const start = clock;
    for (let minute = 0; minute < 6; minute++) {
      clock = start + minute * 60_000;
      expect((await post(80)).every((r) => r.status === 201)).toBe(true);
    }
    clock = start + 6 * 60_000;
    const answers = await post(21);

    expect(answers.slice(0, 20).every((r) => r.status === 201)).toBe(true);
    expect(answers[20]!.status).toBe(403);
    expect(await message(answers[20]!)).toMatch(/secondary rate limit/);
    // Until the first of the 500 is an hour old.
    expect(answers[20]!.headers.get("retry-after")).toBe(String(3600 - 6 * 60));
    expect(standIn.statuses()).toHaveLength(500);
    clock = start + 3_600_000 + 1;
    expect((await post(1))[0]!.status).toBe(201);
  });

  it("allows 900 points a minute per endpoint: 180 POSTs at 5 points each", async () => {
    await limited({ contentPerMinute: Infinity, contentPerHour: Infinity });
    const answers = await post(181);

    expect(answers.slice(0, 180).every((r) => r.status === 201)).toBe(true);
    expect(answers[180]!.status).toBe(403);
    expect(answers[180]!.headers.get("retry-after")).toBe("60");
    expect(standIn.requests()[180]?.limited).toBe("secondary-points");
    // Another endpoint has its own points.
    expect((await call("GET", `/repos/octo/widgets/commits/${sha}/statuses`)).status).toBe(200);
  });

  it("refuses a credential's 101st concurrent request as a secondary rate limit", async () => {
    // Content limits off: 100 statuses at once would pass 80 a minute.
    await limited({ contentPerMinute: Infinity, contentPerHour: Infinity });
    const body = JSON.stringify({ state: "pending", context: "ci" });
    // 100 requests whose bodies are still arriving.
    const open = Array.from({ length: 100 }, () => {
      const outgoing = request(`${standIn.url}${statusPath}`, { method: "POST", headers: { ...headers, "content-length": String(body.length) } });
      const answered = new Promise<number>((resolve, reject) => {
        outgoing.on("response", (incoming) => {
          incoming.resume();
          resolve(incoming.statusCode ?? 0);
        });
        outgoing.on("error", reject);
      });
      outgoing.write(body.slice(0, 5));
      return { outgoing, answered };
    });
    for (let i = 0; standIn.requests().length < 100; i++) {
      if (i > 500) throw new Error(`only ${standIn.requests().length} requests arrived`);
      await new Promise((r) => setTimeout(r, 10));
    }

    const refused = await call("POST", statusPath, { state: "pending", context: "ci" });
    const fromOther = await call("POST", statusPath, { state: "pending", context: "ci" }, asOther);
    expect(refused.status).toBe(403);
    expect(await message(refused)).toMatch(/secondary rate limit/);
    expect(refused.headers.get("retry-after")).not.toBeNull();
    expect(standIn.requests().find((r) => r.limited)?.limited).toBe("secondary-concurrency");
    expect(fromOther.status).toBe(201);

    for (const { outgoing } of open) outgoing.end(body.slice(5));
    expect(await Promise.all(open.map((o) => o.answered))).toEqual(Array(100).fill(201));
    expect((await post(1))[0]!.status).toBe(201);
  });

  // A thousand and one requests: slower than vitest's 5 s on a loaded machine, and
  // one cut off by the timeout would leave its requests running into the next test.
  it("refuses the 1001st status of a sha and context with GitHub's 422", async () => {
    await limited({ contentPerMinute: Infinity, contentPerHour: Infinity, pointsPerMinute: Infinity });
    const answers = await post(1001, { state: "pending", context: "ci" });

    expect(answers.slice(0, 1000).every((r) => r.status === 201)).toBe(true);
    expect(answers[1000]!.status).toBe(422);
    expect(await answers[1000]!.json()).toMatchObject({
      message: "Validation Failed",
      errors: [{ resource: "Status", code: "custom", message: "This SHA and context has reached the maximum number of statuses." }],
    });
    expect(standIn.statuses()).toHaveLength(1000);
    // Another context, or another commit, has its own 1000.
    expect((await post(1, { state: "pending", context: "ci/other" }))[0]!.status).toBe(201);
    expect((await call("POST", `/repos/octo/widgets/statuses/${"f".repeat(40)}`, { state: "pending", context: "ci" })).status).toBe(201);
  }, 60_000);

  it("counts an App's installations apart: each installation token has its own budget", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs1", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
    await standIn.close();
    standIn = await startGitHubStandIn({ tokens: [], app: { appId: 4242, publicKey, installations: { "octo/widgets": 77, "octo/gadgets": 78 } }, limits: { contentPerMinute: 2 } });
    const tokenOf = async (installationId: number) => {
      const octokit = new Octokit({ baseUrl: standIn.url, authStrategy: createAppAuth, auth: { appId: 4242, privateKey, installationId } });
      return ((await octokit.auth({ type: "installation" })) as { token: string }).token;
    };
    const [first, second] = [await tokenOf(77), await tokenOf(78)];
    const widgets = await post(3, undefined, { authorization: `token ${first}` });
    const gadgets = await call("POST", `/repos/octo/gadgets/statuses/${sha}`, { state: "success", context: "ci" }, { authorization: `token ${second}` });

    expect(widgets.map((r) => r.status)).toEqual([201, 201, 403]);
    expect(gadgets.status).toBe(201);
    expect(gadgets.headers.get("x-ratelimit-used")).toBe("1");
    expect(standIn.requests().filter((r) => r.operationId === "repos/create-commit-status").map((r) => r.credential)).toEqual([
      "installation:77",
      "installation:77",
      "installation:77",
      "installation:78",
    ]);
    expect(standIn.requests().filter((r) => r.operationId === "apps/create-installation-access-token").map((r) => r.credential)).toEqual(["app:4242", "app:4242"]);
  });

  it("answers so that Octokit's throttling plugin reads a secondary limit and a spent primary limit as GitHub's", async () => {
    await limited({ contentPerMinute: 1, now: Date.now });
    const seen: string[] = [];
    const Throttled = Octokit.plugin(throttling);
    const create = () =>
      new Throttled({
        baseUrl: standIn.url,
        auth: "t0ken-for-tests",
        throttle: {
          id: `standin-test-${Math.random()}`,
          onSecondaryRateLimit: (retryAfter: number) => void seen.push(`secondary ${retryAfter}`),
          onRateLimit: (retryAfter: number) => void seen.push(`primary ${retryAfter}`),
        },
      }).rest.repos.createCommitStatus({ owner: "octo", repo: "widgets", sha, state: "success", context: "ci" });
    await create();
    await expect(create()).rejects.toMatchObject({ status: 403 });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatch(/^secondary (59|60)$/);

    await limited({ primaryPerHour: 1, now: Date.now });
    await create();
    await expect(create()).rejects.toMatchObject({ status: 403 });
    expect(seen[1]).toMatch(/^primary 360[0-2]$/);
  });
});
