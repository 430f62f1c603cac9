import type { V1Job } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { deriveBuildState, derivePlatformState } from "../controller/state-from-jobs.js";
import { deriveManifestState } from "../controller/index-from-jobs.js";
import { manifestAnnouncement, manifestCommitStatus, type ManifestReports, type ManifestState, nextManifestStep } from "./image-index-state.js";

const now = new Date("2026-11-23T20:00:00Z");
const options = { now, unschedulableAfterSeconds: 600 };
const platforms = ["windows/amd64:ltsc2019", "windows/amd64:ltsc2022", "linux/amd64"];
const slugOf: Record<string, string> = { "windows/amd64:ltsc2019": "win-ltsc2019", "windows/amd64:ltsc2022": "win-ltsc2022", "linux/amd64": "linux-amd64" };
const digest = (c: string) => `sha256:${c.repeat(64)}`;
const record = (os: string, version?: string) =>
  JSON.stringify({ os, architecture: "amd64", ...(version ? { "os.version": version } : {}), digest: digest("a"), mediaType: "application/vnd.oci.image.manifest.v1+json", size: 400 });

type Outcome = "running" | "complete" | "failed";
function job(platform: string, outcome: Outcome, annotations: Record<string, string> = {}): V1Job {
  const conditions = outcome === "complete" ? [{ type: "Complete", status: "True" }] : outcome === "failed" ? [{ type: "Failed", status: "True", message: "BackoffLimitExceeded" }] : [];
  return {
    metadata: {
      name: `dh-abcdefghijkl-${slugOf[platform]}`,
      labels: { "dockhand.dev/build-id": "abcdefghijkl", "dockhand.dev/platform": slugOf[platform]! },
      annotations: {
        "dockhand.dev/platform": platform,
        "dockhand.dev/push-ref": `127.0.0.1:15000/app:1-${slugOf[platform]}`,
        "dockhand.dev/digest": digest("a"),
        "dockhand.dev/validate-platform": "true",
        "dockhand.dev/build-platforms": JSON.stringify(platforms),
        "dockhand.dev/index-tags": JSON.stringify(["127.0.0.1:15000/app:1"]),
        "dockhand.dev/manifest-status-context": "dockhand/manifest",
        ...annotations,
      },
    },
    status: { conditions: conditions as never },
  };
}
const checked: Record<string, Record<string, string>> = {
  "windows/amd64:ltsc2019": { "dockhand.dev/image-platform": record("windows", "10.0.17763.6293") },
  "windows/amd64:ltsc2022": { "dockhand.dev/image-platform": record("windows", "10.0.20348.2700") },
  "linux/amd64": { "dockhand.dev/image-platform": record("linux") },
};
const done = (platform: string) => job(platform, "complete", checked[platform]);

describe("derivePlatformState: a pushed image is read back before the platform succeeds", () => {
  const cases: [string, V1Job, object][] = [
    ["Complete, not read yet: still running", job("windows/amd64:ltsc2022", "complete"), { state: "running", imageCheck: "pending" }],
    ["Complete and read: succeeded with the image's platform", done("windows/amd64:ltsc2022"), { state: "succeeded", imageCheck: "passed", image: { os: "windows", architecture: "amd64", "os.version": "10.0.20348.2700" } }],
    [
      "Complete with a mismatch: failed, saying why",
      job("windows/amd64:ltsc2022", "complete", { "dockhand.dev/platform-mismatch": "pushed image is os.version 10.0.17763.6293 but …" }),
      { state: "failed", imageCheck: "failed", message: "pushed image is os.version 10.0.17763.6293 but …" },
    ],
    [
      "nothing to read back (single platform, validation off)",
      job("linux/amd64", "complete", { "dockhand.dev/validate-platform": "false", "dockhand.dev/index-tags": "" }),
      { state: "succeeded" },
    ],
  ];
  it.each(cases)("%s", (_name, j, expected) => {
    const state = derivePlatformState(j, undefined, options);
    expect(state).toMatchObject(expected);
    if (!("imageCheck" in expected)) expect(state.imageCheck).toBeUndefined();
  });
});

