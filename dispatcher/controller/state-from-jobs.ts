// Derives a build's state (the contract's BuildState, protocol/build-state.ts)
// from its Jobs and pods: the single source of truth for the API
// (GET /v1/builds/{id}), the build page and the reconciler. Pure: what the
// cluster says in, what to show out.

import type { V1ContainerStatus, V1Job, V1Pod } from "@kubernetes/client-node";
import { annotationKeys, containerNames, hypervNodeLabel, labelKeys } from "../plan/names.js";
import { explainPreflightFailure } from "../plan/docker-engine-compat.js";
import { waitsForEngine } from "./dockerd-admission.js";
import { deriveManifestState, indexPlanOf } from "./index-from-jobs.js";
import { buildPhase, withoutReady } from "../model/build-phase.js";
import { parseImagePlatformRecord } from "../model/image-platform.js";
import type { BuildState, PlatformState } from "../protocol/build-state.js";
import type { PlatformPhase } from "../protocol/phases.js";
import { type Builder, builders } from "../protocol/request-rules.js";

export interface DeriveOptions {
  now: Date;
  /** A pod unschedulable this long ends its platform with "error". */
  unschedulableAfterSeconds: number;
}

export function deriveBuildState(buildId: string, jobs: V1Job[], pods: V1Pod[], options: DeriveOptions): BuildState | undefined {
  if (jobs.length === 0) return undefined;
  const platforms = jobs
    .map((job) => derivePlatformState(job, newestPodOf(job, pods), options))
    .sort((a, b) => a.platform.localeCompare(b.platform));
  const first = jobs[0]!.metadata?.annotations ?? {};
  const manifest = deriveManifestState(jobs, platforms);
  const state = buildPhase(platforms, manifest);
  return {
    id: buildId,
    repository: first[annotationKeys.repository] ?? "",
    sha: first[annotationKeys.sha] ?? "",
    ref: first[annotationKeys.ref] ?? "",
    targetUrl: first[annotationKeys.targetUrl] ?? "",
    state,
    platforms,
    ...(manifest ? { manifest: withoutReady(manifest) } : {}),
  };
}

/** A Job's newest pod: with backoffLimit 0 there is one, but a deleted pod can linger next to its replacement. */
export function newestPodOf(job: V1Job, pods: readonly V1Pod[]): V1Pod | undefined {
  const uid = job.metadata?.uid;
  return pods
    .filter((pod) => pod.metadata?.ownerReferences?.some((o) => o.uid === uid) ?? false)
    .sort((a, b) => String(b.metadata?.creationTimestamp ?? "").localeCompare(String(a.metadata?.creationTimestamp ?? "")))[0];
}

export function derivePlatformState(job: V1Job, pod: V1Pod | undefined, options: DeriveOptions): PlatformState {
  const annotations = job.metadata?.annotations ?? {};
  const labels = job.metadata?.labels ?? {};
  const base: PlatformState = {
    platform: annotations[annotationKeys.platform] ?? "",
    slug: labels[labelKeys.platform] ?? "",
    job: job.metadata?.name ?? "",
    builder: builderOf(job),
    builderReason: annotations[annotationKeys.builderReason] ?? "",
    statusContext: annotations[annotationKeys.statusContext] ?? "",
    state: "queued",
    node: pod?.spec?.nodeName,
    pod: pod?.metadata?.name,
    digest: annotations[annotationKeys.digest] ?? buildkitDigest(pod),
    pushRef: annotations[annotationKeys.pushRef],
    createdAt: iso(job.metadata?.creationTimestamp),
    startedAt: iso(pod?.status?.startTime),
    finishedAt: iso(job.status?.completionTime ?? conditionTime(job, "Failed")),
    reported: annotations[annotationKeys.reported],
  };

  const cancelled = annotations[annotationKeys.cancelled];
  if (cancelled !== undefined) return { ...base, state: "cancelled", message: cancelled || "cancelled" };

  const failed = condition(job, "Failed");
  if (failed) {
    if (failed.reason === "DeadlineExceeded") {
      return { ...base, state: "failed", message: `timed out: ${failed.message ?? "the Job ran past its activeDeadlineSeconds"}` };
    }
    const step = failedStep(pod);
    if (step?.name === containerNames.preflight) {
      // CLI and dockerd did not agree (or no dockerd answered): the cluster's
      // setup, not the user's Dockerfile.
      return { ...base, state: "error", failedStep: { name: step.name, exitCode: step.state?.terminated?.exitCode }, message: preflightMessage(job, pod!, step) };
    }
    return {
      ...base,
      state: "failed",
      failedStep: step ? { name: step.name, exitCode: step.state?.terminated?.exitCode } : undefined,
      message: step
        ? `step ${step.name} exited with code ${step.state?.terminated?.exitCode}${step.state?.terminated?.message ? `: ${lastLine(step.state.terminated.message)}` : ""}`
        : (failed.message ?? "the build Job failed"),
    };
  }
  if (condition(job, "Complete")) return completed(job, base);
  if (job.metadata?.deletionTimestamp) return { ...base, state: "cancelled", message: "the build Job was deleted" };

  const unschedulable = unschedulableFor(job, pod, options);
  if (unschedulable !== undefined) return { ...base, state: "error", message: unschedulable };
  const stuck = stuckContainerFor(job, pod, options);
  if (stuck !== undefined) return { ...base, state: "error", message: stuck };
  if (job.spec?.suspend === true) {
    const reason = annotations[annotationKeys.queued];
    const since = new Date(job.metadata?.creationTimestamp ?? options.now).getTime();
    if (waitsForEngine(reason) && options.now.getTime() - since >= options.unschedulableAfterSeconds * 1000) {
      return { ...base, state: "error", message: `no dockerd could take it: ${reason}` };
    }
    return { ...base, message: reason ?? "waiting to be admitted to a node" };
  }

  if (pod?.status?.phase === "Running" || (pod?.spec?.nodeName && anyContainerStarted(pod))) {
    return { ...base, state: "running" };
  }
  return base;
}

