// The local executor against the bed's real dockerd, registry and BuildKit:
// builds, pushes, failures, cancel, idempotent submits, a dispatcher killed
// mid-build and resumed logs, and a multi-platform push finished with one
// OCI image index. Commit statuses go to a StatusReporter that keeps them in
// an array: the seam where GitHub would be.
import { execFile, spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validateBuildRequest } from "../../dispatcher/protocol/build-request-validation.js";
import type { Config } from "../../dispatcher/config/schema.js";
import { resolveConfig } from "../../dispatcher/config/validate.js";
import type { LogResume } from "../../dispatcher/executor.js";
import type { LogLine } from "../../dispatcher/protocol/build-logs.js";
import { IdempotencyConflict } from "../../dispatcher/executor.js";
import { LocalExecutor } from "../../dispatcher/local/local-executor.js";
import { isAlive } from "../../dispatcher/local/step-process.js";
import { type BuildPlan, planBuild } from "../../dispatcher/plan/build-plan.js";
import { buildIdFromRandom } from "../../dispatcher/plan/names.js";
import type { StatusReport } from "../../dispatcher/model/status-report.js";
import { bedEnv } from "../bed/bed-env.js";
import { serveContexts, tarGz, type ContextServer } from "../bed/context-server.js";
import { readManifest } from "../bed/registry.js";

const run = promisify(execFile);
const env = bedEnv();
const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
// The executor runs buildctl from PATH, as a deployment would; the bed keeps its own.
process.env["PATH"] = `${env.BED_BIN}:${process.env["PATH"]}`;

// Every build gets a fresh NONCE build arg, which the RUN steps use: the
// daemon's and BuildKit's layer caches would otherwise skip the RUN (and its
// output) the second time a test runs against the same bed.
const dockerfiles = {
  ok: `FROM ${env.LINUX_BASE_IMAGE}
ARG NONCE
RUN echo built-by-the-local-executor \${NONCE} > /built.txt && echo line-two && echo line-three
COPY hello.txt /hello.txt
`,
  fails: `FROM ${env.LINUX_BASE_IMAGE}
ARG NONCE
RUN echo about-to-fail \${NONCE} && exit 3
`,
  slow: `FROM ${env.LINUX_BASE_IMAGE}
ARG NONCE
RUN echo step-one-started && sleep 120 && echo step-one-done \${NONCE}
`,
  // Both platforms from one file: Linux goes to BuildKit, the Windows RUN to the daemon.
  multi: `ARG WINDOWS_VERSION
FROM ${env.LINUX_BASE_IMAGE}
ARG NONCE
ARG WINDOWS_VERSION
RUN echo built-for-\${WINDOWS_VERSION:-linux} \${NONCE} > /built.txt
`,
  // As multi, but the Windows RUN fails.
  windowsFails: `ARG WINDOWS_VERSION
FROM ${env.LINUX_BASE_IMAGE}
ARG NONCE
ARG WINDOWS_VERSION
RUN echo built-for-\${WINDOWS_VERSION:-linux} \${NONCE} && test -z "\${WINDOWS_VERSION}" || exit 4
`,
  // COPY-only: every platform goes to BuildKit, and the Windows one is a real
  // Windows image (the bed's nanoserver bases carry real Windows configs).
  copyOnly: `ARG NANOSERVER_TAG=ltsc2022
FROM ${env.WINDOWS_BASE_IMAGE}:\${NANOSERVER_TAG} AS base-windows
FROM ${env.LINUX_BASE_IMAGE} AS base-linux
FROM base-\${TARGETOS}
ARG NONCE
COPY hello.txt /app/hello.txt
`,
  // The mistake the platform check is for: the base hard-codes one Windows version.
  copyOnlyPinned: `FROM ${env.WINDOWS_BASE_IMAGE}:ltsc2022 AS base-windows
FROM ${env.LINUX_BASE_IMAGE} AS base-linux
FROM base-\${TARGETOS}
ARG NONCE
COPY hello.txt /app/hello.txt
`,
};
let contexts: ContextServer;
const scratch: string[] = [];

