// What a GitHub event cancels, pure: an event payload (and the repository's
// policy) in, the label selections of builds to cancel out. The labels are
// those the API put on every build Job (plan/names.ts): repository hash,
// pull request number, run id and attempt, commit SHA.

import { labelKeys, repositoryHash } from "../plan/names.js";

export interface CancelOrder {
  /** Every label must match. */
  readonly labels: Readonly<Record<string, string>>;
  /** Only builds created before this (bounds what a replayed old event can reach). */
  readonly createdBefore?: Date;
  /** Shown on the build (and its Job's cancelled annotation). */
  readonly reason: string;
}

// A build request arrives seconds after the event that started its workflow:
// these margins absorb clock differences between GitHub and the API server
// that stamps creationTimestamp.
const closedGraceMs = 60_000;
const supersededMarginMs = 30_000;

interface Repository {
  full_name: string;
}

export interface PullRequestEvent {
  action: string;
  number: number;
  before?: string;
  after?: string;
  repository: Repository;
  pull_request: { closed_at?: string | null; updated_at?: string | null; head?: { sha?: string } };
}

export interface WorkflowRunEvent {
  action: string;
  repository: Repository;
  workflow_run: { id: number; run_attempt?: number; conclusion: string | null };
}

export interface WorkflowJobEvent {
  action: string;
  repository: Repository;
  workflow_job: { run_id: number; run_attempt?: number; conclusion: string | null; name?: string };
}

function time(value: string | null | undefined): Date | undefined {
  const ms = Date.parse(value ?? "");
  return Number.isFinite(ms) ? new Date(ms) : undefined;
}

/** pull_request closed: every build of the pull request that was running when it closed. */
export function onPullRequestClosed(event: PullRequestEvent): CancelOrder[] {
  const closedAt = time(event.pull_request.closed_at);
  return [
    {
      labels: { [labelKeys.repositoryHash]: repositoryHash(event.repository.full_name), [labelKeys.pullRequest]: String(event.number) },
      ...(closedAt ? { createdBefore: new Date(closedAt.getTime() + closedGraceMs) } : {}),
      reason: `pull request #${event.number} was closed`,
    },
  ];
}

/**
 * pull_request synchronize (new commits pushed): the previous head's builds.
 * Builds of `before` by SHA; pull request builds of the merge commit (whose
 * SHA the event does not carry) by being older than the push.
 */
export function onPullRequestSynchronize(event: PullRequestEvent, optedIn: boolean): CancelOrder[] {
  if (!optedIn) return [];
  const repository = { [labelKeys.repositoryHash]: repositoryHash(event.repository.full_name) };
  const after = (event.after ?? event.pull_request.head?.sha ?? "").slice(0, 7);
  const reason = `superseded by ${after || "a new push"} to pull request #${event.number}`;
  const orders: CancelOrder[] = [];
  if (event.before && /^[0-9a-f]{40}$/.test(event.before)) orders.push({ labels: { ...repository, [labelKeys.sha]: event.before }, reason });
  const pushedAt = time(event.pull_request.updated_at);
  if (pushedAt) {
    orders.push({ labels: { ...repository, [labelKeys.pullRequest]: String(event.number) }, createdBefore: new Date(pushedAt.getTime() - supersededMarginMs), reason });
  }
  return orders;
}

function runOrder(repository: string, runId: number, runAttempt: number | undefined, reason: string): CancelOrder {
  return {
    labels: {
      [labelKeys.repositoryHash]: repositoryHash(repository),
      [labelKeys.runId]: String(runId),
      ...(runAttempt !== undefined ? { [labelKeys.runAttempt]: String(runAttempt) } : {}),
    },
    reason,
  };
}

/** workflow_run completed as cancelled: the builds of that run attempt. */
export function onWorkflowRunCompleted(event: WorkflowRunEvent): CancelOrder[] {
  if (event.workflow_run.conclusion !== "cancelled") return [];
  return [runOrder(event.repository.full_name, event.workflow_run.id, event.workflow_run.run_attempt, `workflow run ${event.workflow_run.id} was cancelled`)];
}

/**
 * workflow_job completed as cancelled: the builds of its run attempt. A build
 * does not know which job of the run sent it (the OIDC token names no job),
 * so a cancelled job cancels its run's builds; GitHub cancels a job alone
 * only when the whole run is being cancelled or a matrix fails fast.
 */
export function onWorkflowJobCompleted(event: WorkflowJobEvent): CancelOrder[] {
  if (event.workflow_job.conclusion !== "cancelled") return [];
  return [runOrder(event.repository.full_name, event.workflow_job.run_id, event.workflow_job.run_attempt, `workflow job ${event.workflow_job.name ?? event.workflow_job.run_id} was cancelled`)];
}
