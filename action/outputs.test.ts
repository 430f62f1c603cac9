import { describe, expect, it } from "vitest";
import type { BuildStateBody, PlatformState } from "../dispatcher/protocol/build-state.js";
import { stepOutputs } from "./outputs.js";
import { formatDuration, summaryTable } from "./summary.js";

const d1 = `sha256:${"1".repeat(64)}`;
const d2 = `sha256:${"2".repeat(64)}`;
const platform = (overrides: Partial<PlatformState>): PlatformState => ({
  platform: "linux/amd64",
  slug: "linux-amd64",
  job: "dh-x-linux-amd64",
  builder: "buildkit",
  builderReason: "no Windows RUN",
  statusContext: "dockhand/linux-amd64",
  state: "succeeded",
  node: "linux-0",
  createdAt: "2026-01-01T10:00:00Z",
  startedAt: "2026-01-01T10:00:05Z",
  finishedAt: "2026-01-01T10:01:10Z",
  ...overrides,
});
const build = (platforms: PlatformState[]): BuildStateBody => ({
  id: "abcdefabcdef",
  repository: "o/r",
  sha: "0".repeat(40),
  ref: "refs/heads/main",
  targetUrl: "https://d.example.com/v1/builds/abcdefabcdef",
  state: "succeeded",
  platforms,
  url: "https://d.example.com/v1/builds/abcdefabcdef",
  logsUrl: "https://d.example.com/v1/builds/abcdefabcdef/logs",
});

describe("outputs", () => {
  it("single platform: digest is that platform's, images are the tags pinned by digest", () => {
    const outputs = stepOutputs(build([platform({ digest: d1 })]), ["r.example/app:1", "r.example/app:latest"], true);
    expect(outputs.digest).toBe(d1);
    expect(JSON.parse(outputs.digests)).toEqual({ "linux/amd64": d1 });
    expect(JSON.parse(outputs.images)).toEqual({ "linux/amd64": [`r.example/app:1@${d1}`, `r.example/app:latest@${d1}`] });
    expect(JSON.parse(outputs.metadata)).toMatchObject({ buildId: "abcdefabcdef", state: "succeeded", platforms: [{ platform: "linux/amd64", digest: d1, node: "linux-0" }] });
  });

  it("several platforms: per-platform tags as the dispatcher pushes them, no single digest", () => {
    const outputs = stepOutputs(
      build([platform({ digest: d1 }), platform({ platform: "windows/amd64:ltsc2022", slug: "win-ltsc2022", builder: "docker", digest: d2 })]),
      ["r.example/app:1"],
      true,
    );
    expect(outputs.digest).toBe("");
    expect(JSON.parse(outputs.images)).toEqual({ "linux/amd64": [`r.example/app:1-linux-amd64@${d1}`], "windows/amd64:ltsc2022": [`r.example/app:1-win-ltsc2022@${d2}`] });
  });
});

describe("outputs of a failed build", () => {
  it("lists only what was pushed, pinned: a platform that failed before its push lists no reference", () => {
    const outputs = stepOutputs(
      { ...build([platform({ digest: d1 }), platform({ platform: "windows/amd64:ltsc2022", slug: "win-ltsc2022", builder: "docker", state: "failed", failedStep: { name: "build", exitCode: 1 } })]), state: "failed" },
      ["r.example/app:1"],
      true,
    );
    expect(JSON.parse(outputs.images)).toEqual({ "linux/amd64": [`r.example/app:1-linux-amd64@${d1}`], "windows/amd64:ltsc2022": [] });
    expect(JSON.parse(outputs.digests)).toEqual({ "linux/amd64": d1 });
    expect(JSON.parse(outputs.metadata).platforms[1]).toMatchObject({ state: "failed", images: [] });
  });

  it("a single platform that failed lists nothing, not its tag", () => {
    const outputs = stepOutputs({ ...build([platform({ state: "failed", failedStep: { name: "build", exitCode: 7 } })]), state: "failed" }, ["r.example/app:1"], true);
    expect(JSON.parse(outputs.images)).toEqual({ "linux/amd64": [] });
    expect(outputs.digest).toBe("");
  });
});

describe("outputs of a multi-platform push", () => {
  it("takes the image index's digest as the digest, and keeps the index in metadata", () => {
    const d3 = `sha256:${"3".repeat(64)}`;
    const withIndex = { ...build([platform({ digest: d1 }), platform({ platform: "windows/amd64:ltsc2022", slug: "win-ltsc2022", digest: d2 })]), manifest: { state: "succeeded" as const, tags: ["r.example/app:1"], statusContext: "dockhand/manifest", digest: d3 } };
    const outputs = stepOutputs(withIndex, ["r.example/app:1"], true);
    expect(outputs.digest).toBe(d3);
    expect(JSON.parse(outputs.metadata)).toMatchObject({ digest: d3, manifest: { state: "succeeded", digest: d3 } });
    expect(summaryTable(withIndex).rows.at(-1)).toEqual(["image index", "—", "—", "—", "✅ pushed", `<code>${d3}</code>`]);
  });
});

describe("job summary", () => {
  it("has one row per platform with builder, node, duration, result and digest, and links to the build", () => {
    const table = summaryTable(build([platform({ digest: d1 }), platform({ platform: "windows/amd64:ltsc2019", builder: "docker", node: undefined, state: "failed", message: "step build exited with code 7 <oops>", finishedAt: undefined })]));
    expect(table.header).toEqual(["Platform", "Builder", "Node", "Duration", "Result", "Digest"]);
    expect(table.rows).toEqual([
      ["linux/amd64", "buildkit", "linux-0", "1m 05s", "✅ succeeded", `<code>${d1}</code>`],
      ["windows/amd64:ltsc2019", "docker", "—", "—", "❌ failed: step build exited with code 7 &lt;oops&gt;", "—"],
    ]);
    expect(table.links).toEqual([
      { text: "build", href: "https://d.example.com/v1/builds/abcdefabcdef" },
      { text: "logs", href: "https://d.example.com/v1/builds/abcdefabcdef/logs" },
    ]);
  });

  it.each([
    [undefined, "—"],
    [900, "1s"],
    [42_000, "42s"],
    [65_000, "1m 05s"],
    [3_725_000, "1h 02m"],
  ])("formatDuration(%j) = %j", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
