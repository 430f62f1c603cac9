import { request } from "node:http";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startGitHubStandIn, type GitHubStandIn } from "../../github-standin/github-standin.js";

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
    const response = await call("GET", "/repos/octo/widgets");
    expect(response.status).toBe(404);
    expect(standIn.requests()[0]).toMatchObject({ operationId: "repos/get", validation: { valid: true } });
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
