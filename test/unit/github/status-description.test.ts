import { describe, expect, it } from "vitest";
import {
  describeStatus,
  formatDuration,
  truncateDescription,
  type BuildOutcome,
  type CommitState,
} from "../../../dispatcher/model/status-description.js";

const digest = `sha256:abcd1234ef56${"0".repeat(52)}`;

describe("describeStatus", () => {
  const rows: Array<[BuildOutcome, CommitState, string]> = [
    [{ phase: "queued", builder: "docker" }, "pending", "Waiting for dockerd pool…"],
    [{ phase: "queued", builder: "buildkit" }, "pending", "Waiting for BuildKit…"],
    [{ phase: "building", builder: "docker", node: "win-ltsc2022-0" }, "pending", "Building on dockerd pool (win-ltsc2022-0)…"],
    [{ phase: "building", builder: "buildkit" }, "pending", "Building with BuildKit…"],
    [{ phase: "queued", builder: "buildkit-windows" }, "pending", "Waiting for BuildKit on the Windows pool…"],
    [{ phase: "building", builder: "buildkit-windows", node: "win-ltsc2022-0" }, "pending", "Building with BuildKit on the Windows pool (win-ltsc2022-0)…"],
    [{ phase: "succeeded", digest, durationSeconds: 72 }, "success", "Built sha256:abcd1234ef56… in 1m12s"],
    [{ phase: "succeeded", durationSeconds: 9.6 }, "success", "Built in 10s"],
    [{ phase: "failed", step: "build", exitCode: 1 }, "failure", "Failed: exit code 1 in step build"],
    [{ phase: "failed", step: "push", reason: "OOMKilled", durationSeconds: 3725 }, "failure", "Failed: OOMKilled in step push after 1h2m"],
    [{ phase: "failed", step: "build" }, "failure", "Failed: error in step build"],
    [{ phase: "timed-out", durationSeconds: 3600 }, "failure", "Timed out after 1h0m"],
    [{ phase: "cancelled" }, "error", "Cancelled"],
    [
      { phase: "unschedulable", os: "windows", windowsBuild: "10.0.26100", poolSelector: { agentpool: "win1" } },
      "error",
      "No node matches windows-build 10.0.26100 in pool agentpool=win1",
    ],
    [{ phase: "unschedulable", os: "linux", poolSelector: {} }, "error", "No node matches os linux"],
    [
      { phase: "unschedulable", os: "windows", windowsBuild: "10.0.17763", poolSelector: { agentpool: "win1", zone: "a" } },
      "error",
      "No node matches windows-build 10.0.17763 in pool agentpool=win1,zone=a",
    ],
  ];

  it.each(rows)("%j → %s %j", (outcome, state, description) => {
    expect(describeStatus(outcome)).toEqual({ state, description });
  });

  it("keeps a long failure reason within GitHub's 140 characters", () => {
    const { description } = describeStatus({ phase: "failed", step: "build", reason: "x".repeat(300) });
    expect([...description]).toHaveLength(140);
    expect(description.endsWith("…")).toBe(true);
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "0s"],
    [59.4, "59s"],
    [60, "1m0s"],
    [3599, "59m59s"],
    [3600, "1h0m"],
    [90061, "25h1m"],
    [-3, "0s"],
  ])("%d s → %s", (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});

describe("truncateDescription", () => {
  it.each([
    ["short", 140, "short"],
    ["a".repeat(140), 140, "a".repeat(140)],
    ["a".repeat(141), 140, `${"a".repeat(139)}…`],
    ["line one\n  line two\t", 140, "line one line two"],
    ["word ".repeat(10), 10, "word word…"],
    // 🐳 is two UTF-16 units: cut by characters, never half a surrogate pair.
    ["🐳".repeat(6), 5, "🐳🐳🐳🐳…"],
  ])("%j (limit %d) → %j", (input, limit, output) => {
    expect(truncateDescription(input, limit)).toBe(output);
  });
});
