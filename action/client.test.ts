import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createProxy } from "proxy";
import { afterEach, describe, expect, it } from "vitest";
import { verifyRequestSignature } from "../dispatcher/protocol/request-signature.js";
import { AuthError, oidcAuth, secretAuth } from "./auth.js";
import {
  DispatcherClient,
  DispatcherRequestError,
  DispatcherUnavailableError,
  UploadProgress,
  parseRetryAfter,
  retryDelayMs,
  defaultRetryPolicy,
  type RetryPolicy,
} from "./client.js";

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: Buffer;
  at: number;
}

type Answer = (req: Seen, res: ServerResponse) => void;

let servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  servers = [];
});

/** A real HTTP server on 127.0.0.1 answering from a script, one entry per request (the last repeats). */
async function scriptedServer(script: Answer[], port = 0): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const request = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks), at: Date.now() };
      seen.push(request);
      (script[Math.min(seen.length - 1, script.length - 1)] as Answer)(request, res);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Answer => (_req, res) => {
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
};

const build = { id: "abcdefabcdef", repository: "o/r", sha: "0".repeat(40), ref: "refs/heads/main", targetUrl: "", state: "queued", platforms: [], url: "u", logsUrl: "l" };
const fastRetry = { baseDelayMs: 20, maxDelayMs: 200, random: () => 0.5 };

function client(url: string, logs: string[] = [], retry: Partial<RetryPolicy> = fastRetry) {
  return new DispatcherClient({ baseUrl: url, auth: secretAuth("test-secret"), log: (m) => logs.push(m), retry });
}

describe("retries", () => {
  it("waits what Retry-After asks on 503 and 429, then takes the 200", async () => {
    const server = await scriptedServer([
      json(503, { error: "restarting" }, { "retry-after": "1" }),
      json(429, { error: "slow down" }, { "retry-after": "1" }),
      json(202, build),
    ]);
    const logs: string[] = [];
    const started = Date.now();
    const answer = await client(server.url, logs).createBuild({ a: 1 });
    expect(answer).toEqual({ created: true, build });
    expect(server.seen.map((r) => r.method)).toEqual(["POST", "POST", "POST"]);
    // Retry-After: 1 each time, not the 20 ms backoff.
    expect(server.seen[1]!.at - server.seen[0]!.at).toBeGreaterThanOrEqual(950);
    expect(server.seen[2]!.at - server.seen[1]!.at).toBeGreaterThanOrEqual(950);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(logs[0]).toMatch(/request the build: HTTP 503 \(restarting\); retrying in 1\.0 s \(try 2 of 7\) as Retry-After asks/);
    expect(logs[1]).toMatch(/HTTP 429 \(slow down\)/);
    // The same body each time: the idempotency key in it makes the repeat the same build.
    expect(new Set(server.seen.map((r) => r.body.toString())).size).toBe(1);
  });

  it("backs off exponentially on 5xx without Retry-After", async () => {
    const server = await scriptedServer([json(500, {}), json(502, {}), json(504, {}), json(200, build)]);
    const answer = await client(server.url, [], { baseDelayMs: 100, maxDelayMs: 10_000, random: () => 0 }).getBuild("abcdefabcdef");
    expect(answer).toEqual(build);
    const gaps = server.seen.slice(1).map((r, i) => r.at - server.seen[i]!.at);
    // Equal jitter with random() = 0: half of 100, 200, 400 ms.
    expect(gaps[0]).toBeGreaterThanOrEqual(45);
    expect(gaps[1]).toBeGreaterThanOrEqual(95);
    expect(gaps[2]).toBeGreaterThanOrEqual(195);
    expect(gaps[2]!).toBeLessThan(1000);
  });

  it("retries a refused connection until the dispatcher is up", async () => {
    const placeholder = await scriptedServer([json(200, {})]);
    const port = Number(new URL(placeholder.url).port);
    await new Promise((r) => servers.pop()!.close(r));
    const logs: string[] = [];
    const pending = client(`http://127.0.0.1:${port}`, logs, { baseDelayMs: 100, maxDelayMs: 400, random: () => 0.5 }).hasContext(`sha256:${"a".repeat(64)}`);
    await new Promise((r) => setTimeout(r, 300));
    const server = await scriptedServer([(_q, res) => res.writeHead(404).end()], port);
    expect(await pending).toBe(false);
    expect(server.seen[0]!.method).toBe("HEAD");
    expect(logs[0]).toMatch(/check the context: ECONNREFUSED.*retrying in/);
  });

  it("gives up after the last try, saying what failed last", async () => {
    const server = await scriptedServer([json(503, { error: "down for maintenance" })]);
    const err = await client(server.url, [], { ...fastRetry, attempts: 3 }).cancelBuild("abcdefabcdef").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DispatcherUnavailableError);
    expect((err as Error).message).toMatch(/cancel the build: the dispatcher at http:\/\/127\.0\.0\.1:\d+ failed 3 times; last: HTTP 503 \(down for maintenance\)/);
    expect(server.seen).toHaveLength(3);
  });

  it("does not retry a 4xx, and names the input behind the dispatcher's field", async () => {
    const server = await scriptedServer([json(400, { error: 'platforms[0]: "windows/amd64:ltsc2016" is not supported', field: "platforms[0]", hint: "use ltsc2019, ltsc2022 or ltsc2025" })]);
    const err = await client(server.url).createBuild({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DispatcherRequestError);
    expect((err as Error).message).toBe('request the build: platforms[0]: "windows/amd64:ltsc2016" is not supported (input platforms); use ltsc2019, ltsc2022 or ltsc2025');
    expect(server.seen).toHaveLength(1);
  });
});

