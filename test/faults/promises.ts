// The dispatcher's commit-status promises, checked from outside: what the
// GitHub stand-in recorded (a test double's memory of every status it
// stored) and what the cluster still holds. One checker for every fault
// scenario (status-faults.test.ts), so each ends with the same proof.
//
// A status belongs to one build and context by (sha, context, target_url):
// the target URL names the build (…/v1/builds/<id>), and two builds of one
// commit may share a context.
//
// The promises:
// - lost: every context of every accepted build ends with a final status
//   (success, failure or error), and nothing that got a pending is left
//   without one;
// - duplicate: at most one final per build and context;
// - order: a build's context starts with pending, and nothing follows its
//   final (no pending after a final);
// - released: no Job keeps the dockhand.dev/report finalizer or could still
//   start a pod (neither finished nor suspended), and no build pod is left
//   Pending or Running;
// - recorded: each Job records the final GitHub shows for its context
//   (dockhand.dev/reported, and dockhand.dev/manifest-reported for the
//   index), the durable record a restarted dispatcher starts from.
import type { V1Job, V1Pod } from "@kubernetes/client-node";
import type { RecordedStatus } from "../github-standin/github-standin.js";
import type { Bed } from "../integration/harness.js";

export const reportFinalizer = "dockhand.dev/report";
const buildIdLabel = "dockhand.dev/build-id";
const finals: ReadonlySet<string> = new Set(["success", "failure", "error"]);

/** A build the dispatcher accepted (202), and the contexts it must report. */
export interface AcceptedBuild {
  id: string;
  sha: string;
  targetUrl: string;
  /** Every platform's status context, and the index's (`…/manifest`) for a multi-platform build. */
  contexts: string[];
  /** What it was, for messages: "linux COPY", "win22 RUN sleep 4", … */
  label: string;
}

export interface PromiseReport {
  builds: number;
  /** Build contexts that must end with a final status. */
  contexts: number;
  statuses: number;
  finals: number;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  /** Jobs keeping the report finalizer or able to start a pod, and build pods Pending or Running. */
  held: number;
  /** Job records (dockhand.dev/reported, …/manifest-reported) that differ from the final GitHub shows. */
  unrecorded: number;
  /** Final states seen, e.g. { success: 14, failure: 1 }. */
  finalStates: Record<string, number>;
  /** One line per offending build; empty when every promise is kept. */
  problems: string[];
}

/** The builds a POST /v1/builds answer (202) describes. */
export function acceptedBuild(body: {
  id: string;
  sha: string;
  targetUrl: string;
  platforms: { statusContext: string }[];
  manifest?: { statusContext: string };
}, label: string): AcceptedBuild {
  const contexts = body.platforms.map((p) => p.statusContext);
  if (body.manifest) contexts.push(body.manifest.statusContext);
  return { id: body.id, sha: body.sha, targetUrl: body.targetUrl, contexts, label };
}

const keyOf = (sha: string, context: string, targetUrl: string | null) => `${sha} ${context} ${targetUrl ?? ""}`;

/**
 * Checks every promise over the stand-in's statuses and the namespace's
 * Jobs and pods. Pure: the caller decides when the system has settled.
 */
