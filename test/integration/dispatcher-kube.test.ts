// The core loop on the real bed: request → plan → Jobs on the right nodes →
// real dockerd / BuildKit → real registry → commit statuses checked against
// GitHub's OpenAPI description by the stand-in.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Dispatcher } from "../../dispatcher/dispatcher.js";
import { readConfig, readManifest } from "../bed/registry.js";
import {
  type Bed,
  buildRequest,
  ctx,
  finalStates,
  postBuild,
  setUpBed,
  startBedDispatcher,
  statusesFor,
  uploadContext,
  waitForStatuses,
} from "./harness.js";

let bed: Bed;
let dispatcher: Dispatcher;

beforeAll(async () => {
  bed = await setUpBed("dh-core");
  dispatcher = await startBedDispatcher(bed);
});

afterAll(async () => {
  await dispatcher?.close();
  await bed?.close();
});

const finalOf = (context: string) => (statuses: { context: string; state: string }[]) =>
  statusesFor(statuses as never, context).some((s) => finalStates.has(s.state));

async function getBuild(id: string) {
  const res = await fetch(`${dispatcher.url}/v1/builds/${id}`);
  expect(res.status).toBe(200);
  return res.json();
}

async function jobsInNamespace(): Promise<string[]> {
  const list = await bed.k.batch.listNamespacedJob({ namespace: bed.namespace });
  return list.items.map((j) => j.metadata!.name!);
}

describe("a Windows build with RUN", () => {
  it("runs on win-ltsc2022-0 with the real dockerd, pushes, and reports pending then success with the digest", async () => {
    const context = await uploadContext(
      dispatcher.url,
      ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo compiled > /app.txt\nCOPY hello.txt /hello.txt\n`, { "hello.txt": "hi\n" }),
    );
    const repo = "bed/core-windows-run";
    const res = await postBuild(
      dispatcher.url,
      buildRequest(context, { platforms: ["windows/amd64:ltsc2022"], tags: [`${bed.env.REGISTRY}/${repo}:1`], idempotencyKey: "core/win-run" }),
    );
    expect(res.status).toBe(202);
    expect(res.body.platforms[0].builder).toBe("docker");
    expect(res.body.platforms[0].builderReason).toMatch(/RUN/);

    const context_ = "dockhand/windows-ltsc2022";
    const statuses = statusesFor(await waitForStatuses(bed.github, finalOf(context_)), context_);
    expect(statuses.map((s) => s.state)).toEqual(["pending", "success"]);
    expect(statuses[1]!.target_url).toBe(`${dispatcher.config.publicUrl}/v1/builds/${res.body.id}`);

    const build = await getBuild(res.body.id);
    expect(build.platforms[0]).toMatchObject({ state: "succeeded", node: "win-ltsc2022-0", builder: "docker" });
    expect(build.platforms[0].digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(statuses[1]!.description).toContain(build.platforms[0].digest.slice(0, 19));
    const manifest = await readManifest(bed.env.REGISTRY, repo, build.platforms[0].digest);
    expect(manifest.digest).toBe(build.platforms[0].digest);
    // Every request the dispatcher sent GitHub matched the published API description.
    expect(bed.github.requests().filter((r) => !r.validation.valid)).toEqual([]);
  });
});

describe("builds without Windows RUN go to BuildKit", () => {
  it("builds a COPY-only Windows image and a Linux image with BuildKit, explaining the choice", async () => {
    const windowsContext = await uploadContext(
      dispatcher.url,
      ctx(`ARG NANOSERVER_TAG=ltsc2022\nFROM ${bed.env.WINDOWS_BASE_IMAGE}:\${NANOSERVER_TAG}\nCOPY app.exe /app/app.exe\n`, { "app.exe": "MZ\n" }),
    );
    const linuxContext = await uploadContext(dispatcher.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo linux > /l.txt\n`));
    const win = await postBuild(
      dispatcher.url,
      buildRequest(windowsContext, { platforms: ["windows/amd64:ltsc2022"], tags: [`${bed.env.REGISTRY}/bed/core-win-copy:1`], idempotencyKey: "core/win-copy" }),
    );
    const lin = await postBuild(
      dispatcher.url,
      buildRequest(linuxContext, { platforms: ["linux/amd64"], tags: [`${bed.env.REGISTRY}/bed/core-linux:1`], idempotencyKey: "core/linux" }),
    );
    expect(win.status).toBe(202);
    expect(lin.status).toBe(202);
    expect(win.body.platforms[0].builder).toBe("buildkit");
    expect(win.body.platforms[0].builderReason).toMatch(/BuildKit/i);
    expect(lin.body.platforms[0].builder).toBe("buildkit");

    await waitForStatuses(bed.github, (s) => finalOf("dockhand/windows-ltsc2022")(s.filter((x) => x.target_url?.endsWith(win.body.id))) && finalOf("dockhand/linux-amd64")(s));
    const winBuild = await getBuild(win.body.id);
    const linBuild = await getBuild(lin.body.id);
    expect(winBuild.platforms[0]).toMatchObject({ state: "succeeded", node: "linux-0" });
    expect(linBuild.platforms[0]).toMatchObject({ state: "succeeded", node: "linux-0" });
    const config = await readConfig(bed.env.REGISTRY, "bed/core-win-copy", winBuild.platforms[0].digest);
    expect(config.os).toBe("windows");
    // BuildKit writes the os.version it was asked for (windows(10.0.20348)/amd64).
    expect(config["os.version"]).toMatch(/^10\.0\.20348(\.|$)/);
    expect((await readConfig(bed.env.REGISTRY, "bed/core-linux", linBuild.platforms[0].digest)).os).toBe("linux");
  });
});

