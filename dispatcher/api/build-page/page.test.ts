import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import type { Config } from "../../config/schema.js";
import type { Executor, LogOptions } from "../../executor.js";
import type { LogLine } from "../../protocol/build-logs.js";
import type { BuildState } from "../../protocol/build-state.js";
import { buildPageRoutes, prefersHtml } from "../routes/build-page.js";
import { buildRoutes } from "../routes/builds.js";
import { duration, escapeHtml, renderBuildPage } from "./page.js";
import { buildIdOfJob, buildIdOfUrl } from "../../logging.js";
import { createMetrics } from "../../metrics.js";

const xss = `<script>window.pwned=1</script><img src=x onerror="alert('x')">`;

const build: BuildState = {
  id: "abcdefghijk2",
  repository: "octo-org/windows-app",
  sha: "0123456789abcdef0123456789abcdef01234567",
  ref: "refs/heads/main",
  targetUrl: "http://d.example/v1/builds/abcdefghijk2",
  state: "succeeded",
  platforms: [
    {
      platform: "linux/amd64",
      slug: "linux-amd64",
      job: "dh-abcdefghijk2-linux-amd64",
      builder: "buildkit",
      builderReason: `no RUN step ${xss}`,
      statusContext: "dockhand/linux-amd64",
      state: "succeeded",
      node: "linux-0",
      digest: `sha256:${"a".repeat(64)}`,
      startedAt: "2026-01-01T00:00:00.000Z",
      finishedAt: "2026-01-01T00:01:05.000Z",
    },
  ],
};
const lines: LogLine[] = [
  { platform: "linux/amd64", step: "build", n: 1, line: "#1 building" },
  { platform: "linux/amd64", step: "build", n: 2, line: xss },
];

describe("prefersHtml", () => {
  it.each([
    ["text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", true],
    ["text/html", true],
    ["*/*", false],
    ["application/json", false],
    ["application/json, text/html", false],
    ["text/html;q=0.5, application/json", false],
    ["", false],
    [undefined, false],
  ])("%s → %s", (accept, html) => expect(prefersHtml(accept)).toBe(html));
});

describe("renderBuildPage", () => {
  const html = renderBuildPage({ build, lines, now: new Date("2026-01-01T00:02:00Z"), nonce: "n0nce" });
  it("escapes log lines and every other value: no markup from the build reaches the page", () => {
    expect(html).not.toContain("<script>window.pwned");
    expect(html).not.toContain("<img");
    expect(html).toContain(escapeHtml(xss));
    expect(html.match(/<script/g)).toHaveLength(1);
    expect(html).toContain('<script nonce="n0nce">');
  });
  it("shows state, node, builder, duration, digest and the logs without any script", () => {
    for (const text of ["succeeded", "linux-0", "buildkit", "1m 05s", `sha256:${"a".repeat(64)}`, "#1 building", "octo-org/windows-app"]) expect(html).toContain(text);
    expect(html).not.toContain('http-equiv="refresh"');
  });
  it("refreshes itself without JavaScript while the build runs", () => {
    const running = renderBuildPage({ build: { ...build, state: "running" }, lines: [], now: new Date(), nonce: "n" });
    expect(running).toContain('<noscript><meta http-equiv="refresh" content="10"></noscript>');
  });
});

describe("duration", () => {
  it.each([
    [{}, ""],
    [{ startedAt: "2026-01-01T00:00:00Z", finishedAt: "2026-01-01T00:00:09Z" }, "9s"],
    [{ startedAt: "2026-01-01T00:00:00Z" }, "2m 00s"],
  ])("%j → %s", (p, text) => expect(duration(p, new Date("2026-01-01T00:02:00Z"))).toBe(text));
});

describe("build ids in log lines", () => {
  it.each([
    ["/v1/builds/abcdefghijk2", "abcdefghijk2"],
    ["/v1/builds/abcdefghijk2/logs?follow=1", "abcdefghijk2"],
    [`/v1/contexts/${"0".repeat(64)}/download?build=abcdefghijk2&expires=1&sig=x`, "abcdefghijk2"],
    ["/v1/builds", undefined],
    ["/metrics", undefined],
  ])("%s → %s", (url, id) => expect(buildIdOfUrl(url)).toBe(id));
  it("reads the build id from a Job name", () => expect(buildIdOfJob("dh-abcdefghijk2-win-ltsc2022")).toBe("abcdefghijk2"));
});

