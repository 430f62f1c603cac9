// A local build as the local executor stores it (one JSON file per build):
// everything GET /v1/builds/{id}, the log stream and the status reporting
// need, so a restarted dispatcher loses nothing. Pure: the executor does the
// I/O and the processes.

import type { BuildPlan } from "../plan/build-plan.js";
import { buildPhase, withoutReady } from "../model/build-phase.js";
import type { ImagePlatformRecord } from "../model/image-platform.js";
import type { BuildState, PlatformState } from "../protocol/build-state.js";
import { finalPhases } from "../protocol/phases.js";
import { type IndexRecord, type ManifestState, manifestStateOf } from "../model/image-index-state.js";
import type { ReadBack } from "../registry/registry-steps.js";
import type { LocalPlatformSteps } from "./local-steps.js";

export const buildRecordVersion = 1;

export type StepPhase = "pending" | "running" | "succeeded" | "failed" | "cancelled";

export interface StepRecord {
  name: string;
  argv: string[];
  stage: number;
  state: StepPhase;
  /** The step's process while it runs; startTime tells a reused pid apart (Linux /proc/<pid>/stat). */
  process?: { pid: number; startTime?: string };
  exitCode?: number;
  signal?: string;
  startedAt?: string;
  finishedAt?: string;
}

export interface PlatformRecord extends PlatformState {
  engine: LocalPlatformSteps["engine"];
  metadataFile?: string;
  steps: StepRecord[];
  /** The pushed image as read back (as the Jobs' dockhand.dev/image-platform): what its index entry is made of. */
  imageRecord?: ImagePlatformRecord;
}

export interface BuildRecord {
  version: typeof buildRecordVersion;
  id: string;
  repository: string;
  sha: string;
  ref: string;
  targetUrl: string;
  requestHash: string;
  idempotencyKey?: string;
  createdAt: string;
  platforms: PlatformRecord[];
  /** Pushed images are read back and checked against their platform (registry.validatePlatform). */
  validatePlatform?: boolean;
  /** Multi-platform builds that push tags: the image index to push under each tag, and its commit status context. */
  index?: { tags: string[]; statusContext: string };
  /** The index pushed, or why not (as the Jobs' dockhand.dev/index): written before its status is reported. */
  indexResult?: IndexRecord;
  /** The last `<prefix>/manifest` state reported (as dockhand.dev/manifest-reported), so a restart neither loses nor repeats it. */
  manifestReported?: string;
}

export function isFinal(platform: PlatformState): boolean {
  return finalPhases.has(platform.state);
}

export function newBuildRecord(
  plan: BuildPlan,
  stepsFor: (slug: string) => LocalPlatformSteps,
  now: Date,
): BuildRecord {
  const createdAt = now.toISOString();
  return {
    version: buildRecordVersion,
    id: plan.buildId,
    repository: plan.repository,
    sha: plan.sha,
    ref: plan.ref,
    targetUrl: plan.targetUrl,
    requestHash: plan.requestHash,
    ...(plan.idempotencyKey === undefined ? {} : { idempotencyKey: plan.idempotencyKey }),
    createdAt,
    ...(plan.validatePlatform ? { validatePlatform: true } : {}),
    ...(plan.index === undefined ? {} : { index: { tags: [...plan.index.tags], statusContext: plan.index.statusContext } }),
    platforms: plan.platforms.map((platformPlan): PlatformRecord => {
      const local = stepsFor(platformPlan.platform.slug);
      const pushRef = plan.push ? platformPlan.pushRefs[0] : undefined;
      return {
        platform: platformPlan.platform.request,
        slug: platformPlan.platform.slug,
        job: platformPlan.jobName,
        builder: local.builder,
        builderReason: local.reason,
        statusContext: platformPlan.statusContext,
        state: "queued",
        ...(pushRef === undefined ? {} : { pushRef }),
        createdAt,
        engine: local.engine,
        ...(local.metadataFile === undefined ? {} : { metadataFile: local.metadataFile }),
        steps: local.steps.map((step) => ({ name: step.name, argv: [...step.argv], stage: step.stage, state: "pending" })),
      };
    }),
  };
}