beforeAll(async () => {
  const entries = await Promise.all(
    Object.entries(dockerfiles).map(async ([name, text]) => [`${name}.tar.gz`, await tarGz({ Dockerfile: text, "hello.txt": "hello\n" })] as const),
  );
  contexts = await serveContexts(Object.fromEntries(entries));
});

afterAll(async () => {
  await contexts?.close();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

function scratchDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "dockhand-local-"));
  scratch.push(dir);
  return dir;
}

function configIn(dir: string, validatePlatform = true): Config {
  return resolveConfig(
    {
      publicUrl: "http://127.0.0.1:8080",
      contexts: { dir: join(dir, "contexts"), signingKey: "k".repeat(32) },
      registry: { insecureRegistries: [env.REGISTRY], validatePlatform },
    },
    {},
    "test",
  );
}

interface Harness {
  executor: LocalExecutor;
  reports: StatusReport[];
  config: Config;
  dir: string;
}

/**
 * validatePlatform false: the emulation's one concession (test/README.md, as
 * in harness.ts). Windows builds through the bed's Linux dockerd push Linux
 * images, which the platform check would rightly fail; tests of the check
 * build Windows images with BuildKit, whose configs are real Windows configs.
 */
async function startExecutor(dir: string, options: { buildkit?: boolean; dockerHost?: string; validatePlatform?: boolean } = {}): Promise<Harness> {
  const reports: StatusReport[] = [];
  const config = configIn(dir, options.validatePlatform);
  const executor = new LocalExecutor({
    config,
    dockerHost: options.dockerHost ?? env.DOCKER_HOST,
    buildkitAddress: options.buildkit ? env.BUILDKIT_HOST : undefined,
    log: { info() {}, warn() {}, error() {} },
    report: async (report) => {
      reports.push(report);
    },
  });
  await executor.start();
  return { executor, reports, config, dir };
}

let repositorySerial = 0;

function planFor(harness: Harness, context: keyof typeof dockerfiles, request: Record<string, unknown> = {}): BuildPlan {
  const image = `${env.REGISTRY}/local-executor/t${Date.now().toString(36)}-${repositorySerial++}`;
  const buildId = buildIdFromRandom(randomBytes(10));
  return planBuild({
    request: validateBuildRequest({
      repository: "octo-org/app",
      sha: "0123456789abcdef0123456789abcdef01234567",
      ref: "refs/heads/main",
      context: `sha256:${"c".repeat(64)}`,
      tags: [`${image}:1.0`],
      platforms: ["linux/amd64"],
      buildArgs: { NONCE: randomBytes(8).toString("hex") },
      ...request,
    }),
    config: harness.config,
    dockerfile: dockerfiles[context],
    buildId,
    contextUrl: contexts.url(`${context}.tar.gz`),
  });
}

async function collect(iterable: AsyncIterable<LogLine>): Promise<LogLine[]> {
  const lines: LogLine[] = [];
  for await (const line of iterable) lines.push(line);
  return lines;
}

function logsOf(harness: Harness, buildId: string, resume: LogResume = {}): Promise<LogLine[]> {
  return collect(harness.executor.logs(buildId, { follow: false, resume, signal: new AbortController().signal }));
}

function storedRecord(harness: Harness, buildId: string): any {
  return JSON.parse(readFileSync(join(harness.executor.stateDir, "builds", buildId, "build.json"), "utf8"));
}

function repositoryAndTag(ref: string): [string, string] {
  const withoutRegistry = ref.slice(env.REGISTRY.length + 1);
  const colon = withoutRegistry.lastIndexOf(":");
  return [withoutRegistry.slice(0, colon), withoutRegistry.slice(colon + 1)];
}