function stubExecutor(states: BuildState[]): Executor {
  let reads = 0;
  return {
    kind: "local",
    where: "test",
    start: async () => undefined,
    stop: async () => undefined,
    submit: async () => ({ build, created: true }),
    get: async (id) => (id === build.id ? states[Math.min(reads++, states.length - 1)] : undefined),
    list: async () => [],
    cancel: async () => undefined,
    ready: async () => true,
    platformPhases: () => [],
    async *logs(_id: string, options: LogOptions) {
      for (const line of lines) if (line.n > (options.resume["linux-amd64/build"] ?? 0)) yield line;
    },
  };
}

async function server(states: BuildState[]) {
  const app = Fastify();
  const config = { publicUrl: "http://d.example" } as Config;
  buildRoutes(app, { config, executor: stubExecutor(states), store: {} as never, metrics: createMetrics() });
  buildPageRoutes(app, { config, executor: stubExecutor(states) });
  await app.ready();
  return app;
}

describe("GET /v1/builds/{id} by Accept", () => {
  it("answers a browser with the page and everyone else with JSON, varying on Accept", async () => {
    const app = await server([build]);
    const page = await app.inject({ url: `/v1/builds/${build.id}`, headers: { accept: "text/html,*/*;q=0.8" } });
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    expect(page.headers.vary).toMatch(/Accept/);
    expect(page.headers["content-security-policy"]).toMatch(/script-src 'nonce-[^']+'/);
    expect(page.body).toContain(escapeHtml(xss));
    for (const accept of ["*/*", "application/json"]) {
      const json = await app.inject({ url: `/v1/builds/${build.id}`, headers: { accept } });
      expect(json.headers["content-type"]).toMatch(/^application\/json/);
      expect(json.headers.vary).toMatch(/Accept/);
      expect(json.json().id).toBe(build.id);
    }
    await app.close();
  });
});

describe("GET /v1/builds/{id}/events", () => {
  it("sends the state, each log line with its resume cursor as id, then end", async () => {
    const app = await server([{ ...build, state: "running" }, build]);
    const res = await app.inject({ url: `/v1/builds/${build.id}/events?resume=linux-amd64/build:1` });
    expect(res.headers["content-type"]).toMatch(/^text\/event-stream/);
    const events = res.body.split("\n\n").filter((e) => e.includes("event:"));
    expect(events.map((e) => /event: (\w+)/.exec(e)?.[1])).toEqual(["state", "log", "state", "end"]);
    expect(events[1]).toContain("id: linux-amd64/build:2\n");
    expect(JSON.parse(/data: (.*)/.exec(events[1]!)![1]!)).toMatchObject({ n: 2, line: xss });
    expect(events[3]).toContain('data: {"state":"succeeded"}');
    await app.close();
  });
});

describe("tagBuildIds", () => {
  it("adds the build id to lines that name a build's Job or pod, once", async () => {
    const { tagBuildIds } = await import("../../logging.js");
    const seen: object[] = [];
    const sink = { info: (f: object) => seen.push(f), warn: (f: object) => seen.push(f), error: (f: object) => seen.push(f) };
    const log = tagBuildIds(sink);
    log.info({ job: "dh-abcdefghijk2-linux-amd64" }, "m");
    log.warn({ pod: "dh-abcdefghijk2-linux-amd64-x7k2p" }, "m");
    log.error({ informer: "jobs" }, "m");
    log.child!({ buildId: "abcdefghijk2" }).info({ job: "dh-abcdefghijk2-linux-amd64" }, "m");
    expect(seen).toEqual([
      { buildId: "abcdefghijk2", job: "dh-abcdefghijk2-linux-amd64" },
      { buildId: "abcdefghijk2", pod: "dh-abcdefghijk2-linux-amd64-x7k2p" },
      { informer: "jobs" },
      { buildId: "abcdefghijk2", job: "dh-abcdefghijk2-linux-amd64" },
    ]);
  });
});
