import { describe, expect, it } from "vitest";
import { planBuild } from "../plan/build-plan.js";
import { contextUrl, sha, testConfig, testRequest } from "../plan/test-fixtures.js";
import { commitStatusFor } from "../model/commit-status.js";
import {
  awaitingReadBack,
  buildStateOf,
  endInterrupted,
  forgetProcesses,
  newBuildRecord,
  parseBuildRecord,
  readsBack,
  recordReadBack,
  startReadBack,
  type BuildRecord,
  type PlatformRecord,
  platformStateOf,
} from "./build-record.js";
import { localPlatformSteps } from "./local-steps.js";

const buildId = "abcdefghijkl";
const created = new Date("2030-01-02T03:04:05.000Z");
const windowsRun = "ARG WINDOWS_VERSION=ltsc2022\nFROM mcr.microsoft.com/windows/servercore:${WINDOWS_VERSION}\nRUN setup.exe\n";

function record(): BuildRecord {
  const config = testConfig();
  const plan = planBuild({
    request: testRequest({ platforms: ["windows/amd64:ltsc2022", "linux/amd64"], tags: ["127.0.0.1:15000/o/app:1.0"], idempotencyKey: "1/1/b/s" }),
    config,
    dockerfile: windowsRun,
    buildId,
    contextUrl,
  });
  return newBuildRecord(
    plan,
    (slug) => localPlatformSteps(plan, plan.platforms.find((p) => p.platform.slug === slug)!, config, { buildkitAddress: undefined, metadataFile: "/m.json" }),
    created,
  );
}

describe("newBuildRecord and buildStateOf", () => {
  it("records every platform queued, with the plan's names and what it pushes", () => {
    const stored = record();
    expect(stored).toMatchObject({ version: 1, id: buildId, sha, idempotencyKey: "1/1/b/s", createdAt: created.toISOString() });
    expect(stored.platforms.map((p) => [p.slug, p.job, p.state, p.pushRef, p.steps.map((s) => `${s.name}:${s.state}`)])).toEqual([
      ["win-ltsc2022", "dh-abcdefghijkl-win-ltsc2022", "queued", "127.0.0.1:15000/o/app:1.0-win-ltsc2022", ["build:pending", "push-0:pending"]],
      ["linux-amd64", "dh-abcdefghijkl-linux-amd64", "queued", "127.0.0.1:15000/o/app:1.0-linux-amd64", ["build:pending", "push-0:pending"]],
    ]);
  });

  it("shows the API a BuildState without the local bookkeeping, sorted by platform", () => {
    const state = buildStateOf(record());
    expect(state).toEqual({
      id: buildId,
      repository: "octo-org/app",
      sha,
      ref: "refs/heads/main",
      targetUrl: `http://dockhand.dockhand.svc:8080/v1/builds/${buildId}`,
      state: "queued",
      platforms: [
        {
          platform: "linux/amd64",
          slug: "linux-amd64",
          job: "dh-abcdefghijkl-linux-amd64",
          builder: "docker",
          builderReason: "Docker daemon: no BuildKit address for the local executor (planned: linux/amd64: BuildKit)",
          statusContext: "dockhand/linux-amd64",
          state: "queued",
          pushRef: "127.0.0.1:15000/o/app:1.0-linux-amd64",
          createdAt: created.toISOString(),
        },
        {
          platform: "windows/amd64:ltsc2022",
          slug: "win-ltsc2022",
          job: "dh-abcdefghijkl-win-ltsc2022",
          builder: "docker",
          builderReason: "windows stage #0 has RUN (line 3): dockerd pool",
          statusContext: "dockhand/windows-ltsc2022",
          state: "queued",
          pushRef: "127.0.0.1:15000/o/app:1.0-win-ltsc2022",
          createdAt: created.toISOString(),
        },
      ],
      manifest: {
        state: "pending",
        tags: ["127.0.0.1:15000/o/app:1.0"],
        statusContext: "dockhand/manifest",
        message: "waiting for 2 of 2 platforms: windows/amd64:ltsc2022, linux/amd64",
      },
    });
  });
});

