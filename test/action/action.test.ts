// The bundled Action (dist/), run as the runner runs it, against the real
// dispatcher on the real bed: a Linux build on BuildKit, a Windows RUN build
// on the (emulated) dockerd pool, a failing Dockerfile, wait: false, timeout,
// and the two ways a cancelled workflow ends a step (SIGTERM to main; main
// killed and the post step cleaning up).
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Dispatcher } from "../../dispatcher/dispatcher.js";
import { readManifest } from "../bed/registry.js";
import { type Bed, bedSharedSecret, heldBy, setUpBed, startBedDispatcher, waitForStatuses } from "../integration/harness.js";
import type { RecordedStatus } from "../github-standin/github-standin.js";
import { type RunContext, runStep, startStep, until, workspace } from "./runner-contract.js";

let bed: Bed;
let dispatcher: Dispatcher;

beforeAll(async () => {
  bed = await setUpBed("dh-action");
  dispatcher = await startBedDispatcher(bed);
});

afterAll(async () => {
  await dispatcher?.close();
  await bed?.close();
});

const unique = () => `${Date.now()}${randomBytes(3).toString("hex")}`;

function run(files: Record<string, string>): RunContext {
  return { workspace: workspace(files), runId: unique() };
}

function inputs(overrides: Record<string, string>): Record<string, string> {
  return { "dispatcher-url": dispatcher.url, auth: "secret", secret: bedSharedSecret, ...overrides };
}