describe("a Windows version without a dockerd pool", () => {
  it("is refused with a 422 naming dockerPool.pools.<version>, and creates nothing", async () => {
    const noLegacyPool = await startBedDispatcher(bed, (config) => ({
      ...config,
      dockerPool: { ...config.dockerPool, pools: { ltsc2022: config.dockerPool.pools.ltsc2022 } },
    }));
    try {
      const context = await uploadContext(noLegacyPool.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo never\n`));
      const before = await jobsInNamespace();
      const res = await postBuild(
        noLegacyPool.url,
        buildRequest(context, { platforms: ["windows/amd64:ltsc2022", "windows/amd64:ltsc2019"], tags: [`${bed.env.REGISTRY}/bed/core-2019:1`], idempotencyKey: "core/no-pool" }),
      );
      expect(res.status).toBe(422);
      expect(res.body).toMatchObject({ field: "platforms[1]", hint: expect.stringContaining("dockerPool.pools.ltsc2019") });
      expect(await jobsInNamespace()).toEqual(before);
    } finally {
      await noLegacyPool.close();
    }
  });

});

describe("a failing Dockerfile", () => {
  it("reports failure and serves the failing step's output from the logs endpoint", async () => {
    const context = await uploadContext(dispatcher.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo compiling-the-app && echo "error CS1002: ; expected" && exit 7\n`));
    const res = await postBuild(
      dispatcher.url,
      buildRequest(context, { platforms: ["windows/amd64:ltsc2019"], tags: [`${bed.env.REGISTRY}/bed/core-fail:1`], idempotencyKey: "core/fail" }),
    );
    expect(res.status).toBe(202);
    const context_ = "dockhand/windows-ltsc2019";
    const statuses = statusesFor(await waitForStatuses(bed.github, finalOf(context_)), context_);
    expect(statuses.map((s) => s.state)).toEqual(["pending", "failure"]);
    expect(statuses[1]!.description).toMatch(/step build/);

    const logs = await (await fetch(`${dispatcher.url}/v1/builds/${res.body.id}/logs`)).text();
    const lines = logs.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.some((l) => l.platform === "windows/amd64:ltsc2019" && l.step === "build" && l.line.includes("error CS1002"))).toBe(true);
    expect(lines.at(-1)).toEqual({ event: "end", state: "failed" });
  });
});

describe("idempotency", () => {
  it("turns the same key sent 20 times at once into one build and one set of Jobs", async () => {
    const context = await uploadContext(dispatcher.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nCOPY Dockerfile /d\n`));
    const body = buildRequest(context, {
      platforms: ["linux/amd64", "windows/amd64:ltsc2022"],
      tags: [`${bed.env.REGISTRY}/bed/core-idem:1`],
      idempotencyKey: "run-42/1/build/3",
    });
    const before = await jobsInNamespace();
    const answers = await Promise.all(Array.from({ length: 20 }, () => postBuild(dispatcher.url, body)));
    expect(answers.every((a) => a.status === 202 || a.status === 200)).toBe(true);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(answers.filter((a) => a.status === 202).length).toBeGreaterThanOrEqual(1);
    const created = (await jobsInNamespace()).filter((j) => !before.includes(j));
    expect(created.sort()).toEqual(answers[0]!.body.platforms.map((p: { job: string }) => p.job).sort());

    const changed = await postBuild(dispatcher.url, { ...body, tags: [`${bed.env.REGISTRY}/bed/core-idem:2`] });
    expect(changed.status).toBe(409);
    expect(changed.body.field).toBe("idempotencyKey");
  });
});

describe("request validation", () => {
  const cases: [string, (context: string) => Record<string, unknown>, string][] = [
    ["unknown platform", (c) => buildRequest(c, { platforms: ["windows/amd64:ltsc2016"], tags: ["r.example/a:1"] }), "platforms[0]"],
    ["bad sha", (c) => buildRequest(c, { sha: "abc", platforms: ["linux/amd64"], tags: ["r.example/a:1"] }), "sha"],
    ["bad repository", (c) => buildRequest(c, { repository: "no-slash", platforms: ["linux/amd64"], tags: ["r.example/a:1"] }), "repository"],
    ["push without tags", (c) => buildRequest(c, { platforms: ["linux/amd64"], tags: [] }), "tags"],
    ["Dockerfile outside the context", (c) => buildRequest(c, { file: "../Dockerfile", platforms: ["linux/amd64"], tags: ["r.example/a:1"] }), "file"],
    ["misspelled field", (c) => ({ ...buildRequest(c, { platforms: ["linux/amd64"], tags: ["r.example/a:1"] }), buildargs: { A: "1" } }), "buildargs"],
    ["context never uploaded", () => buildRequest(`sha256:${"0".repeat(64)}`, { platforms: ["linux/amd64"], tags: ["r.example/a:1"] }), "context"],
    ["Dockerfile missing from the context", (c) => buildRequest(c, { file: "nope/Dockerfile", platforms: ["linux/amd64"], tags: ["r.example/a:1"] }), "file"],
    ["buildkit asked for a Windows RUN", (c) => buildRequest(c, { builder: "buildkit", platforms: ["windows/amd64:ltsc2022"], tags: ["r.example/a:1"] }), "builder"],
  ];
  it.each(cases)("rejects %s with a 4xx naming the field, and creates nothing", async (_name, make, field) => {
    const context = await uploadContext(dispatcher.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo x\n`));
    const before = await jobsInNamespace();
    const res = await postBuild(dispatcher.url, make(context));
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.body.field).toBe(field);
    expect(res.body.error).toBeTruthy();
    expect(res.body.hint).toBeTruthy();
    expect(await jobsInNamespace()).toEqual(before);
  });
});