describe("reading the pushed image back, and the index", () => {
  const digest = (c: string) => `sha256:${c.repeat(64)}`;
  const imageRecord = (os: string, version?: string) => ({
    os,
    architecture: "amd64",
    ...(version ? { "os.version": version } : {}),
    digest: digest(os === "linux" ? "1" : "2"),
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    size: 480,
  });
  /** Both platforms' steps done and pushed, then what the registry said about each. */
  function readBackWith(reads: [Parameters<typeof recordReadBack>[1], Parameters<typeof recordReadBack>[1]]): BuildRecord {
    const stored = record();
    stored.platforms.forEach((platform, index) => {
      startReadBack(platform);
      platform.digest = digest(String(index + 1));
      recordReadBack(platform, reads[index]!);
    });
    return stored;
  }
  const windowsFits = { digest: digest("1"), record: imageRecord("windows", "10.0.20348.2700") };
  const linuxFits = { digest: digest("2"), record: imageRecord("linux") };

  it("records what the plan says to read back: the index, and validatePlatform", () => {
    const stored = record();
    expect(stored.index).toEqual({ tags: ["127.0.0.1:15000/o/app:1.0"], statusContext: "dockhand/manifest" });
    expect(stored.validatePlatform).toBe(true);
    expect(stored.platforms.every((platform) => readsBack(stored, platform))).toBe(true);
    const noPush = { ...stored, validatePlatform: false, index: undefined };
    expect(readsBack(noPush, stored.platforms[0]!)).toBe(false);
  });

  it("keeps a pushed platform running until its image is read back, and a restart does not end it", () => {
    const platform = record().platforms[0]!;
    platform.state = "succeeded";
    startReadBack(platform);
    expect(platformStateOf(platform)).toMatchObject({ state: "running", imageCheck: "pending", message: "reading the pushed image from the registry" });
    expect(awaitingReadBack(platform)).toBe(true);
    expect(commitStatusFor(platform)).toMatchObject({ state: "pending", description: "Pushed; reading the image back from the registry…" });
  });

  const rows: { name: string; reads: Parameters<typeof readBackWith>[0]; platforms: object[]; build: object }[] = [
    {
      name: "both fit: succeeded with the image's platform, and the index is ready (the build runs until it is pushed)",
      reads: [windowsFits, linuxFits],
      platforms: [
        { platform: "linux/amd64", state: "succeeded", imageCheck: "passed", image: { os: "linux", architecture: "amd64" } },
        { platform: "windows/amd64:ltsc2022", state: "succeeded", imageCheck: "passed", image: { os: "windows", architecture: "amd64", "os.version": "10.0.20348.2700" } },
      ],
      build: { state: "running", manifest: { state: "pending", message: "pushing the index of 2 platforms" } },
    },
    {
      name: "one does not fit: that platform fails saying why, and no index is pushed",
      reads: [{ digest: digest("1"), mismatch: "pushed image is linux/amd64 but windows/amd64:ltsc2022 needs a windows image: …" }, linuxFits],
      platforms: [
        { platform: "linux/amd64", state: "succeeded" },
        { platform: "windows/amd64:ltsc2022", state: "failed", imageCheck: "failed", message: "pushed image is linux/amd64 but windows/amd64:ltsc2022 needs a windows image: …" },
      ],
      build: { state: "failed", manifest: { state: "failed", message: "no index pushed: windows/amd64:ltsc2022 failed" } },
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const state = buildStateOf(readBackWith(row.reads));
      expect(state.platforms).toMatchObject(row.platforms);
      expect(state).toMatchObject(row.build);
      expect(state.manifest).not.toHaveProperty("ready");
      // The index entry's source stays in the record, not in what the API shows.
      expect(state.platforms[0]).not.toHaveProperty("imageRecord");
    });
  }

  it("shows the pushed index's digest as the build's, or the refusal as its error", () => {
    const pushed = { ...readBackWith([windowsFits, linuxFits]), indexResult: { digest: digest("f"), tags: ["127.0.0.1:15000/o/app:1.0"] } };
    expect(buildStateOf(pushed)).toMatchObject({ state: "succeeded", manifest: { state: "succeeded", digest: digest("f") } });
    const refused = { ...readBackWith([windowsFits, linuxFits]), indexResult: { error: "no index pushed: HTTP 400 MANIFEST_INVALID" } };
    expect(buildStateOf(refused)).toMatchObject({ state: "error", manifest: { state: "error", message: "no index pushed: HTTP 400 MANIFEST_INVALID" } });
  });
});

describe("a dispatcher restart", () => {
  const later = new Date("2030-01-02T03:05:00.000Z");
  const rows: { name: string; platform: Partial<PlatformRecord>; ended: boolean; state: string; commitState: string }[] = [
    { name: "ends a running platform with an error", platform: { state: "running" }, ended: true, state: "error", commitState: "error" },
    { name: "ends a queued platform with an error", platform: { state: "queued" }, ended: true, state: "error", commitState: "error" },
    { name: "leaves a succeeded platform alone", platform: { state: "succeeded" }, ended: false, state: "succeeded", commitState: "success" },
    { name: "leaves a cancelled platform alone", platform: { state: "cancelled", message: "by the workflow" }, ended: false, state: "cancelled", commitState: "error" },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const platform = { ...record().platforms[0]!, ...row.platform };
      expect(endInterrupted(platform, "dispatcher restarted during the build", later)).toBe(row.ended);
      expect(platform.state).toBe(row.state);
      expect(commitStatusFor(platform).state).toBe(row.commitState);
      if (row.ended) {
        expect(platform.message).toBe("dispatcher restarted during the build");
        expect(platform.finishedAt).toBe(later.toISOString());
        expect(commitStatusFor(platform).description).toBe("Dispatcher restarted during the build");
      }
    });
  }

  it("forgets the processes of steps a previous dispatcher ran", () => {
    const platform = record().platforms[0]!;
    platform.steps[0] = { ...platform.steps[0]!, state: "running", process: { pid: 4242, startTime: "99" } };
    expect(forgetProcesses(platform, later)).toBe(true);
    expect(platform.steps.map((s) => [s.name, s.state, s.process, s.finishedAt])).toEqual([
      ["build", "cancelled", undefined, later.toISOString()],
      ["push-0", "pending", undefined, undefined],
    ]);
    expect(forgetProcesses(platform, later)).toBe(false);
  });
});

describe("parseBuildRecord", () => {
  const rows = [
    { name: "reads back what was written", text: JSON.stringify(record()), error: undefined },
    { name: "refuses another version", text: JSON.stringify({ ...record(), version: 2 }), error: "b.json: unknown build record version 2 (this dispatcher writes 1)" },
    { name: "refuses something else", text: JSON.stringify({ version: 1, id: "x" }), error: "b.json: not a local build record (id, requestHash or platforms missing)" },
  ];
  for (const row of rows) {
    it(row.name, () => {
      if (row.error === undefined) expect(parseBuildRecord(row.text, "b.json")).toEqual(record());
      else expect(() => parseBuildRecord(row.text, "b.json")).toThrow(row.error);
    });
  }
});