describe("context upload", () => {
  it("streams the file with its length and signature, again from the start when a try fails", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dh-up-"));
    const file = join(dir, "ctx.tar.gz");
    const data = Buffer.alloc(3 * 1024 * 1024 + 5, 3);
    writeFileSync(file, data);
    const hex = createHash("sha256").update(data).digest("hex");
    const server = await scriptedServer([json(503, {}, { "retry-after": "0" }), json(201, { digest: `sha256:${hex}`, size: data.length })]);
    await client(server.url).uploadContext(`sha256:${hex}`, file, data.length);
    expect(server.seen.map((r) => [r.method, r.url, r.headers["content-length"], r.body.length])).toEqual([
      ["PUT", `/v1/contexts/${hex}`, String(data.length), data.length],
      ["PUT", `/v1/contexts/${hex}`, String(data.length), data.length],
    ]);
    expect(server.seen[1]!.body.equals(data)).toBe(true);
    const verdict = verifyRequestSignature("test-secret", server.seen[1]!.headers, "PUT", `/v1/contexts/${hex}`, hex);
    expect(verdict.valid).toBe(true);
  });

  it("reports progress at most every interval, with bytes, percent and rate", () => {
    let now = 0;
    const lines: string[] = [];
    const progress = new UploadProgress(100 * 1024 * 1024, 5000, (l) => lines.push(l), () => now);
    for (let i = 0; i < 100; i++) {
      now += 100;
      progress.add(1024 * 1024);
    }
    progress.done();
    // 10 s of sending: reports at 5 s and 10 s, then the total.
    expect(lines).toEqual([
      "uploading the context: 50.0 MiB of 100.0 MiB (50%) at 10.0 MiB/s",
      "uploading the context: 100.0 MiB of 100.0 MiB (100%) at 10.0 MiB/s",
      "uploaded the context: 100.0 MiB in 10.0 s (10.0 MiB/s)",
    ]);
  });
});

