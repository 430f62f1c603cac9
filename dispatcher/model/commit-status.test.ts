import { describe, expect, it } from "vitest";
import type { PlatformState } from "../protocol/build-state.js";
import { commitStatusFor, commitStatusToReport, isFinalCommitState, isWithheld, withheldStatus } from "./commit-status.js";

const platform = (overrides: Partial<PlatformState>): PlatformState => ({
  platform: "windows/amd64:ltsc2022",
  slug: "win-ltsc2022",
  job: "dh-abc-win-ltsc2022",
  builder: "buildkit",
  builderReason: "no RUN in windows stages: BuildKit",
  statusContext: "dockhand/windows-ltsc2022",
  state: "queued",
  ...overrides,
});

describe("commitStatusToReport", () => {
  it("sends pending with the builder's reason first, even for a platform first seen finished", () => {
    for (const state of ["succeeded", "failed", "cancelled", "error"] as const) {
      expect(commitStatusToReport(platform({ state, digest: `sha256:${"a".repeat(64)}` }), undefined)).toEqual({
        state: "pending",
        description: "Queued: no RUN in windows stages: BuildKit",
        final: false,
      });
    }
  });

  it("sends the result once pending is out", () => {
    const wanted = commitStatusToReport(platform({ state: "succeeded", digest: `sha256:${"a".repeat(64)}`, startedAt: "2026-11-30T10:00:00Z", finishedAt: "2026-11-30T10:00:42Z" }), "pending");
    expect(wanted).toMatchObject({ state: "success", final: true });
    expect(wanted.description).toMatch(/^Built sha256:aaaaaaaaaaaa… in 42s$/);
    expect(commitStatusToReport(platform({ state: "cancelled" }), "pending")).toMatchObject({ state: "error", description: "Cancelled", final: true });
  });

  it("says why this builder while it builds, as the queued status does", () => {
    expect(commitStatusFor(platform({ state: "running", node: "win-ltsc2022-0", builderReason: "windows stage #0 has RUN (line 3): dockerd pool; ltsc2019 on an ltsc2022 node, Hyper-V isolation" }))).toEqual({
      state: "pending",
      description: "Building on win-ltsc2022-0: windows stage #0 has RUN (line 3): dockerd pool; ltsc2019 on an ltsc2022 node, Hyper-V isolation",
      final: false,
    });
  });

  it("reports a running platform as it is, first time or not", () => {
    expect(commitStatusToReport(platform({ state: "running", node: "linux-0" }), undefined)).toMatchObject({ state: "pending", final: false });
    expect(commitStatusToReport(platform({ state: "queued" }), undefined).description).toBe("Queued: no RUN in windows stages: BuildKit");
  });
});

describe("isWithheld", () => {
  it("holds back every status of a platform cancelled before its first one went out, and only that", () => {
    expect(isWithheld(platform({ state: "cancelled" }), undefined)).toBe(true);
    expect(isWithheld(platform({ state: "cancelled" }), "pending")).toBe(false);
    expect(isWithheld(platform({ state: "failed" }), undefined)).toBe(false);
    // Recorded as withheldStatus, it counts as final: the Job's finalizer can go.
    expect(isFinalCommitState(withheldStatus)).toBe(true);
  });
});