describe("deriveManifestState", () => {
  const states = (jobs: V1Job[]) => jobs.map((j) => derivePlatformState(j, undefined, options));
  const cases: [string, V1Job[], object][] = [
    ["all running: pending", platforms.map((p) => job(p, "running")), { state: "pending", message: "waiting for 3 of 3 platforms: windows/amd64:ltsc2019, windows/amd64:ltsc2022, linux/amd64" }],
    ["one Job not seen yet: pending", [done(platforms[0]!), done(platforms[1]!)], { state: "pending", message: "waiting for 1 of 3 platforms: linux/amd64" }],
    ["all read back: ready to push", platforms.map(done), { state: "pending", ready: true }],
    ["one read back as wrong: waits for the others", [job(platforms[0]!, "complete", { "dockhand.dev/platform-mismatch": "x" }), job(platforms[1]!, "running"), done(platforms[2]!)], { state: "pending" }],
    [
      "partial failure: no index, naming the failed platforms",
      [job(platforms[0]!, "failed"), job(platforms[1]!, "complete", { "dockhand.dev/platform-mismatch": "x" }), done(platforms[2]!)],
      { state: "failed", message: "no index pushed: windows/amd64:ltsc2019 failed, windows/amd64:ltsc2022 failed" },
    ],
    ["pushed", platforms.map((p) => job(p, "complete", { ...checked[p], "dockhand.dev/index": JSON.stringify({ digest: digest("f"), tags: ["127.0.0.1:15000/app:1"] }) })), { state: "succeeded", digest: digest("f"), tags: ["127.0.0.1:15000/app:1"] }],
    ["push refused", platforms.map((p) => job(p, "complete", { ...checked[p], "dockhand.dev/index": JSON.stringify({ error: "no index pushed: HTTP 400" }) })), { state: "error", message: "no index pushed: HTTP 400" }],
  ];
  it.each(cases)("%s", (_name, jobs, expected) => {
    expect(deriveManifestState(jobs, states(jobs))).toMatchObject({ statusContext: "dockhand/manifest", ...expected });
  });

  it("is absent for builds without an index", () => {
    const single = job("linux/amd64", "complete", { "dockhand.dev/index-tags": "" });
    delete single.metadata!.annotations!["dockhand.dev/index-tags"];
    expect(deriveManifestState([single], states([single]))).toBeUndefined();
  });
});

describe("manifestCommitStatus", () => {
  const base = { tags: ["r/app:1", "r/app:latest"], statusContext: "dockhand/manifest" };
  const cases: [string, Parameters<typeof manifestCommitStatus>[0], object][] = [
    ["waiting", { ...base, state: "pending", message: "waiting for 2 of 3 platforms: a, b" }, { state: "pending", description: "Waiting for 2 of 3 platforms: a, b", final: false }],
    ["pushed", { ...base, state: "succeeded", digest: digest("f") }, { state: "success", description: "Index sha256:ffffffffffff… pushed under 2 tags", final: true }],
    ["partial failure", { ...base, state: "failed", message: "no index pushed: windows/amd64:ltsc2019 failed" }, { state: "error", description: "No index pushed: windows/amd64:ltsc2019 failed", final: true }],
  ];
  it.each(cases)("%s", (_name, manifest, expected) => {
    expect(manifestCommitStatus(manifest)).toEqual(expected);
  });
});