describe("auth", () => {
  it("signs every request with the shared secret, over method, path and body", async () => {
    const server = await scriptedServer([json(202, build)]);
    await client(server.url).createBuild({ repository: "o/r" });
    const request = server.seen[0]!;
    expect(request.headers["x-hub-signature-256"]).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifyRequestSignature("test-secret", request.headers, "POST", "/v1/builds", createHash("sha256").update(request.body).digest("hex")).valid).toBe(true);
    expect(verifyRequestSignature("other-secret", request.headers, "POST", "/v1/builds", createHash("sha256").update(request.body).digest("hex")).valid).toBe(false);
  });

  it("says to add permissions: id-token: write when the job has no OIDC endpoint", async () => {
    const auth = oidcAuth("dockhand", { env: {}, getIDToken: async () => "never", now: Date.now });
    const err = await auth.headers("GET", "/", "").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as Error).message).toMatch(/ACTIONS_ID_TOKEN_REQUEST_URL is not set.*add `permissions: id-token: write`/);
  });

  it("sends the OIDC token as a bearer token for the audience, reusing it while it is fresh", async () => {
    const audiences: string[] = [];
    const exp = Math.floor(Date.now() / 1000) + 300;
    const token = `e30.${Buffer.from(JSON.stringify({ exp })).toString("base64url")}.sig`;
    const auth = oidcAuth("https://dockhand.example.com", {
      env: { ACTIONS_ID_TOKEN_REQUEST_URL: "http://127.0.0.1:1/token", ACTIONS_ID_TOKEN_REQUEST_TOKEN: "t" },
      getIDToken: async (audience) => {
        audiences.push(audience);
        return token;
      },
      now: Date.now,
    });
    expect(await auth.headers("GET", "/", "")).toEqual({ authorization: `Bearer ${token}` });
    expect(await auth.headers("GET", "/", "")).toEqual({ authorization: `Bearer ${token}` });
    expect(audiences).toEqual(["https://dockhand.example.com"]);
  });
});

describe("Retry-After and backoff arithmetic", () => {
  it.each([
    ["5", 5000],
    ["0", 0],
    ["Wed, 21 Oct 2015 07:28:10 GMT", 10_000],
    ["soon", undefined],
    [undefined, undefined],
  ])("Retry-After %j → %j ms", (value, expected) => {
    expect(parseRetryAfter(value, Date.parse("Wed, 21 Oct 2015 07:28:00 GMT"))).toBe(expected);
  });

  it("caps the exponential delay and a huge Retry-After", () => {
    const policy = { ...defaultRetryPolicy, random: () => 1 };
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => retryDelayMs(n, undefined, policy))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    expect(retryDelayMs(1, "86400", policy)).toBe(300_000);
  });
});

describe("a runner behind a proxy", () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const key of ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"]) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });

  /** A real forward proxy (TooTallNate's `proxy`) on loopback that records what it was asked to reach. */
  async function forwardProxy(): Promise<{ url: string; targets: string[] }> {
    const targets: string[] = [];
    const server = createProxy(createServer());
    server.authenticate = (req) => {
      targets.push(req.url ?? "");
      return true;
    };
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, targets };
  }

  // The dispatcher is addressed as [::ffff:127.0.0.1]: still this machine,
  // but not a name @actions/http-client exempts as loopback, so the proxy
  // rules apply to it as they would to dockhand.example.com.
  const viaMappedAddress = (url: string) => url.replace("127.0.0.1", "[::ffff:127.0.0.1]");

  it("goes through HTTP_PROXY, and says so", async () => {
    const dispatcher = await scriptedServer([json(202, build)]);
    const proxy = await forwardProxy();
    process.env.HTTP_PROXY = proxy.url;
    const c = client(viaMappedAddress(dispatcher.url));
    expect(c.proxy?.origin).toBe(proxy.url);
    const result = await c.createBuild({ repository: "o/r" });
    expect(result.build.id).toBe(build.id);
    // One CONNECT, to the dispatcher's address (as the URL parser normalised it: ::ffff:7f00:1).
    expect(proxy.targets).toEqual([`::ffff:7f00:1:${new URL(dispatcher.url).port}`]);
    expect(dispatcher.seen.map((s) => `${s.method} ${s.url}`)).toEqual(["POST /v1/builds"]);
  });

  it("goes direct when NO_PROXY covers the dispatcher", async () => {
    const dispatcher = await scriptedServer([json(202, build)]);
    const proxy = await forwardProxy();
    process.env.HTTP_PROXY = proxy.url;
    process.env.NO_PROXY = "example.com,*";
    const c = client(viaMappedAddress(dispatcher.url));
    expect(c.proxy).toBeUndefined();
    await c.createBuild({ repository: "o/r" });
    expect(proxy.targets).toEqual([]);
    expect(dispatcher.seen).toHaveLength(1);
  });
});