/**
 * A Complete Job whose image is read back (validatePlatform, or an index to
 * join) has succeeded only once the reconciler has read it and found it fits.
 */
function completed(job: V1Job, base: PlatformState): PlatformState {
  const annotations = job.metadata?.annotations ?? {};
  const mismatch = annotations[annotationKeys.platformMismatch];
  if (mismatch !== undefined) return { ...base, state: "failed", imageCheck: "failed", message: mismatch };
  const image = parseImagePlatform(annotations[annotationKeys.imagePlatform]);
  if (image) return { ...base, state: "succeeded", imageCheck: "passed", image };
  const readBack = annotations[annotationKeys.validatePlatform] === "true" || indexPlanOf(job) !== undefined;
  if (readBack && base.pushRef !== undefined) return { ...base, state: "running", imageCheck: "pending", message: "reading the pushed image from the registry" };
  return { ...base, state: "succeeded" };
}

function parseImagePlatform(text: string | undefined): PlatformState["image"] {
  const record = parseImagePlatformRecord(text);
  if (!record) return undefined;
  return { os: record.os, architecture: record.architecture, ...(record["os.version"] ? { "os.version": record["os.version"] } : {}) };
}

/**
 * A pod the scheduler could not place for longer than the configured limit.
 * The message names what no node offers, from the pod's own nodeSelector, so
 * the user sees which pool or Windows build is missing.
 */
function unschedulableFor(job: V1Job, pod: V1Pod | undefined, options: DeriveOptions): string | undefined {
  if (!pod || pod.spec?.nodeName) return undefined;
  const scheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled");
  if (scheduled?.status !== "False" || scheduled.reason !== "Unschedulable") return undefined;
  const since = new Date(pod.metadata?.creationTimestamp ?? options.now).getTime();
  if (options.now.getTime() - since < options.unschedulableAfterSeconds * 1000) return undefined;
  const selector = Object.entries(pod.spec?.nodeSelector ?? {})
    .map(([key, value]) => `${key}=${value}`)
    .join(", ");
  const message = scheduled.message ?? "unschedulable";
  // Windows pools are commonly tainted; a missing toleration is the fix to name first.
  if (/untolerated taint/.test(message)) {
    return `add the pool's taint to ${tolerationsConfigKey(job)}: no node of ${selector || "the pod's selector"} is tolerated (${message})`;
  }
  // The one label of the selector nothing on a node sets by itself: the operator's word that it runs Hyper-V containers.
  if (pod.spec?.nodeSelector?.[hypervNodeLabel] !== undefined) {
    // First, since a status description keeps 140 characters.
    return `no ${hostVersionOf(job)} node labelled ${hypervNodeLabel}=true takes this Hyper-V isolated build: label those that run Hyper-V containers (docs/deploy.md, "Hyper-V isolation"), or give ${windowsVersionOf(job)} its own pool with isolation process; no node matches ${selector} (${message})`;
  }
  return `no node matches ${selector || "the pod"} (${message})`;
}

function tolerationsConfigKey(job: V1Job): string {
  return builderOf(job) === "buildkit" ? "buildkit.tolerations" : `dockerPool.pools.${hostVersionOf(job)}.tolerations`;
}

/** The builder a Job's label names (one of builders; anything else, which dockhand never writes, counts as BuildKit on Linux). */
export function builderOf(job: V1Job): Builder {
  const label = job.metadata?.labels?.[labelKeys.builder];
  return (builders as readonly (string | undefined)[]).includes(label) ? (label as Builder) : "buildkit";
}