export function checkStatusPromises(statuses: RecordedStatus[], jobs: V1Job[], pods: V1Pod[], accepted: AcceptedBuild[]): PromiseReport {
  const groups = new Map<string, RecordedStatus[]>();
  for (const status of statuses) {
    const key = keyOf(status.sha, status.context, status.target_url);
    const group = groups.get(key) ?? [];
    group.push(status);
    groups.set(key, group);
  }
  // Every group to judge: each accepted build's contexts (even with no
  // status at all: that is a lost one), and whatever else was sent.
  const expected = new Map<string, { build?: AcceptedBuild; context: string }>();
  for (const build of accepted) for (const context of build.contexts) expected.set(keyOf(build.sha, context, build.targetUrl), { build, context });
  for (const [key, group] of groups) if (!expected.has(key)) expected.set(key, { context: group[0]!.context });

  const byBuild = new Map<string, string[]>();
  const complain = (who: string, what: string) => byBuild.set(who, [...(byBuild.get(who) ?? []), what]);
  const buildName = (build: AcceptedBuild | undefined, key: string) =>
    build ? `build ${build.id} (${build.label}, sha ${build.sha.slice(0, 8)})` : `unknown build ${key.split(" ")[2] || "(no target_url)"} (sha ${key.slice(0, 8)})`;
  let lost = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  let finalCount = 0;
  const finalStates: Record<string, number> = {};
  for (const [key, { build, context }] of expected) {
    const group = groups.get(key) ?? [];
    const states = group.map((s) => s.state);
    const shown = `[${states.join(", ")}]`;
    const finalAt = states.flatMap((s, i) => (finals.has(s) ? [i] : []));
    finalCount += finalAt.length;
    for (const i of finalAt) finalStates[states[i]!] = (finalStates[states[i]!] ?? 0) + 1;
    if (finalAt.length === 0) {
      lost++;
      complain(buildName(build, key), `${context}: lost final, statuses ${shown}`);
    }
    if (finalAt.length > 1) {
      duplicates += finalAt.length - 1;
      complain(buildName(build, key), `${context}: ${finalAt.length} finals, statuses ${shown} (ids ${group.map((s) => s.id).join(", ")})`);
    }
    const disorder = (states.length > 0 && states[0] !== "pending") || (finalAt.length > 0 && finalAt[0]! < states.length - 1 && states.slice(finalAt[0]! + 1).some((s) => s === "pending"));
    if (disorder) {
      outOfOrder++;
      complain(buildName(build, key), `${context}: out of order, statuses ${shown} (pending must come first and nothing pending after the final)`);
    }
  }

  let held = 0;
  const idOf = (labels: Record<string, string> | undefined) => labels?.[buildIdLabel] ?? "(no build id)";
  const acceptedById = new Map(accepted.map((b) => [b.id, b]));
  const jobOwner = (id: string) => {
    const build = acceptedById.get(id);
    return build ? buildName(build, "") : `build ${id}`;
  };
  for (const job of jobs) {
    const finished = (job.status?.conditions ?? []).some((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");
    const keeps = (job.metadata?.finalizers ?? []).includes(reportFinalizer);
    const canStart = !finished && job.spec?.suspend !== true && !job.metadata?.deletionTimestamp;
    if (!keeps && !canStart) continue;
    held++;
    const reported = job.metadata?.annotations?.["dockhand.dev/reported"];
    complain(jobOwner(idOf(job.metadata?.labels)), `Job ${job.metadata?.name} not released (${[keeps ? `keeps ${reportFinalizer}` : "", canStart ? "neither finished nor suspended" : ""].filter(Boolean).join(", ")}; reported=${reported ?? "nothing"})`);
  }
  for (const pod of pods) {
    if (pod.status?.phase !== "Pending" && pod.status?.phase !== "Running") continue;
    held++;
    complain(jobOwner(idOf(pod.metadata?.labels)), `pod ${pod.metadata?.name} still ${pod.status?.phase}`);
  }

  // What each Job records against the final GitHub shows for the same build and context.
  let unrecorded = 0;
  const finalOf = (sha: string, context: string, targetUrl: string) => (groups.get(keyOf(sha, context, targetUrl)) ?? []).map((s) => s.state).find((s) => finals.has(s));
  for (const job of jobs) {
    const a = job.metadata?.annotations ?? {};
    const [sha, targetUrl] = [a["dockhand.dev/sha"] ?? "", a["dockhand.dev/target-url"] ?? ""];
    const records: [string | undefined, string | undefined, string][] = [[a["dockhand.dev/status-context"], a["dockhand.dev/reported"], "dockhand.dev/reported"]];
    if (a["dockhand.dev/manifest-status-context"]) records.push([a["dockhand.dev/manifest-status-context"], a["dockhand.dev/manifest-reported"], "dockhand.dev/manifest-reported"]);
    for (const [context, recorded, key] of records) {
      const shown = context === undefined ? undefined : finalOf(sha, context, targetUrl);
      if (shown === undefined || recorded === shown) continue;
      unrecorded++;
      complain(jobOwner(idOf(job.metadata?.labels)), `Job ${job.metadata?.name} records ${key}=${recorded ?? "nothing"} but GitHub shows ${shown} for ${context}`);
    }
  }

  const problems = [...byBuild].map(([who, what]) => `${who}: ${what.join("; ")}`);
  return {
    builds: accepted.length,
    contexts: accepted.reduce((n, b) => n + b.contexts.length, 0),
    statuses: statuses.length,
    finals: finalCount,
    lost,
    duplicates,
    outOfOrder,
    held,
    unrecorded,
    finalStates,
    problems,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface SettleOptions {
  /** Longest wait for every accepted build's contexts to have a final status. Default 150 s. */
  finalsWithinMs?: number;
  /** No new status for this long counts as settled (a duplicate would come in it). Default 3 s. */
  quietMs?: number;
  /** Longest wait for the Jobs to be let go once the finals are out. Default 45 s. */
  releasedWithinMs?: number;
  /** Appended to a failure: where the dispatchers' logs are. */
  evidence?: string;
}

/**
 * Waits (bounded) until every accepted build has its finals, GitHub has been
 * quiet for a while and the Jobs are let go, then applies the checker and
 * throws with every offending build when a promise is broken.
 */
export async function expectPromisesKept(bed: Bed, accepted: AcceptedBuild[], options: SettleOptions = {}): Promise<PromiseReport> {
  const finalsWithin = Date.now() + (options.finalsWithinMs ?? 150_000);
  const finalsOut = () => {
    const done = new Set(bed.github.statuses().filter((s) => finals.has(s.state)).map((s) => keyOf(s.sha, s.context, s.target_url)));
    return accepted.every((b) => b.contexts.every((c) => done.has(keyOf(b.sha, c, b.targetUrl))));
  };
  while (!finalsOut() && Date.now() < finalsWithin) await sleep(250);

  // Settled: no new status for quietMs (bounded).
  const quietMs = options.quietMs ?? 3_000;
  const quietWithin = Date.now() + 30_000;
  let count = bed.github.statuses().length;
  let changedAt = Date.now();
  while (Date.now() - changedAt < quietMs && Date.now() < quietWithin) {
    await sleep(250);
    const now = bed.github.statuses().length;
    if (now !== count) [count, changedAt] = [now, Date.now()];
  }

  let released = Date.now() + (options.releasedWithinMs ?? 45_000);
  let report: PromiseReport;
  for (let letGo = false; ; ) {
    const [jobs, pods] = await Promise.all([
      bed.k.batch.listNamespacedJob({ namespace: bed.namespace, labelSelector: buildIdLabel }),
      bed.k.core.listNamespacedPod({ namespace: bed.namespace, labelSelector: buildIdLabel }),
    ]);
    report = checkStatusPromises(bed.github.statuses(), jobs.items, pods.items, accepted);
    if ((report.held === 0 && report.unrecorded === 0) || Date.now() > released) break;
    // A Job is let go after its record is written: once none is held, a
    // record still missing gets a short grace (an index's record is written
    // on each Job of the build in turn), not the whole wait.
    if (report.held === 0 && !letGo) [letGo, released] = [true, Math.min(released, Date.now() + 5_000)];
    await sleep(500);
  }
  if (report.problems.length > 0) {
    throw new Error(
      [
        `commit-status promises broken: lost ${report.lost}, duplicates ${report.duplicates}, out of order ${report.outOfOrder}, held ${report.held}, unrecorded ${report.unrecorded} (of ${report.builds} builds, ${report.contexts} contexts, ${report.statuses} statuses)`,
        ...report.problems.map((p) => `  - ${p}`),
        ...(options.evidence ? [options.evidence] : []),
      ].join("\n"),
    );
  }
  return report;
}

/** The one-line summary each scenario prints. */
export function summaryLine(scenario: string, report: PromiseReport, extra: Record<string, string | number> = {}, seconds?: number): string {
  const states = Object.entries(report.finalStates).map(([s, n]) => `${s} ${n}`).join(", ");
  const more = Object.entries(extra).map(([k, v]) => `${k} ${v}`);
  return [
    `[faults] ${scenario}:`,
    [`builds ${report.builds}`, ...more, `contexts ${report.contexts}`, `statuses ${report.statuses}`, `finals ${report.finals} (${states})`, `duplicates ${report.duplicates}`, `lost ${report.lost}`, `out of order ${report.outOfOrder}`, `held ${report.held}`, `unrecorded ${report.unrecorded}`, ...(seconds === undefined ? [] : [`${seconds.toFixed(0)} s`])].join(", "),
  ].join(" ");
}