describe("local executor", () => {
  it("builds a Linux image with RUN on the Docker daemon, pushes it and reports the digest the registry serves", async () => {
    const harness = await startExecutor(scratchDir());
    try {
      expect(await harness.executor.ready()).toBe(true);
      const plan = planFor(harness, "ok");
      const submitted = await harness.executor.submit(plan, undefined);
      expect(submitted.created).toBe(true);
      expect(submitted.build.platforms.map((p) => p.state)).toEqual(["queued"]);
      await harness.executor.idle();

      const build = (await harness.executor.get(plan.buildId))!;
      const [platform] = build.platforms;
      expect(build.state).toBe("succeeded");
      expect(platform).toMatchObject({
        builder: "docker",
        builderReason: "Docker daemon: no BuildKit address for the local executor (planned: linux/amd64: BuildKit)",
        pushRef: plan.tags[0],
        reported: "success",
      });
      const [repository, tag] = repositoryAndTag(plan.tags[0]!);
      const manifest = await readManifest(env.REGISTRY, repository, tag);
      expect(platform?.digest).toBe(manifest.digest);

      expect(harness.reports.map((r) => [r.context, r.state, r.description])).toEqual([
        ["dockhand/linux-amd64", "pending", `Queued: ${platform?.builderReason}`],
        ["dockhand/linux-amd64", "success", expect.stringMatching(new RegExp(`^Built ${manifest.digest.slice(0, 19)}… in \\d+s$`))],
      ]);
      expect(harness.reports[0]).toMatchObject({ repository: "octo-org/app", sha: plan.sha, targetUrl: plan.targetUrl });

      const lines = await logsOf(harness, plan.buildId);
      expect(lines.filter((l) => l.step === "build").map((l) => l.line)).toContain("line-two");
      expect(lines.filter((l) => l.step === "push-0").map((l) => l.line).join("\n")).toContain(`digest: ${manifest.digest}`);
    } finally {
      await harness.executor.stop();
    }
  });

  it("runs the platforms of a build in parallel: Linux with buildctl on BuildKit, the Windows RUN with the docker CLI", async () => {
    const harness = await startExecutor(scratchDir(), { buildkit: true, validatePlatform: false });
    try {
      const plan = planFor(harness, "multi", { platforms: ["linux/amd64", "windows/amd64:ltsc2022"] });
      await harness.executor.submit(plan, undefined);
      // Both running at once, before either has finished.
      await waitFor(async () => (await harness.executor.get(plan.buildId))!.platforms.every((p) => p.state === "running"), 60_000);
      await harness.executor.idle();

      const build = (await harness.executor.get(plan.buildId))!;
      expect(build.platforms.map((p) => [p.platform, p.builder, p.state])).toEqual([
        ["linux/amd64", "buildkit", "succeeded"],
        ["windows/amd64:ltsc2022", "docker", "succeeded"],
      ]);
      for (const platform of build.platforms) {
        const [repository, tag] = repositoryAndTag(platform.pushRef!);
        expect(platform.digest).toBe((await readManifest(env.REGISTRY, repository, tag)).digest);
      }
      const lines = await logsOf(harness, plan.buildId);
      expect(new Set(lines.map((l) => `${l.platform} ${l.step}`))).toEqual(
        new Set(["linux/amd64 build", "windows/amd64:ltsc2022 build", "windows/amd64:ltsc2022 push-0"]),
      );
      expect(harness.executor.where).toContain(`BuildKit ${env.BUILDKIT_HOST} (buildctl from PATH`);
    } finally {
      await harness.executor.stop();
    }
  });

  it("fails a build whose RUN fails, with the failing step's output in its log and the exit code in the status", async () => {
    const harness = await startExecutor(scratchDir());
    try {
      const plan = planFor(harness, "fails");
      await harness.executor.submit(plan, undefined);
      await harness.executor.idle();

      const [platform] = (await harness.executor.get(plan.buildId))!.platforms;
      expect(platform).toMatchObject({
        state: "failed",
        // The classic builder's docker CLI exits with the RUN's own code.
        failedStep: { name: "build", exitCode: 3 },
        message: expect.stringMatching(/^step build exited with code 3: The command '\/bin\/sh -c echo about-to-fail .* && exit 3' returned a non-zero code: 3$/),
      });
      expect(platform?.digest).toBeUndefined();
      expect(harness.reports.map((r) => [r.state, r.description])).toEqual([
        ["pending", expect.stringMatching(/^Queued: /)],
        ["failure", expect.stringMatching(/^Failed: exit code 3 in step build after \d+s$/)],
      ]);
      const lines = await logsOf(harness, plan.buildId);
      expect(lines.some((l) => l.line.startsWith("about-to-fail "))).toBe(true);
      expect(lines.every((l) => l.step === "build")).toBe(true);
    } finally {
      await harness.executor.stop();
    }
  });

  it("cancel stops the running docker build and marks the build cancelled", { timeout: 60_000 }, async () => {
    const harness = await startExecutor(scratchDir());
    try {
      const plan = planFor(harness, "slow");
      const before = await runningContainers();
      await harness.executor.submit(plan, undefined);
      // Follow the log until the RUN step has started.
      let started = false;
      for await (const line of harness.executor.logs(plan.buildId, { follow: true, resume: {}, signal: new AbortController().signal })) {
        started = line.line === "step-one-started";
        if (started) break;
      }
      expect(started).toBe(true);
      const pid = storedRecord(harness, plan.buildId).platforms[0].steps[0].process.pid as number;
      expect(await isAlive(pid, undefined)).toBe(true);
      const ours = [...(await runningContainers())].filter((id) => !before.has(id));
      expect(ours).toHaveLength(1); // the RUN step's container

      const build = (await harness.executor.cancel(plan.buildId, "cancelled by the workflow"))!;
      expect(build.state).toBe("cancelled");
      expect(build.platforms[0]).toMatchObject({ state: "cancelled", message: "cancelled by the workflow" });
      expect(await isAlive(pid, undefined)).toBe(false);
      // The daemon ends a build whose client went away: no RUN container is left.
      await waitFor(async () => {
        const running = await runningContainers();
        return ours.every((id) => !running.has(id));
      }, 30_000);

      await harness.executor.idle();
      expect(harness.reports.map((r) => [r.state, r.description])).toEqual([
        ["pending", expect.stringMatching(/^Queued: /)],
        ["error", "Cancelled"],
      ]);
      const step = storedRecord(harness, plan.buildId).platforms[0].steps[0];
      expect(step).toMatchObject({ state: "cancelled" });
      expect(step.process).toBeUndefined();
      const lines = (await logsOf(harness, plan.buildId)).map((l) => l.line);
      expect(lines).toContain("step-one-started");
      expect(lines.some((line) => line.startsWith("step-one-done"))).toBe(false);
    } finally {
      await harness.executor.stop();
    }
  });

  it("is not ready while the daemon does not answer, and a build there fails with the docker CLI's reason", async () => {
    const dir = scratchDir();
    const harness = await startExecutor(dir, { dockerHost: `unix://${join(dir, "no-daemon.sock")}` });
    try {
      expect(await harness.executor.ready()).toBe(false);
      const plan = planFor(harness, "ok");
      await harness.executor.submit(plan, undefined);
      await harness.executor.idle();
      expect((await harness.executor.get(plan.buildId))!.platforms[0]).toMatchObject({
        state: "failed",
        failedStep: { name: "build", exitCode: 1 },
        message: expect.stringContaining("Cannot connect to the Docker daemon"),
      });
    } finally {
      await harness.executor.stop();
    }
  });

  it("treats the same build ID twice as one build, and a different request under it as a conflict", async () => {
    const harness = await startExecutor(scratchDir());
    try {
      const plan = planFor(harness, "ok");
      const [first, second] = await Promise.all([harness.executor.submit(plan, undefined), harness.executor.submit(plan, undefined)]);
      expect([first.created, second.created].sort()).toEqual([false, true]);
      expect(second.build.id).toBe(first.build.id);
      const changed = { ...plan, requestHash: "0".repeat(64) };
      await expect(harness.executor.submit(changed, undefined)).rejects.toBeInstanceOf(IdempotencyConflict);
      await harness.executor.idle();
      const again = await harness.executor.submit(plan, undefined);
      expect(again).toMatchObject({ created: false, build: { state: "succeeded" } });
      // One build ran: one build step, one pair of statuses.
      expect(harness.reports.map((r) => r.state)).toEqual(["pending", "success"]);
      const lines = await logsOf(harness, plan.buildId);
      expect(lines.filter((l) => l.line === "line-two")).toHaveLength(1);
    } finally {
      await harness.executor.stop();
    }
  });

  it("reports failure once when the dispatcher restarts mid-build and the build's process is gone", async () => {
    const dir = scratchDir();
    const { plan, pid, crashReports } = await crashMidBuild(dir);
    // Gone, as after a reboot.
    process.kill(-pid, "SIGKILL");
    await waitFor(async () => !(await isAlive(pid, undefined)), 10_000);

    const restarted = await startExecutor(dir);
    await restarted.executor.idle();
    const build = (await restarted.executor.get(plan.buildId))!;
    expect(build.platforms[0]).toMatchObject({ state: "error", message: "dispatcher restarted during the build", reported: "error" });
    expect(crashReports.map((r) => r.state)).toEqual(["pending"]);
    expect(restarted.reports.map((r) => [r.context, r.state, r.description])).toEqual([
      ["dockhand/linux-amd64", "error", "Dispatcher restarted during the build"],
    ]);
    await restarted.executor.stop();

    const again = await startExecutor(dir);
    await again.executor.idle();
    expect(again.reports).toEqual([]);
    expect((await again.executor.get(plan.buildId))!.state).toBe("error");
    await again.executor.stop();
  });

  it("stops a step the dead dispatcher left running before ending its build", async () => {
    const dir = scratchDir();
    const { plan, pid } = await crashMidBuild(dir);
    expect(await isAlive(pid, undefined)).toBe(true);

    const restarted = await startExecutor(dir);
    expect(await isAlive(pid, undefined)).toBe(false);
    await restarted.executor.idle();
    expect((await restarted.executor.get(plan.buildId))!.platforms[0]).toMatchObject({ state: "error", reported: "error" });
    expect(restarted.reports.map((r) => r.state)).toEqual(["error"]);
    await restarted.executor.stop();
  });

  it("resumes a log stream after the lines the client has seen", async () => {
    const harness = await startExecutor(scratchDir());
    try {
      const plan = planFor(harness, "ok");
      await harness.executor.submit(plan, undefined);
      await harness.executor.idle();

      const all = await logsOf(harness, plan.buildId);
      const build = all.filter((l) => l.step === "build");
      const push = all.filter((l) => l.step === "push-0");
      expect(build.map((l) => l.n)).toEqual(build.map((_, index) => index + 1));
      expect(build.length).toBeGreaterThan(4);

      const resumed = await logsOf(harness, plan.buildId, { "linux-amd64/build": 3, "linux-amd64/push-0": push.length });
      expect(resumed).toEqual(build.slice(3));

      // A follow stream on a finished build ends by itself, with the same lines.
      const followed = await collect(
        harness.executor.logs(plan.buildId, { follow: true, resume: { "linux-amd64/build": 3 }, signal: new AbortController().signal }),
      );
      expect(followed).toEqual([...build.slice(3), ...push]);
    } finally {
      await harness.executor.stop();
    }
  });
});