describe("deriveBuildState", () => {
  it("gives the index digest as the build's manifest, and stays running until it is pushed", () => {
    const ready = platforms.map(done);
    expect(deriveBuildState("abcdefghijkl", ready, [], options)).toMatchObject({ state: "running", manifest: { state: "pending" } });
    const pushed = platforms.map((p) => job(p, "complete", { ...checked[p], "dockhand.dev/index": JSON.stringify({ digest: digest("f"), tags: ["127.0.0.1:15000/app:1"] }) }));
    const build = deriveBuildState("abcdefghijkl", pushed, [], options);
    expect(build).toMatchObject({ state: "succeeded", manifest: { state: "succeeded", digest: digest("f") } });
    expect(build?.manifest).not.toHaveProperty("ready");
  });
});

describe("nextManifestStep (both executors' index step)", () => {
  const base = { tags: ["r/app:1"], statusContext: "dockhand/manifest" };
  const waiting: ManifestState = { ...base, state: "pending", message: "waiting for 2 of 2 platforms: a, b" };
  const ready: ManifestState = { ...base, state: "pending", ready: true, message: "pushing the index of 2 platforms" };
  const pushed: ManifestState = { ...base, state: "succeeded", digest: digest("f") };
  const failed: ManifestState = { ...base, state: "failed", message: "no index pushed: a failed" };
  const done = { platformsFinal: true };
  const cases: [string, ManifestState, ManifestReports, object][] = [
    ["nothing reported yet: pending", waiting, { reported: undefined, platformsFinal: false }, { kind: "report", wanted: { state: "pending", description: "Waiting for 2 of 2 platforms: a, b" } }],
    ["pending already reported: nothing", waiting, { reported: "pending", platformsFinal: false }, { kind: "none" }],
    ["ready, nothing reported (every platform done before the first look): announce pending first", ready, { reported: undefined, ...done }, { kind: "announce" }],
    ["failed, nothing reported: announce pending first, not the error", failed, { reported: undefined, ...done }, { kind: "announce" }],
    ["announced on another Job though not on this one: no second pending", ready, { reported: undefined, announced: true, ...done }, { kind: "push" }],
    ["ready, pending reported: push", ready, { reported: "pending", ...done }, { kind: "push" }],
    ["pushed: success", pushed, { reported: "pending", ...done }, { kind: "report", wanted: { state: "success", description: "Index sha256:ffffffffffff… pushed under 1 tag", final: true } }],
    ["pushed and success reported: nothing (a restart does not repeat it)", pushed, { reported: "success", ...done }, { kind: "none" }],
    ["a platform failed: error naming it", failed, { reported: "pending", ...done }, { kind: "report", wanted: { state: "error", description: "No index pushed: a failed" } }],
    ["a platform failed but its own failure is not out yet: wait (the index's status comes last)", failed, { reported: "pending", platformsFinal: false }, { kind: "none" }],
    ["final is final, whatever is derived later", waiting, { reported: "error", platformsFinal: false }, { kind: "none" }],
    ["cancelled before anything of the index went out: withhold (no status at all)", { ...failed, cancelled: true }, { reported: undefined, ...done }, { kind: "withhold" }],
    ["cancelled after its pending went out: the error follows", { ...failed, cancelled: true }, { reported: "pending", ...done }, { kind: "report", wanted: { state: "error" } }],
    ["withheld is final: nothing more", { ...failed, cancelled: true }, { reported: "none", ...done }, { kind: "none" }],
  ];
  it.each(cases)("%s", (_name, manifest, said, expected) => {
    expect(nextManifestStep(manifest, said)).toMatchObject(expected);
  });

  it.each([
    ["still waiting: what for", waiting, "Waiting for 2 of 2 platforms: a, b"],
    ["every platform done, the index not pushed yet: being pushed", { ...base, state: "pending" as const, ready: true, message: "pushing the index of 2 platforms" }, "Pushing the index of 2 platforms"],
    ["its result already known: it follows, not a stale 'waiting'", failed, "The index of 2 platforms: a, b; its result follows"],
  ])("announces as things stand: %s", (_name, manifest, description) => {
    expect(manifestAnnouncement(manifest, ["a", "b"])).toEqual({ state: "pending", description, final: false });
  });
});