// Waiting reasons of a container the kubelet cannot start: the image reference
// cannot be honoured (not found, no access, wrong Windows build). The kubelet
// retries them for ever; a build does not wait that long.
const stuckReasons = new Set(["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "CreateContainerError"]);

/** A pod whose container could not start for longer than the limit (an invalid image name at once), in words naming the config key. */
export function stuckContainerFor(job: V1Job, pod: V1Pod | undefined, options: DeriveOptions): string | undefined {
  if (!pod?.spec?.nodeName) return undefined;
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const stuck = statuses.find((s) => stuckReasons.has(s.state?.waiting?.reason ?? ""));
  if (!stuck) return undefined;
  // From the pod's creation, as the reconciler's timer counts (unschedulableFor too).
  const since = new Date(pod.metadata?.creationTimestamp ?? options.now).getTime();
  const reason = stuck.state!.waiting!.reason!;
  if (reason !== "InvalidImageName" && options.now.getTime() - since < options.unschedulableAfterSeconds * 1000) return undefined;
  const image = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((c) => c.name === stuck.name)?.image ?? stuck.image;
  // The commit status keeps 140 characters: the key to check comes before the kubelet's details.
  const detail = stuck.state!.waiting!.message ? `: ${lastLine(stuck.state!.waiting!.message)}` : "";
  return `check ${imageConfigKey(job)}: ${image} could not start on ${pod.spec.nodeName} (${reason}, step ${stuck.name})${detail}`;
}

/** The config key that names a build pod's image. */
function imageConfigKey(job: V1Job): string {
  const configKeys: Record<Builder, string> = {
    docker: `dockerPool.images.${hostVersionOf(job)}`,
    buildkit: "buildkit.image",
    "buildkit-windows": `buildkitWindows.images.${hostVersionOf(job)}`,
  };
  return configKeys[builderOf(job)];
}

/**
 * The version of the nodes a dockerd Job runs on: its own, or for a Hyper-V
 * isolated build the newer pool's (plan/windows-host.ts). Admission, the
 * tolerations and the CLI image are that pool's.
 */
export function hostVersionOf(job: V1Job): string {
  return job.metadata?.annotations?.[annotationKeys.hostWindowsVersion] ?? windowsVersionOf(job);
}

/** ltsc2022 for a windows/amd64:ltsc2022 Job; "<version>" when it has none. */
export function windowsVersionOf(job: V1Job): string {
  return /:(ltsc\d{4})$/.exec(job.metadata?.annotations?.[annotationKeys.platform] ?? "")?.[1] ?? "<version>";
}

function preflightMessage(job: V1Job, pod: V1Pod, step: V1ContainerStatus): string {
  const image = pod.spec?.initContainers?.find((c) => c.name === step.name)?.image ?? step.image;
  return explainPreflightFailure(step.state?.terminated?.message ?? "", { image, configKey: imageConfigKey(job), windowsVersion: hostVersionOf(job) });
}

function failedStep(pod: V1Pod | undefined): V1ContainerStatus | undefined {
  const statuses = [...(pod?.status?.initContainerStatuses ?? []), ...(pod?.status?.containerStatuses ?? [])];
  return statuses.find((s) => (s.state?.terminated?.exitCode ?? 0) !== 0);
}

function anyContainerStarted(pod: V1Pod): boolean {
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  return statuses.some((s) => s.state?.running || s.state?.terminated);
}

/** buildctl --metadata-file /dev/termination-log leaves the pushed digest in the build step's termination message. */
function buildkitDigest(pod: V1Pod | undefined): string | undefined {
  for (const status of pod?.status?.containerStatuses ?? []) {
    const message = status.state?.terminated?.exitCode === 0 ? status.state.terminated.message : undefined;
    if (!message) continue;
    try {
      const digest = (JSON.parse(message) as Record<string, unknown>)["containerimage.digest"];
      if (typeof digest === "string" && /^sha256:[0-9a-f]{64}$/.test(digest)) return digest;
    } catch {
      // not the metadata JSON: FallbackToLogsOnError only puts logs there on failure
    }
  }
  return undefined;
}

function condition(job: V1Job, type: "Complete" | "Failed") {
  return job.status?.conditions?.find((c) => c.type === type && c.status === "True");
}

function conditionTime(job: V1Job, type: "Complete" | "Failed"): Date | undefined {
  const t = condition(job, type)?.lastTransitionTime;
  return t ? new Date(t) : undefined;
}

function iso(value: Date | string | undefined): string | undefined {
  return value === undefined ? undefined : new Date(value).toISOString();
}

function lastLine(text: string): string {
  const lines = text.trim().split("\n");
  return lines[lines.length - 1]!.slice(0, 200);
}
