// The fault suite's checker (test/faults/promises.ts) must catch every broken
// promise it claims to check, or the suite's "0 lost, 0 duplicates" would
// prove nothing.
import type { V1Job, V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import type { RecordedStatus } from "../../github-standin/github-standin.js";
import { type AcceptedBuild, checkStatusPromises } from "../../faults/promises.js";

const sha = "0123456789abcdef0123456789abcdef01234567";
const build = (id: string, contexts = ["dockhand/linux-amd64"]): AcceptedBuild => ({ id, sha, targetUrl: `http://d/v1/builds/${id}`, contexts, label: "test" });
let nextId = 1;
const status = (b: AcceptedBuild, state: string, context = b.contexts[0]!): RecordedStatus => ({
  repository: "o/r",
  sha: b.sha,
  id: nextId++,
  state,
  description: null,
  target_url: b.targetUrl,
  context,
  created_at: "2026-01-01T00:00:00Z",
});
const job = (b: AcceptedBuild, options: { finalizer?: boolean; complete?: boolean; reported?: string } = {}): V1Job => ({
  metadata: {
    name: `dh-${b.id}-linux-amd64`,
    labels: { "dockhand.dev/build-id": b.id },
    annotations: {
      "dockhand.dev/sha": b.sha,
      "dockhand.dev/target-url": b.targetUrl,
      "dockhand.dev/status-context": b.contexts[0]!,
      ...(options.reported ? { "dockhand.dev/reported": options.reported } : {}),
    },
    finalizers: options.finalizer ? ["dockhand.dev/report"] : [],
  },
  status: options.complete === false ? {} : { conditions: [{ type: "Complete", status: "True" }] },
});

describe("checkStatusPromises", () => {
  it("passes pending, pending, success with the Job released and recorded", () => {
    const a = build("a");
    const report = checkStatusPromises([status(a, "pending"), status(a, "pending"), status(a, "success")], [job(a, { reported: "success" })], [], [a]);
    expect(report.problems).toEqual([]);
    expect(report).toMatchObject({ lost: 0, duplicates: 0, outOfOrder: 0, held: 0, unrecorded: 0, finals: 1, finalStates: { success: 1 } });
  });

  it("finds a lost final: a context with only pending, and an accepted build with nothing at all", () => {
    const a = build("a");
    const b = build("b");
    const report = checkStatusPromises([status(a, "pending")], [], [], [a, b]);
    expect(report.lost).toBe(2);
    expect(report.problems.join("\n")).toMatch(/build a .*lost final, statuses \[pending\]/);
    expect(report.problems.join("\n")).toMatch(/build b .*lost final, statuses \[\]/);
  });

  it("finds a duplicate final, of one build and context only", () => {
    const a = build("a");
    const b = build("b");
    const statuses = [status(a, "pending"), status(b, "pending"), status(a, "success"), status(b, "success"), status(a, "success")];
    const report = checkStatusPromises(statuses, [], [], [a, b]);
    expect(report.duplicates).toBe(1);
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]).toMatch(/build a .*2 finals/);
  });

  it("finds statuses out of order: a final first, and a pending after the final", () => {
    const a = build("a");
    const b = build("b");
    const report = checkStatusPromises([status(a, "success"), status(b, "pending"), status(b, "failure"), status(b, "pending")], [], [], [a, b]);
    expect(report.outOfOrder).toBe(2);
    expect(report.problems.join("\n")).toMatch(/build a .*out of order, statuses \[success\]/);
    expect(report.problems.join("\n")).toMatch(/build b .*out of order, statuses \[pending, failure, pending\]/);
  });

  it("checks every context of a multi-platform build, the index's too", () => {
    const a = build("a", ["dockhand/linux-amd64", "dockhand/windows-ltsc2022", "dockhand/manifest"]);
    const statuses = ["dockhand/linux-amd64", "dockhand/windows-ltsc2022", "dockhand/manifest"].flatMap((c) => [status(a, "pending", c)]);
    statuses.push(status(a, "success", "dockhand/linux-amd64"), status(a, "success", "dockhand/windows-ltsc2022"));
    const report = checkStatusPromises(statuses, [], [], [a]);
    expect(report.lost).toBe(1);
    expect(report.problems[0]).toMatch(/dockhand\/manifest: lost final/);
  });

  it("judges statuses of a build it was not told about", () => {
    const stray = build("stray");
    const report = checkStatusPromises([status(stray, "pending")], [], [], []);
    expect(report.lost).toBe(1);
    expect(report.problems[0]).toMatch(/unknown build http:\/\/d\/v1\/builds\/stray/);
  });

  it("finds Jobs not released, and build pods still running", () => {
    const a = build("a");
    const statuses = [status(a, "pending"), status(a, "success")];
    const pod: V1Pod = { metadata: { name: "dh-a-linux-amd64-x", labels: { "dockhand.dev/build-id": "a" } }, status: { phase: "Running" } };
    const report = checkStatusPromises(statuses, [job(a, { finalizer: true, reported: "success" })], [pod], [a]);
    expect(report.held).toBe(2);
    expect(report.problems[0]).toMatch(/keeps dockhand\.dev\/report/);
    expect(report.problems[0]).toMatch(/pod dh-a-linux-amd64-x still Running/);
    expect(checkStatusPromises(statuses, [job(a, { complete: false, reported: "success" })], [], [a]).problems[0]).toMatch(/neither finished nor suspended/);
  });

  it("finds a Job whose record differs from the final GitHub shows", () => {
    const a = build("a");
    const report = checkStatusPromises([status(a, "pending"), status(a, "success")], [job(a, { reported: "pending" })], [], [a]);
    expect(report.unrecorded).toBe(1);
    expect(report.problems[0]).toMatch(/records dockhand\.dev\/reported=pending but GitHub shows success/);
  });
});