/** What the API shows: the record without the local bookkeeping (steps, argv, pids). */
export function buildStateOf(record: BuildRecord): BuildState {
  const platforms = record.platforms
    .map((platform) => platformStateOf(platform))
    .sort((a, b) => a.platform.localeCompare(b.platform));
  const manifest = manifestOf(record);
  return {
    id: record.id,
    repository: record.repository,
    sha: record.sha,
    ref: record.ref,
    targetUrl: record.targetUrl,
    state: buildPhase(platforms, manifest),
    platforms,
    ...(manifest ? { manifest: withoutReady(manifest) } : {}),
  };
}

export function platformStateOf(platform: PlatformRecord): PlatformState {
  const { engine: _engine, metadataFile: _metadataFile, steps: _steps, imageRecord: _imageRecord, ...state } = platform;
  return structuredClone(state);
}

/** Where the build's image index stands; undefined when it has none. */
export function manifestOf(record: BuildRecord): ManifestState | undefined {
  if (record.index === undefined) return undefined;
  const plan = { ...record.index, platforms: record.platforms.map((platform) => platform.platform) };
  return manifestStateOf(plan, record.indexResult, record.platforms.map(platformStateOf));
}

/** Whether a platform's pushed image is read back from the registry once its steps succeed (to check it, or to index it). */
export function readsBack(record: BuildRecord, platform: PlatformRecord): boolean {
  return platform.pushRef !== undefined && (record.validatePlatform === true || record.index !== undefined);
}

/** Steps done and pushed; its image is not read back yet. A restart resumes the read, it does not end the platform. */
export function awaitingReadBack(platform: PlatformState): boolean {
  return platform.state === "running" && platform.imageCheck === "pending";
}

/** The steps succeeded: the platform is not done until its image is read back (as a Complete Job, controller/state-from-jobs.ts completed()). */
export function startReadBack(platform: PlatformRecord): void {
  platform.state = "running";
  platform.imageCheck = "pending";
  platform.message = "reading the pushed image from the registry";
}

/** What the registry said about the pushed image: the platform succeeds, or fails saying why it does not fit. */
export function recordReadBack(platform: PlatformRecord, read: ReadBack): void {
  platform.digest ??= read.digest;
  if (read.record) {
    platform.state = "succeeded";
    platform.imageCheck = "passed";
    platform.imageRecord = read.record;
    const { os, architecture } = read.record;
    platform.image = { os, architecture, ...(read.record["os.version"] ? { "os.version": read.record["os.version"] } : {}) };
    delete platform.message;
  } else {
    recordReadBackFailure(platform, read.mismatch ?? "the pushed image does not fit the platform");
  }
}

/** The image could not be read, for good (readBackFailure): the platform fails with that message. */
export function recordReadBackFailure(platform: PlatformRecord, message: string): void {
  platform.state = "failed";
  platform.imageCheck = "failed";
  platform.message = message;
}

/**
 * Ends a platform that can no longer finish (the dispatcher restarted or
 * stopped while it ran). Returns whether it changed anything.
 */
export function endInterrupted(platform: PlatformRecord, message: string, now: Date): boolean {
  if (isFinal(platform)) return false;
  platform.state = "error";
  platform.message = message;
  platform.finishedAt = now.toISOString();
  return true;
}

/**
 * Clears the steps a previous dispatcher left running: their processes are
 * stopped and their exit codes lost with it. Returns whether it changed anything.
 */
export function forgetProcesses(platform: PlatformRecord, now: Date): boolean {
  let changed = false;
  for (const step of platform.steps) {
    if (step.state === "running") {
      step.state = "cancelled";
      step.finishedAt ??= now.toISOString();
      changed = true;
    }
    if (step.process) {
      delete step.process;
      changed = true;
    }
  }
  return changed;
}

/** A record read back from disk, checked enough that the executor can rely on its shape. */
export function parseBuildRecord(text: string, source: string): BuildRecord {
  const value = JSON.parse(text) as Partial<BuildRecord>;
  if (value.version !== buildRecordVersion) {
    throw new Error(`${source}: unknown build record version ${JSON.stringify(value.version)} (this dispatcher writes ${buildRecordVersion})`);
  }
  if (typeof value.id !== "string" || !Array.isArray(value.platforms) || typeof value.requestHash !== "string") {
    throw new Error(`${source}: not a local build record (id, requestHash or platforms missing)`);
  }
  for (const platform of value.platforms) {
    if (typeof platform.slug !== "string" || typeof platform.state !== "string" || !Array.isArray(platform.steps)) {
      throw new Error(`${source}: platform entry without slug, state or steps`);
    }
  }
  return value as BuildRecord;
}