describe("local executor: a multi-platform push is finished with one OCI image index, as on Kubernetes", () => {
  const platforms = ["linux/amd64", "windows/amd64:ltsc2022"];
  const manifestContext = "dockhand/manifest";
  const statesOf = (reports: StatusReport[], context: string) => reports.filter((r) => r.context === context).map((r) => r.state);

  it("pushes an index of both platforms' digests under the tag, makes it the build's digest and reports dockhand/manifest pending then success, once across a restart", { timeout: 180_000 }, async () => {
    const dir = scratchDir();
    const harness = await startExecutor(dir, { buildkit: true, validatePlatform: false });
    const plan = planFor(harness, "multi", { platforms });
    try {
      await harness.executor.submit(plan, undefined);
      await harness.executor.idle();
    } finally {
      await harness.executor.stop();
    }

    // Read through the API's source and straight from disk (what a restart reads).
    const restarted = await startExecutor(dir, { buildkit: true, validatePlatform: false });
    try {
      await restarted.executor.idle();
      const build = (await restarted.executor.get(plan.buildId))!;
      expect(build.platforms.map((p) => [p.platform, p.builder, p.state, p.imageCheck])).toEqual([
        ["linux/amd64", "buildkit", "succeeded", "passed"],
        ["windows/amd64:ltsc2022", "docker", "succeeded", "passed"],
      ]);
      expect(build.state).toBe("succeeded");
      expect(build.manifest).toMatchObject({ state: "succeeded", tags: plan.tags, statusContext: manifestContext, digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
      const indexDigest = build.manifest!.digest!;
      expect(storedRecord(restarted, plan.buildId)).toMatchObject({ indexResult: { digest: indexDigest, tags: plan.tags }, manifestReported: "success" });

      // The tag serves the index, whose entries are the platforms' own images.
      const [repository, tag] = repositoryAndTag(plan.tags[0]!);
      const index = await readManifest(env.REGISTRY, repository, tag);
      expect(index.digest).toBe(indexDigest);
      expect(index.mediaType).toBe("application/vnd.oci.image.index.v1+json");
      const [linux, windows] = build.platforms;
      expect(index.body.manifests.map((m: { digest: string; platform: object }) => [m.digest, m.platform])).toEqual([
        [linux!.digest, { architecture: "amd64", os: "linux" }],
        // The bed's dockerd pushes a Linux image for Windows (validatePlatform off): the entry says what was asked for.
        [windows!.digest, { architecture: "amd64", os: "windows", "os.version": "10.0.20348" }],
      ]);
      for (const platform of build.platforms) {
        const [platformRepository, platformTag] = repositoryAndTag(platform.pushRef!);
        expect(platform.digest).toBe((await readManifest(env.REGISTRY, platformRepository, platformTag)).digest);
      }

      // And through skopeo, a client nobody here wrote: the same bytes.
      const skopeo = spawnSync("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${plan.tags[0]}`]);
      expect(skopeo.status, String(skopeo.stderr)).toBe(0);
      expect(`sha256:${createHash("sha256").update(skopeo.stdout).digest("hex")}`).toBe(indexDigest);
      expect(JSON.parse(String(skopeo.stdout)).manifests.map((m: { digest: string }) => m.digest)).toEqual([linux!.digest, windows!.digest]);

      // Statuses: the index's pending then success, once each, across the restart.
      expect(statesOf(harness.reports, manifestContext)).toEqual(["pending", "success"]);
      expect(harness.reports.find((r) => r.context === manifestContext && r.state === "success")).toMatchObject({
        description: `Index ${indexDigest.slice(0, 19)}… pushed under 1 tag`,
        repository: "octo-org/app",
        sha: plan.sha,
        targetUrl: plan.targetUrl,
      });
      for (const context of ["dockhand/linux-amd64", "dockhand/windows-ltsc2022"]) {
        expect(statesOf(harness.reports, context).filter((state) => state !== "pending")).toEqual(["success"]);
      }
      expect(restarted.reports).toEqual([]);
    } finally {
      await restarted.executor.stop();
    }
  });

  it("resumes after a restart between a platform's push and its read-back: no restart error, the index pushed and reported once", { timeout: 180_000 }, async () => {
    const dir = scratchDir();
    const first = await startExecutor(dir, { buildkit: true, validatePlatform: false });
    const plan = planFor(first, "multi", { platforms });
    await first.executor.submit(plan, undefined);
    await first.executor.idle();
    await first.executor.stop();
    expect(statesOf(first.reports, manifestContext)).toEqual(["pending", "success"]);

    // The record as a dispatcher that died right after the Windows push left it:
    // steps done, image not read back, index not pushed, pending reported.
    const file = join(first.executor.stateDir, "builds", plan.buildId, "build.json");
    const stored = storedRecord(first, plan.buildId);
    const windows = stored.platforms.find((p: { platform: string }) => p.platform === "windows/amd64:ltsc2022");
    Object.assign(windows, { state: "running", imageCheck: "pending", reported: "pending", message: "reading the pushed image from the registry" });
    delete windows.image;
    delete windows.imageRecord;
    delete stored.indexResult;
    stored.manifestReported = "pending";
    writeFileSync(file, JSON.stringify(stored));
    const [repository, tag] = repositoryAndTag(plan.tags[0]!);
    const indexBefore = (await readManifest(env.REGISTRY, repository, tag)).digest;

    const restarted = await startExecutor(dir, { buildkit: true, validatePlatform: false });
    try {
      await restarted.executor.idle();
      const build = (await restarted.executor.get(plan.buildId))!;
      expect(build.platforms.map((p) => [p.platform, p.state, p.imageCheck])).toEqual([
        ["linux/amd64", "succeeded", "passed"],
        ["windows/amd64:ltsc2022", "succeeded", "passed"],
      ]);
      // The same platforms' images, so the same index bytes: the push is idempotent.
      expect(build.manifest).toMatchObject({ state: "succeeded", digest: indexBefore });
      expect(restarted.reports.map((r) => [r.context, r.state])).toEqual(
        expect.arrayContaining([
          ["dockhand/windows-ltsc2022", "success"],
          [manifestContext, "success"],
        ]),
      );
      expect(restarted.reports).toHaveLength(2);
    } finally {
      await restarted.executor.stop();
    }
  });

  it("pushes no index when one platform fails: the manifest status is an error naming it, and the other platform's image stays by digest", { timeout: 180_000 }, async () => {
    const harness = await startExecutor(scratchDir(), { buildkit: true, validatePlatform: false });
    try {
      const plan = planFor(harness, "windowsFails", { platforms });
      await harness.executor.submit(plan, undefined);
      await harness.executor.idle();

      const build = (await harness.executor.get(plan.buildId))!;
      expect(build.platforms.map((p) => [p.platform, p.state])).toEqual([
        ["linux/amd64", "succeeded"],
        ["windows/amd64:ltsc2022", "failed"],
      ]);
      expect(build.state).toBe("failed");
      expect(build.manifest).toEqual({
        state: "failed",
        tags: plan.tags,
        statusContext: manifestContext,
        message: "no index pushed: windows/amd64:ltsc2022 failed",
      });
      expect(harness.reports.filter((r) => r.context === manifestContext).map((r) => [r.state, r.description])).toEqual([
        ["pending", "Waiting for 2 of 2 platforms: linux/amd64, windows/amd64:ltsc2022"],
        ["error", "No index pushed: windows/amd64:ltsc2022 failed"],
      ]);
      // The index's status is the build's last word: after each platform's own result.
      const said = harness.reports.map((r) => `${r.context} ${r.state}`);
      expect(said.indexOf(`${manifestContext} error`)).toBe(said.length - 1);
      expect(said).toEqual(expect.arrayContaining(["dockhand/linux-amd64 success", "dockhand/windows-ltsc2022 failure"]));

      const [repository, tag] = repositoryAndTag(plan.tags[0]!);
      await expect(readManifest(env.REGISTRY, repository, tag)).rejects.toThrow(/HTTP 404/);
      const linux = build.platforms[0]!;
      const byDigest = await readManifest(env.REGISTRY, repository, linux.digest!);
      expect(byDigest.digest).toBe(linux.digest);
      expect(storedRecord(harness, plan.buildId).indexResult).toBeUndefined();
    } finally {
      await harness.executor.stop();
    }
  });

  it("checks each pushed image against its platform (validatePlatform) and indexes the real Windows os.version of a BuildKit build", { timeout: 180_000 }, async () => {
    const harness = await startExecutor(scratchDir(), { buildkit: true, validatePlatform: true });
    try {
      const plan = planFor(harness, "copyOnly", { platforms: ["windows/amd64:ltsc2019", "windows/amd64:ltsc2022", "linux/amd64"] });
      await harness.executor.submit(plan, undefined);
      await harness.executor.idle();

      const build = (await harness.executor.get(plan.buildId))!;
      expect(build.platforms.map((p) => [p.platform, p.builder, p.state, p.imageCheck, p.image])).toEqual([
        ["linux/amd64", "buildkit", "succeeded", "passed", { os: "linux", architecture: "amd64" }],
        ["windows/amd64:ltsc2019", "buildkit", "succeeded", "passed", { os: "windows", architecture: "amd64", "os.version": "10.0.17763.6293" }],
        ["windows/amd64:ltsc2022", "buildkit", "succeeded", "passed", { os: "windows", architecture: "amd64", "os.version": "10.0.20348.2700" }],
      ]);
      expect(build.manifest?.state).toBe("succeeded");
      const [repository, tag] = repositoryAndTag(plan.tags[0]!);
      const index = await readManifest(env.REGISTRY, repository, tag);
      expect(index.digest).toBe(build.manifest?.digest);
      expect(index.body.manifests.map((m: { digest: string; platform: object }) => [m.digest, m.platform])).toEqual(
        build.platforms.map((p) => [p.digest, { architecture: "amd64", ...p.image }]),
      );
      expect(statesOf(harness.reports, manifestContext)).toEqual(["pending", "success"]);
    } finally {
      await harness.executor.stop();
    }
  });

  it("fails a platform whose pushed image is of another Windows build, saying what to fix, and pushes no index", { timeout: 180_000 }, async () => {
    const harness = await startExecutor(scratchDir(), { buildkit: true, validatePlatform: true });
    try {
      const plan = planFor(harness, "copyOnlyPinned", { platforms: ["windows/amd64:ltsc2019", "linux/amd64"] });
      await harness.executor.submit(plan, undefined);
      await harness.executor.idle();

      const build = (await harness.executor.get(plan.buildId))!;
      expect(build.platforms.map((p) => [p.platform, p.state, p.imageCheck])).toEqual([
        ["linux/amd64", "succeeded", "passed"],
        ["windows/amd64:ltsc2019", "failed", "failed"],
      ]);
      expect(build.platforms[1]!.message).toMatch(/^pushed image is os\.version 10\.0\.20348\.2700 but windows\/amd64:ltsc2019 needs 10\.0\.17763\.\*: the base image must match/);
      expect(harness.reports.filter((r) => r.context === "dockhand/windows-ltsc2019").map((r) => r.state).filter((s) => s !== "pending")).toEqual(["failure"]);
      expect(harness.reports.filter((r) => r.context === manifestContext).map((r) => [r.state, r.description])).toEqual([
        ["pending", expect.stringMatching(/^Waiting for 2 of 2 platforms/)],
        ["error", "No index pushed: windows/amd64:ltsc2019 failed"],
      ]);
    } finally {
      await harness.executor.stop();
    }
  });
});

/**
 * Starts a dispatcher in its own process, lets it submit a slow build, and
 * SIGKILLs it once the build step runs. Returns that step's pid, which
 * outlives the dispatcher (its own process group).
 */
async function crashMidBuild(dir: string): Promise<{ plan: BuildPlan; pid: number; crashReports: StatusReport[] }> {
  const config = configIn(dir);
  const plan = planFor({ config } as Harness, "slow");
  const input = join(dir, "crash-input.json");
  writeFileSync(input, JSON.stringify({ config, plan, dockerHost: env.DOCKER_HOST }));
  // One process (tsx as a loader, not its CLI, which would run the script in a child): SIGKILL hits the dispatcher itself.
  const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "test/local/crash-dispatcher.ts"), input], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const crashReports: StatusReport[] = [];
  const exited = new Promise((resolve) => child.once("exit", resolve));
  let output = "";
  const pid = await new Promise<number>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      for (const line of output.split("\n")) {
        const running = /^RUNNING (\d+)$/.exec(line);
        if (running) resolve(Number(running[1]));
      }
    });
    child.once("exit", (code) => reject(new Error(`crash-dispatcher exited early (${code}): ${output}`)));
  });
  // Let the pending status out before the crash, as a live dispatcher would have.
  await waitFor(async () => output.includes("REPORT "), 10_000);
  child.kill("SIGKILL");
  await exited;
  for (const line of output.split("\n")) if (line.startsWith("REPORT ")) crashReports.push(JSON.parse(line.slice(7)));
  return { plan, pid, crashReports };
}

async function runningContainers(): Promise<Set<string>> {
  const { stdout } = await run("docker", ["-H", env.DOCKER_HOST, "ps", "-q", "--no-trunc"]);
  return new Set(stdout.split("\n").filter(Boolean));
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