async function buildState(id: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${dispatcher.url}/v1/builds/${id}`);
  return { status: res.status, body: res.status === 200 ? await res.json() : await res.text() };
}

async function jobsOf(id: string): Promise<number> {
  return (await bed.k.batch.listNamespacedJob({ namespace: bed.namespace, labelSelector: `dockhand.dev/build-id=${id}` })).items.length;
}

// A cancelled build's Jobs stay, suspended and let go, readable until ttlSecondsAfterFinished.
const released = async (id: string) => ((await heldBy(bed, id)) === 0 ? true : undefined);

const finalStatusesFor = (id: string) =>
  bed.github.statuses().filter((s) => s.target_url?.endsWith(`/v1/builds/${id}`) && s.state !== "pending");

describe("a Linux build on BuildKit", () => {
  it("packs the context honouring .dockerignore, streams the logs in a group, and sets outputs matching the registry", async () => {
    const tag = `${bed.env.REGISTRY}/action/linux:${unique()}`;
    const marker = `marker-${unique()}`;
    const context = run({
      Dockerfile: `FROM ${bed.env.LINUX_BASE_IMAGE}\nCOPY . /ctx/\nRUN echo ${marker} && ls /ctx\n`,
      ".dockerignore": "secret.env\n",
      "app.txt": "app\n",
      "secret.env": "TOKEN=do-not-send\n",
    });
    const result = await runStep("main", inputs({ platforms: "linux/amd64", push: "true", tags: tag, "build-args": "UNUSED=1" }), context);
    expect(result.exitCode, result.stdout).toBe(0);

    expect(result.stdout).toMatch(/context .*: 3 files .* → .* tar\.gz in [\d.]+ s, sha256:[0-9a-f]{64} \(\.dockerignore applied\)/);
    expect(result.stdout).toContain("::group::linux/amd64 · buildkit");
    expect(result.stdout).toContain(marker);
    expect(result.stdout).toContain("app.txt");
    expect(result.stdout).not.toContain("secret.env");
    expect(result.stdout).toContain("::endgroup::");

    const id = result.outputs["build-id"]!;
    expect(id).toMatch(/^[a-z0-9]{12}$/);
    const manifest = await readManifest(bed.env.REGISTRY, "action/linux", tag.split(":").at(-1)!);
    expect(result.outputs["digest"]).toBe(manifest.digest);
    expect(JSON.parse(result.outputs["digests"]!)).toEqual({ "linux/amd64": manifest.digest });
    expect(JSON.parse(result.outputs["images"]!)).toEqual({ "linux/amd64": [`${tag}@${manifest.digest}`] });
    expect(JSON.parse(result.outputs["metadata"]!)).toMatchObject({ buildId: id, state: "succeeded", platforms: [{ platform: "linux/amd64", builder: "buildkit", node: "linux-0", state: "succeeded" }] });

    expect(result.summary).toContain(`dockhand build ${id}: succeeded`);
    expect(result.summary).toMatch(/<td>linux\/amd64<\/td><td>buildkit<\/td><td>linux-0<\/td><td>\d+s<\/td><td>✅ succeeded<\/td><td><code>sha256:[0-9a-f]{64}<\/code><\/td>/);
    expect(result.summary).toContain(`href="${dispatcher.url}/v1/builds/${id}"`);
    // Main finished: nothing left for the post step.
    expect(result.state).toEqual({ buildId: id, settled: "finished" });
    // And the process ended by itself right after (no process.exit): no socket or timer held it.
    expect(result.lingeredMs).toBeLessThan(1000);
  });
});

describe("a Windows build with RUN on the dockerd pool", () => {
  it("runs on win-ltsc2022-0, and its outputs and summary name the node and the pushed digest", async () => {
    const tag = `${bed.env.REGISTRY}/action/windows-run:${unique()}`;
    const context = run({ "docker/Dockerfile.windows": `FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo compiled-on-windows > /app.txt\n` });
    const result = await runStep("main", inputs({ platforms: "windows/amd64:ltsc2022", push: "true", tags: tag, file: "docker/Dockerfile.windows" }), context);
    expect(result.exitCode, result.stdout).toBe(0);
    expect(result.stdout).toContain("::group::windows/amd64:ltsc2022 · docker");
    expect(result.stdout).toMatch(/windows\/amd64:ltsc2022: docker \(.*RUN.*\)/);
    const manifest = await readManifest(bed.env.REGISTRY, "action/windows-run", tag.split(":").at(-1)!);
    expect(result.outputs["digest"]).toBe(manifest.digest);
    expect(JSON.parse(result.outputs["metadata"]!).platforms[0]).toMatchObject({ builder: "docker", node: "win-ltsc2022-0", state: "succeeded", digest: manifest.digest });
    expect(result.summary).toMatch(/<td>windows\/amd64:ltsc2022<\/td><td>docker<\/td><td>win-ltsc2022-0<\/td>/);
  });
});

describe("several platforms in one step", () => {
  // push: false — a multi-platform push also waits for the dispatcher's
  // image index, whose output (digest = the index's) is covered in
  // action/outputs.test.ts; here: the display and the per-platform results.
  it("shows each platform's log in its own group, live one at a time, and reports both", async () => {
    const marker = `m${unique()}`;
    const context = run({ Dockerfile: `FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN for i in 1 2 3 4 5; do echo ${marker}-$i; sleep 0.2; done\n` });
    const result = await runStep("main", inputs({ platforms: "linux/amd64,windows/amd64:ltsc2022" }), context);
    expect(result.exitCode, result.stdout).toBe(0);
    const lines = result.stdout.split("\n");
    const groups = lines.filter((l) => l.startsWith("::group::") || l.startsWith("::endgroup::"));
    expect(groups.filter((l) => l.startsWith("::group::")).sort()).toEqual(["::group::linux/amd64 · buildkit", "::group::windows/amd64:ltsc2022 · docker"]);
    // Groups open and close in turn, never nested.
    expect(groups.map((l) => (l.startsWith("::group::") ? "(" : ")")).join("")).toBe("()()");
    // Within each group, that platform's lines only, in order.
    for (const title of ["::group::linux/amd64 · buildkit", "::group::windows/amd64:ltsc2022 · docker"]) {
      const start = lines.indexOf(title);
      const body = lines.slice(start + 1, lines.indexOf("::endgroup::", start));
      const markers = body.filter((l) => new RegExp(`(^|\\s)${marker}-\\d$`).test(l)).map((l) => Number(l.at(-1)));
      expect(markers).toEqual([1, 2, 3, 4, 5]);
    }
    const metadata = JSON.parse(result.outputs["metadata"]!);
    expect(metadata.platforms.map((p: { platform: string; state: string; node: string }) => [p.platform, p.state, p.node])).toEqual([
      ["linux/amd64", "succeeded", "linux-0"],
      ["windows/amd64:ltsc2022", "succeeded", "win-ltsc2022-0"],
    ]);
    expect(result.summary).toMatch(/<td>linux\/amd64<\/td>.*<td>windows\/amd64:ltsc2022<\/td>/s);
  });
});

describe("several platforms pushed in one step", () => {
  it("waits for the image index and sets digest to the index's, which the registry serves under the tag", async () => {
    const name = unique();
    const tag = `${bed.env.REGISTRY}/action/multi:${name}`;
    const context = run({ Dockerfile: `FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo multi-${name} > /built.txt\n` });
    const result = await runStep("main", inputs({ platforms: "linux/amd64,windows/amd64:ltsc2022", push: "true", tags: tag }), context);
    expect(result.exitCode, result.stdout).toBe(0);
    // docker prints the context URL it downloads; its signature (a capability to fetch the context) never reaches the workflow log.
    expect(result.stdout).toContain("Downloading build context from remote url");
    expect(result.stdout).toContain("sig=[redacted]");
    expect(result.stdout).not.toMatch(/sig=(?!\[redacted\])/);

    const index = await readManifest(bed.env.REGISTRY, "action/multi", name);
    expect(index.mediaType).toBe("application/vnd.oci.image.index.v1+json");
    expect(result.outputs["digest"]).toBe(index.digest);
    // Each platform's own digest is an entry of the index, and its per-platform tag points at it.
    const digests = JSON.parse(result.outputs["digests"]!) as Record<string, string>;
    expect(Object.keys(digests).sort()).toEqual(["linux/amd64", "windows/amd64:ltsc2022"]);
    expect(index.body.manifests.map((m: { digest: string }) => m.digest).sort()).toEqual(Object.values(digests).sort());
    expect((await readManifest(bed.env.REGISTRY, "action/multi", `${name}-win-ltsc2022`)).digest).toBe(digests["windows/amd64:ltsc2022"]);
    const images = JSON.parse(result.outputs["images"]!) as Record<string, string[]>;
    expect(images["linux/amd64"]).toEqual([`${tag}-linux-amd64@${digests["linux/amd64"]}`]);
    expect(JSON.parse(result.outputs["metadata"]!).manifest).toMatchObject({ state: "succeeded", digest: index.digest, tags: [tag] });

    expect(result.summary).toMatch(new RegExp(`<td>image index</td>.*✅ pushed.*<code>${index.digest}</code>`, "s"));
    // The index status follows the index (GitHub paces status writes), so it may land just after the step ends.
    const ofIndex = (all: RecordedStatus[]) => all.filter((s) => s.target_url?.endsWith(`/v1/builds/${result.outputs["build-id"]}`) && s.context === "dockhand/manifest");
    const statuses = ofIndex(await waitForStatuses(bed.github, (all) => ofIndex(all).some((s) => s.state !== "pending"), 30_000));
    expect(statuses.map((s) => s.state)).toEqual(["pending", "success"]);
  });
});

describe("a failing Dockerfile", () => {
  it("fails the step naming the platform and quoting the failing step's last lines", async () => {
    const context = run({ Dockerfile: `FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo compiling-the-app && echo "error CS1002: ; expected" && exit 7\n` });
    const result = await runStep("main", inputs({ platforms: "windows/amd64:ltsc2019", push: "true", tags: `${bed.env.REGISTRY}/action/fail:${unique()}` }), context);
    expect(result.exitCode).toBe(1);
    // The annotation: titled with the platform, on the RUN's line, quoting the compiler's line.
    expect(result.stdout).toMatch(/::error title=dockhand%3A windows\/amd64%3Altsc2019 failed,file=Dockerfile,line=2::windows\/amd64:ltsc2019 failed: step build exited with code 7.*%0A.*\| .*error CS1002: ; expected/);
    // The step's failure message says the same.
    expect(result.stdout).toMatch(/::error::build [a-z0-9]{12}: windows\/amd64:ltsc2019 failed in step build \(exit code 7\)\. The last lines are quoted above; full log: http:\/\/127\.0\.0\.1:\d+\/v1\/builds\/[a-z0-9]{12}\/logs/);
    expect(result.summary).toContain("❌ failed: step build exited with code 7");
    expect(result.state["settled"]).toBe("finished");
    // Nothing was pushed, so images lists nothing (not the tag, which the registry does not serve).
    expect(JSON.parse(result.outputs["images"]!)).toEqual({ "windows/amd64:ltsc2019": [] });
  });
});

/**
 * A TCP proxy in front of the dispatcher that cuts the first `cuts` log
 * streams after `afterBytes` bytes of answer: what a proxy timeout or a
 * network blip does to a long-lived connection.
 */
async function cuttingProxy(target: string, cuts: number, afterBytes: number): Promise<{ url: string; cut: () => number; close: () => Promise<void> }> {
  const upstreamPort = Number(new URL(target).port);
  let done = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(upstreamPort, "127.0.0.1");
    sockets.add(client).add(upstream);
    let armedAt: number | undefined;
    let received = 0;
    client.on("data", (chunk: Buffer) => {
      if (armedAt === undefined && done < cuts && /^GET \/v1\/builds\/[a-z0-9]+\/logs\?follow=1/m.test(chunk.toString("latin1"))) armedAt = received;
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (armedAt !== undefined && received - armedAt > afterBytes) {
        client.write(chunk.subarray(0, Math.max(0, chunk.length - (received - armedAt - afterBytes))));
        done++;
        armedAt = undefined;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    cut: () => done,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

describe("a log stream that drops", () => {
  it("resumes where it stopped: every line of the build shown exactly once", async () => {
    const proxy = await cuttingProxy(dispatcher.url, 2, 1200);
    try {
      const marker = `n${unique()}`;
      const context = run({ Dockerfile: `FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN for i in $(seq 1 40); do echo ${marker}-line-$i; sleep 0.05; done\n` });
      const result = await runStep("main", { ...inputs({ platforms: "linux/amd64" }), "dispatcher-url": proxy.url }, context);
      expect(result.exitCode, result.stdout).toBe(0);
      expect(proxy.cut()).toBe(2);
      expect(result.stdout).toMatch(/log stream interrupted \(.*\); resuming after linux-amd64\/build:\d+ in/);
      const shown = result.stdout.split("\n").filter((l) => l.includes(`${marker}-line-`) && !l.includes("RUN "));
      const numbers = shown.map((l) => Number(/-line-(\d+)/.exec(l)![1]));
      expect(numbers).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    } finally {
      await proxy.close();
    }
  });
});

describe("mistakes a user makes", () => {
  it("fails before packing anything when an input is wrong, naming the input", async () => {
    const result = await runStep("main", inputs({ platforms: "windows/amd64:ltsc2016", "build-args": "TARGETOS=windows" }), run({ Dockerfile: "FROM x\n" }));
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain('::error::build-args[0]: "TARGETOS" is set by dockhand per platform; remove it%0Aplatforms[0]: "windows/amd64:ltsc2016" is not supported; use ltsc2019, ltsc2022 or ltsc2025');
    expect(result.stdout).not.toContain("context ");
  });

  it("passes on the dispatcher's refusal naming the input behind its field", async () => {
    // The bed's policy lets builds push to the bed registry and r.example only.
    const result = await runStep("main", inputs({ platforms: "linux/amd64", push: "true", tags: "ghcr.io/someone-else/app:1" }), run({ Dockerfile: `FROM ${bed.env.LINUX_BASE_IMAGE}\n` }));
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/::error::request the build: tags\[0\]: .*\(input tags\)/);
    expect(result.outputs["build-id"]).toBeUndefined();
  });
});

describe("wait: false", () => {
  it("returns right after the dispatcher accepts the build, with build-id set, and leaves it running", async () => {
    const context = run({ Dockerfile: `FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo detached-${unique()} && sleep 60\n` });
    const result = await runStep("main", inputs({ platforms: "linux/amd64", wait: "false" }), context);
    expect(result.exitCode, result.stdout).toBe(0);
    const id = result.outputs["build-id"]!;
    expect(id).toMatch(/^[a-z0-9]{12}$/);
    expect(result.seconds).toBeLessThan(15);
    expect(result.stdout).not.toContain("::group::");
    expect(result.state).toEqual({ buildId: id, settled: "detached" });
    const state = await buildState(id);
    expect(state.status).toBe(200);
    expect(["queued", "running"]).toContain(state.body.state);
    // The post step leaves a detached build alone.
    const post = await runStep("post", inputs({ platforms: "linux/amd64" }), context, result.state);
    expect(post.stdout).toContain(`build ${id}: detached; nothing to clean up`);
    expect((await buildState(id)).status).toBe(200);
    await dispatcher.executor.cancel(id, "test cleanup");
  });
});

describe("timeout", () => {
  it("ends the wait, cancels the build at the dispatcher and leaves nothing running", async () => {
    const context = run({ Dockerfile: `FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo long-${unique()} && sleep 300\n` });
    const result = await runStep("main", inputs({ platforms: "linux/amd64", timeout: "20s" }), context);
    expect(result.exitCode).toBe(1);
    const id = result.outputs["build-id"]!;
    expect(result.stdout).toContain(`::error::timeout: the build did not finish within 20 s; build ${id} was cancelled at the dispatcher`);
    expect(result.seconds).toBeLessThan(60);
    expect(result.summary).toContain("Cancelled: timeout");
    expect(result.state).toEqual({ buildId: id, settled: "cancelled" });
    await until("the pods to stop and the Jobs to be let go", () => released(id), 30_000);
    const statuses = await until("a final status", () => (finalStatusesFor(id).length > 0 ? finalStatusesFor(id) : undefined), 30_000);
    expect(statuses.map((s) => [s.state, s.description])).toEqual([["error", "Cancelled"]]);
  });
});

describe("a cancelled workflow", () => {
  const longBuild = () => run({ Dockerfile: `FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo cancel-me-${unique()} && sleep 300\n` });

  async function startedBuild(context: RunContext) {
    const step = startStep("main", inputs({ platforms: "linux/amd64" }), context);
    const id = await until("the build id in the saved state", () => step.state()["buildId"], 60_000);
    await until("the build to run", async () => ((await buildState(id)).body.state === "running" ? true : undefined), 120_000);
    // Its pending is out: a build cancelled before that gets no status at all.
    await waitForStatuses(bed.github, (s) => s.some((x) => x.target_url?.endsWith(`/v1/builds/${id}`) && x.state === "pending"), 60_000);
    return { step, id };
  }

  it("SIGTERM to main cancels the build before the process ends, and post then has nothing to do", async () => {
    const context = longBuild();
    const { step, id } = await startedBuild(context);
    const signalled = Date.now();
    step.child.kill("SIGTERM");
    const result = await step.done;
    // The runner sends SIGKILL 7.5 s + 2.5 s after SIGINT; main is done well before.
    expect(Date.now() - signalled).toBeLessThan(7500);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain("received SIGTERM");
    expect(result.stdout).toContain(`::error::the runner sent SIGTERM; build ${id} was cancelled at the dispatcher`);
    expect(result.state).toEqual({ buildId: id, settled: "cancelled" });
    await until("the pods to stop and the Jobs to be let go", () => released(id), 30_000);

    const post = await runStep("post", inputs({ platforms: "linux/amd64" }), context, result.state);
    expect(post.exitCode).toBe(0);
    expect(post.stdout).toContain(`build ${id}: cancelled; nothing to clean up`);
  });

  it("SIGTERM while the context is still being packed: no build is requested", async () => {
    const context = run({ Dockerfile: `FROM ${bed.env.LINUX_BASE_IMAGE}\n` });
    writeFileSync(join(context.workspace, "big.bin"), randomBytes(96 * 1024 * 1024));
    const step = startStep("main", inputs({ platforms: "linux/amd64" }), context);
    await new Promise((r) => setTimeout(r, 300));
    step.child.kill("SIGTERM");
    const result = await step.done;
    // It stopped while packing (no packing summary), not once the archive was done.
    expect(result.stdout).not.toMatch(/tar\.gz in [\d.]+ s/);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain("::error::the runner sent SIGTERM before the build was requested; nothing was built");
    expect(result.stdout).not.toContain("accepted");
    expect(result.state).toEqual({});
  });

  it("main killed outright: the post step finds the unsettled build and cancels it", async () => {
    const context = longBuild();
    const { step, id } = await startedBuild(context);
    step.child.kill("SIGKILL");
    const killed = await step.done;
    expect(killed.signal).toBe("SIGKILL");
    expect(killed.state).toEqual({ buildId: id });
    expect(await jobsOf(id)).toBe(1);

    const post = await runStep("post", inputs({ platforms: "linux/amd64" }), context, killed.state);
    expect(post.exitCode, post.stdout).toBe(0);
    expect(post.stdout).toContain(`the step did not finish following build ${id}: cancelled it at the dispatcher`);
    await until("the pods to stop and the Jobs to be let go", () => released(id), 30_000);
    const statuses = await until("a final status", () => (finalStatusesFor(id).length > 0 ? finalStatusesFor(id) : undefined), 30_000);
    expect(statuses.map((s) => [s.state, s.description])).toEqual([["error", "Cancelled"]]);
  });
});
