import { describe, expect, it } from "vitest";
import { labelKeys, repositoryHash } from "../plan/names.js";
import { onPullRequestClosed, onPullRequestSynchronize, onWorkflowJobCompleted, onWorkflowRunCompleted } from "./cancellations.js";
import { DeliveryCache } from "./delivery-cache.js";

const repository = { full_name: "Octo-Org/App" };
const repo = { [labelKeys.repositoryHash]: repositoryHash("octo-org/app") };

describe("what an event cancels", () => {
  it("pull_request closed: the pull request's builds created before it closed, with a minute of grace", () => {
    expect(onPullRequestClosed({ action: "closed", number: 7, repository, pull_request: { closed_at: "2026-01-01T10:00:00Z" } })).toEqual([
      { labels: { ...repo, [labelKeys.pullRequest]: "7" }, createdBefore: new Date("2026-01-01T10:01:00Z"), reason: "pull request #7 was closed" },
    ]);
  });

  it("pull_request synchronize: the old head's builds and the pull request's older builds, only when opted in", () => {
    const event = { action: "synchronize", number: 7, before: "a".repeat(40), after: "b".repeat(40), repository, pull_request: { updated_at: "2026-01-01T10:00:00Z" } };
    expect(onPullRequestSynchronize(event, false)).toEqual([]);
    expect(onPullRequestSynchronize(event, true)).toEqual([
      { labels: { ...repo, [labelKeys.sha]: "a".repeat(40) }, reason: "superseded by bbbbbbb to pull request #7" },
      { labels: { ...repo, [labelKeys.pullRequest]: "7" }, createdBefore: new Date("2026-01-01T09:59:30Z"), reason: "superseded by bbbbbbb to pull request #7" },
    ]);
  });

  it.each([
    { conclusion: "cancelled", expected: [{ labels: { ...repo, [labelKeys.runId]: "55", [labelKeys.runAttempt]: "2" }, reason: "workflow run 55 was cancelled" }] },
    { conclusion: "success", expected: [] },
    { conclusion: null, expected: [] },
  ])("workflow_run completed as $conclusion", ({ conclusion, expected }) => {
    expect(onWorkflowRunCompleted({ action: "completed", repository, workflow_run: { id: 55, run_attempt: 2, conclusion } })).toEqual(expected);
  });

  it("workflow_job completed as cancelled: its run attempt", () => {
    expect(onWorkflowJobCompleted({ action: "completed", repository, workflow_job: { run_id: 55, run_attempt: 1, conclusion: "cancelled", name: "build (ltsc2022)" } })).toEqual([
      { labels: { ...repo, [labelKeys.runId]: "55", [labelKeys.runAttempt]: "1" }, reason: "workflow job build (ltsc2022) was cancelled" },
    ]);
  });
});

describe("DeliveryCache", () => {
  it("drops a delivery seen before by id or by body, until it expires", () => {
    let clock = 0;
    const cache = new DeliveryCache({ ttlMs: 1000, now: () => clock });
    expect(cache.firstTime("d1", "body1")).toBe(true);
    expect(cache.firstTime("d1", "body2")).toBe(false);
    expect(cache.firstTime("d2", "body1")).toBe(false);
    expect(cache.firstTime("d3", "body3")).toBe(true);
    clock = 1001;
    expect(cache.firstTime("d1", "body1")).toBe(true);
  });
});
