// The `local` executor: the embedded default when there is no cluster. It
// runs the same BuildPlan as the Kubernetes Jobs, with the same command lines,
// as processes on this host: the docker CLI against a Docker daemon and, for
// BuildKit platforms, buildctl against a BuildKit address.
//
// Why the docker CLI and not the Engine API (dockerode): the Jobs run
// exactly these argv (plan/docker-job.ts), so one command line is tested for
// both executors, the CLI's own handling of DOCKER_HOST, DOCKER_CONFIG
// credentials and TLS applies unchanged, and no new dependency is needed.
//
// State lives on disk (build-store.ts), not in memory: every change is written
// before it is acted on, so a restarted dispatcher finds each build as it was,
// ends the ones whose processes it can no longer follow, and reports what it
// still owes GitHub, once.
//
// A pushed image is then finished as the Kubernetes reconciler finishes it
// (controller/image-index-step.ts), with the same registry client and pure
// parts: read back and checked against its platform, and for a
// multi-platform build one image index pushed under each tag with its
// `<prefix>/manifest` status. Each result is in the record before the next
// step, where the reconciler writes Job annotations.

import { execFile } from "node:child_process";
import { appendFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config } from "../config/schema.js";
import { type Executor, IdempotencyConflict, type LogOptions, type SubmitResult } from "../executor.js";
import type { LogLine } from "../protocol/build-logs.js";
import { mergeAsync } from "../merge-async.js";
import type { BuildPlan } from "../plan/build-plan.js";
import type { BuildState, PlatformState } from "../protocol/build-state.js";
import type { PlatformPhase } from "../protocol/phases.js";
import { commitStatusFor, isFinalCommitState, isWithheld, withheldStatus } from "../model/commit-status.js";
import { manifestAnnouncement, nextManifestStep } from "../model/image-index-state.js";
import { readBackFailure } from "../registry/read-back-failure.js";
import type { StatusReporter } from "../model/status-report.js";
import { retryDelayMs } from "../retry-delay.js";
import type { FieldLogger } from "../logging.js";
import { pushImageIndex, readPushedImage } from "../registry/registry-steps.js";
import type { ImageReader } from "../registry/image-reader.js";
import type { RegistryHttp } from "../registry/registry-http.js";
import {
  awaitingReadBack,
  type BuildRecord,
  buildStateOf,
  endInterrupted,
  forgetProcesses,
  isFinal,
  manifestOf,
  newBuildRecord,
  type PlatformRecord,
  platformStateOf,
  readsBack,
  recordReadBack,
  recordReadBackFailure,
  startReadBack,
  type StepRecord,
} from "./build-record.js";
import { BuildStore, defaultStateDir } from "./build-store.js";
import { digestFromBuildctlMetadata, digestFromPushOutput, localPlatformSteps, stepEnvironment } from "./local-steps.js";
import { lastLogLine, LogTail } from "./log-tail.js";
import { localRegistryClient } from "./registry-client.js";
import { isAlive, type RunningStep, startStep, type StepExit, stopStep } from "./step-process.js";

export interface LocalExecutorOptions {
  config: Config;
  report: StatusReporter;
  log: FieldLogger;
  /** Overrides config.local.dockerHost, DOCKER_HOST and the default socket. */
  dockerHost?: string;
  /** Overrides config.local.buildkitAddress. */
  buildkitAddress?: string;
  /** Called once a status is delivered and recorded (metrics), as the Kubernetes reconciler's onReported. */
  onReported?: (platform: PlatformState, final: boolean) => void;
  /** Overrides the registry client (default: this host's docker config credentials, registry.insecureRegistries). */
  registry?: { http: RegistryHttp; reader: ImageReader };
}

export const restartedMessage = "dispatcher restarted during the build";
export const stoppedMessage = "dispatcher stopped during the build";

/** SIGTERM → SIGKILL: docker CLI and buildctl end within a second or two of SIGTERM. */
const stopGraceMs = 10_000;
const reportRetryMs = 2_000;
const readinessCacheMs = 5_000;
const garbageCollectionEveryMs = 10 * 60_000;
/** The key of a build's index status in LocalBuild.reporting (platform slugs have no parentheses). */
const manifestKey = "(manifest)";

function defaultDockerHost(): string {
  return process.platform === "win32" ? "npipe:////./pipe/docker_engine" : "unix:///var/run/docker.sock";
}

/** In-memory companion of a stored build: its processes, its work in flight, its waiters. */
class LocalBuild {
  persisted: Promise<void> = Promise.resolve();
  readonly processes = new Map<string, RunningStep>();
  readonly timedOut = new Set<string>();
  readonly deadlines = new Map<string, NodeJS.Timeout>();
  readonly work = new Set<Promise<unknown>>();
  readonly reporting = new Map<string, Promise<void>>();
  /** Consecutive failures per key of `reporting`, for the retry's back-off. */
  readonly failures = new Map<string, number>();
  private waiters = new Set<() => void>();
  /** The request's BuildKit secrets: in memory only, never in build.json (a restarted dispatcher ends the build anyway). */
  secrets: Readonly<Record<string, string>> = {};

  constructor(readonly record: BuildRecord) {}

  track(promise: Promise<unknown>): void {
    const settled = promise.catch(() => undefined).finally(() => this.work.delete(settled));
    this.work.add(settled);
  }

  changed(): void {
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
  }

  /** Resolves on the next change, after `ms`, or on abort, whichever is first. */
  nextChange(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      this.waiters.add(done);
    });
  }
}

export class LocalExecutor implements Executor {
  readonly kind = "local";
  readonly where: string;
  readonly stateDir: string;
  readonly dockerHost: string;
  readonly buildkitAddress: string | undefined;
  private readonly store: BuildStore;
  private readonly builds = new Map<string, LocalBuild>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private readonly registry: { http: RegistryHttp; reader: ImageReader };
  /** Ends the read-back waits on stop(). */
  private readonly stopped = new AbortController();
  private garbageTimer: NodeJS.Timeout | undefined;
  private started = false;
  private stopping = false;
  private readiness: { at: number; ok: boolean } | undefined;

  constructor(private readonly options: LocalExecutorOptions) {
    const { config } = options;
    this.dockerHost = options.dockerHost ?? config.local.dockerHost ?? process.env["DOCKER_HOST"] ?? defaultDockerHost();
    // Only the local key: buildkit.address defaults to a cluster Service name
    // no local buildctl can reach.
    this.buildkitAddress = options.buildkitAddress ?? config.local.buildkitAddress;
    this.stateDir = defaultStateDir(config);
    this.store = new BuildStore(this.stateDir);
    this.registry = options.registry ?? localRegistryClient(config.registry.insecureRegistries);
    const buildkit = this.buildkitAddress === undefined
      ? "no BuildKit address, so BuildKit platforms build on the Docker daemon (classic builder)"
      : `BuildKit ${this.buildkitAddress} (buildctl from PATH, the Jobs' arguments)`;
    this.where =
      `Docker daemon ${this.dockerHost} (docker CLI, the Jobs' command lines; Windows platforms run the same docker CLI steps here, ` +
      `which on a Linux daemon is the test bed's emulation: Linux base images only); ${buildkit}; builds in ${this.stateDir}`;
  }

  async start(): Promise<void> {
    await this.store.lock();
    try {
      await this.checkTools();
    } catch (err) {
      await this.store.unlock();
      throw err;
    }
    const records = await this.store.loadAll((buildId, err) =>
      this.options.log.error({ buildId, err: err.message }, "unreadable local build record; leaving it alone"),
    );
    for (const record of records) this.builds.set(record.id, new LocalBuild(record));
    await Promise.all([...this.builds.values()].map((build) => this.recover(build)));
    this.started = true;
    for (const build of this.builds.values()) {
      for (const platform of build.record.platforms) this.reportStatus(build, platform);
      // Pushed before the restart and not read back yet: the registry still has it.
      for (const platform of build.record.platforms.filter(awaitingReadBack)) {
        build.track(this.readBack(build, platform).catch((err: unknown) => this.runFailed(build, platform, err)));
      }
      this.reconcileManifest(build);
    }
    this.garbageTimer = setInterval(() => void this.collectGarbage(), garbageCollectionEveryMs).unref();
    void this.collectGarbage();
    this.options.log.info({ executor: this.kind, where: this.where, builds: records.length }, "local executor started");
  }

  /**
   * Ends the builds still running (nothing could collect their results after
   * this process is gone), reports that once, and releases the state dir.
   */
  async stop(): Promise<void> {
    if (!this.started || this.stopping) return;
    this.stopping = true;
    this.stopped.abort();
    clearInterval(this.garbageTimer);
    for (const build of this.builds.values()) {
      // A read-back is not ended: the next start resumes it from the registry.
      const ended = build.record.platforms.filter((platform) => !awaitingReadBack(platform) && endInterrupted(platform, stoppedMessage, new Date()));
      if (ended.length > 0) await this.save(build);
      for (const platform of ended) this.reportStatus(build, platform);
      if (ended.length > 0) this.reconcileManifest(build);
      await this.killProcesses(build);
    }
    await this.idle();
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
    await this.store.unlock();
  }

  /** Resolves once no step runs and no status report is in flight (tests and shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      const pending = [...this.builds.values()].flatMap((build) => [...build.work, ...build.reporting.values()]);
      if (pending.length === 0) return;
      await Promise.allSettled(pending);
    }
  }

  platformPhases(): PlatformPhase[] {
    return [...this.builds.values()].flatMap((build) => build.record.platforms.map((platform) => platform.state));
  }

  async ready(): Promise<boolean> {
    if (!this.started || this.stopping) return false;
    if (this.readiness && Date.now() - this.readiness.at < readinessCacheMs) return this.readiness.ok;
    const ok = (await this.dockerVersion()).os !== undefined;
    this.readiness = { at: Date.now(), ok };
    return ok;
  }

  async submit(plan: BuildPlan, githubToken: string | undefined, secrets: Readonly<Record<string, string>> = {}): Promise<SubmitResult> {
    if (!this.started || this.stopping) throw new Error("the local executor is not running (start() it first)");
    const existing = this.builds.get(plan.buildId);
    if (existing) {
      if (existing.record.requestHash !== plan.requestHash) {
        throw new IdempotencyConflict(existing.record.platforms[0]?.job ?? plan.buildId);
      }
      await existing.persisted;
      return { build: buildStateOf(existing.record), created: false };
    }

    const record = newBuildRecord(
      plan,
      (slug) => {
        const platformPlan = plan.platforms.find((p) => p.platform.slug === slug)!;
        return localPlatformSteps(plan, platformPlan, this.options.config, {
          buildkitAddress: this.buildkitAddress,
          metadataFile: this.store.metadataFile(plan.buildId, slug),
          ...(plan.secretIds.length > 0 ? { secretsDir: secretsDirFor(plan.buildId, slug) } : {}),
        });
      },
      new Date(),
    );
    // Registered before the first await, so a concurrent duplicate finds it.
    const build = new LocalBuild(record);
    build.secrets = { ...secrets };
    this.builds.set(record.id, build);
    build.persisted = this.store.createBuildDirs(record).then(() => this.store.save(record));
    try {
      await build.persisted;
    } catch (err) {
      this.builds.delete(record.id);
      throw err;
    }
    if (githubToken !== undefined) {
      // StatusReport can only name a Kubernetes Secret holding a per-build
      // token; there is none here, so statuses use the configured credentials.
      this.options.log.warn({ buildId: record.id }, "the local executor reports with the configured GitHub credentials, not the build's own token");
    }
    for (const platform of record.platforms) this.reportStatus(build, platform);
    this.reconcileManifest(build);
    for (const platform of record.platforms) {
      build.track(this.runPlatform(build, platform).catch((err: unknown) => this.runFailed(build, platform, err)));
    }
    return { build: buildStateOf(record), created: true };
  }

  async get(buildId: string): Promise<BuildState | undefined> {
    const build = this.builds.get(buildId);
    return build ? buildStateOf(build.record) : undefined;
  }

  async list(): Promise<BuildState[]> {
    return [...this.builds.values()].map((build) => buildStateOf(build.record));
  }

  async cancel(buildId: string, reason: string): Promise<BuildState | undefined> {
    const build = this.builds.get(buildId);
    if (!build) return undefined;
    await build.persisted;
    const now = new Date().toISOString();
    const cancelled = build.record.platforms.filter((platform) => !isFinal(platform));
    for (const platform of cancelled) {
      platform.state = "cancelled";
      platform.message = reason || "cancelled";
      platform.finishedAt = now;
    }
    if (cancelled.length > 0) {
      // Recorded before the processes are stopped: a crash in between still leaves the build cancelled.
      await this.save(build);
      for (const platform of cancelled) this.reportStatus(build, platform);
      this.reconcileManifest(build);
      await this.killProcesses(build);
      await Promise.allSettled([...build.work]);
    }
    return buildStateOf(build.record);
  }

  async *logs(buildId: string, options: LogOptions): AsyncIterable<LogLine> {
    const build = this.builds.get(buildId);
    if (!build) return;
    // A consumer that stops early (break) must not wait for the next line of
    // a step that may print nothing for minutes: the merge only lets go once
    // every platform's pending read settles, so stop those reads first.
    const stopped = new AbortController();
    const signal = AbortSignal.any([options.signal, stopped.signal]);
    const merged = mergeAsync(build.record.platforms.map((platform) => this.platformLogs(build, platform, { ...options, signal })));
    try {
      for (;;) {
        const next = await merged.next();
        if (next.done) return;
        yield next.value;
      }
    } finally {
      stopped.abort();
      await merged.return(undefined);
    }
  }

  private async *platformLogs(build: LocalBuild, platform: PlatformRecord, options: LogOptions): AsyncGenerator<LogLine> {
    for (const step of platform.steps) {
      while (step.state === "pending") {
        if (!options.follow || isFinal(platform) || options.signal.aborted) return;
        await build.nextChange(1_000, options.signal);
      }
      const skip = options.resume[`${platform.slug}/${step.name}`] ?? 0;
      const tail = new LogTail(this.store.logFile(build.record.id, platform.slug, step.name));
      let n = 0;
      for (;;) {
        // Read after the step is seen ended: its process had exited, so the file is complete.
        const ended = step.state !== "running";
        for (const line of await tail.read(ended)) {
          n++;
          if (n > skip) yield { platform: platform.platform, step: step.name, n, line };
        }
        if (ended || !options.follow || options.signal.aborted) break;
        // Steps append to the file themselves: a short poll finds new lines, a state change ends the wait early.
        await build.nextChange(250, options.signal);
      }
      if (options.signal.aborted) return;
    }
  }

  private async runPlatform(build: LocalBuild, platform: PlatformRecord): Promise<void> {
    if (isFinal(platform)) return;
    const deadlineSeconds = this.options.config.limits.activeDeadlineSeconds;
    build.deadlines.set(
      platform.slug,
      setTimeout(() => {
        build.timedOut.add(platform.slug);
        void this.killProcesses(build, platform.slug);
      }, deadlineSeconds * 1000),
    );
    const spawnErrors = new Map<string, Error>();
    try {
      const stages = [...new Set(platform.steps.map((step) => step.stage))].sort((a, b) => a - b);
      for (const stage of stages) {
        if (isFinal(platform) || build.timedOut.has(platform.slug)) break;
        const steps = platform.steps.filter((step) => step.stage === stage);
        const exits = await Promise.all(steps.map((step) => this.runStep(build, platform, step)));
        exits.forEach((exit, index) => exit.spawnError && spawnErrors.set(steps[index]!.name, exit.spawnError));
        if (steps.some((step) => step.state !== "succeeded")) break;
      }
    } finally {
      clearTimeout(build.deadlines.get(platform.slug));
      build.deadlines.delete(platform.slug);
    }
    if (isFinal(platform)) return; // cancelled or stopped meanwhile; already recorded and reported

    await this.conclude(build, platform, spawnErrors);
    if (platform.state === "succeeded" && readsBack(build.record, platform)) startReadBack(platform);
    platform.finishedAt = new Date().toISOString();
    await this.save(build);
    this.reportStatus(build, platform);
    await this.readBack(build, platform);
    this.reconcileManifest(build);
  }

  /**
   * Reads the platform's pushed image back from the registry and records
   * whether it fits (registry.validatePlatform) and what its index entry is.
   * A registry that does not answer is asked again, backing off as the
   * reconciler does, until readBackFailure gives up on it.
   */
  private async readBack(build: LocalBuild, platform: PlatformRecord): Promise<void> {
    for (let failures = 1; awaitingReadBack(platform) && !this.stopping; failures++) {
      try {
        const read = await readPushedImage(
          this.registry.reader,
          { platform: platform.platform, pushRef: platform.pushRef!, ...(platform.digest ? { digest: platform.digest } : {}) },
          build.record.validatePlatform === true,
        );
        if (!awaitingReadBack(platform)) return; // cancelled meanwhile
        recordReadBack(platform, read);
        this.options.log.info({ buildId: build.record.id, platform: platform.platform, image: platform.image, mismatch: read.mismatch }, "pushed image read back");
      } catch (err) {
        const failure = readBackFailure(err, platform, Date.now());
        if (failure === undefined) {
          const delayMs = retryDelayMs(failures);
          this.options.log.warn({ buildId: build.record.id, platform: platform.platform, err: (err as Error)?.message ?? String(err) }, `reading the pushed image failed; retrying in ${delayMs / 1000} s`);
          // Any change of the build (a cancel) ends the wait early; the loop then looks again.
          await build.nextChange(delayMs, this.stopped.signal);
          continue;
        }
        if (!awaitingReadBack(platform)) return;
        recordReadBackFailure(platform, failure);
      }
      await this.save(build);
      this.reportStatus(build, platform);
      this.reconcileManifest(build);
    }
  }

  /** The executor itself failed (disk full, log file not writable): the platform ends with an error saying so. */
  private async runFailed(build: LocalBuild, platform: PlatformRecord, err: unknown): Promise<void> {
    const message = (err as Error)?.message ?? String(err);
    this.options.log.error({ buildId: build.record.id, platform: platform.platform, err: message }, "local build failed to run");
    await this.killProcesses(build, platform.slug);
    if (endInterrupted(platform, `the local executor could not run the build: ${message}`, new Date())) {
      await this.save(build).catch(() => undefined);
      this.reportStatus(build, platform);
      this.reconcileManifest(build);
    }
  }

  private async conclude(build: LocalBuild, platform: PlatformRecord, spawnErrors: Map<string, Error>): Promise<void> {
    const failed = platform.steps.find((step) => step.state === "failed");
    if (build.timedOut.has(platform.slug)) {
      platform.state = "failed";
      platform.message = `timed out: the build ran past limits.activeDeadlineSeconds (${this.options.config.limits.activeDeadlineSeconds} s)`;
      return;
    }
    if (failed) {
      const spawnError = spawnErrors.get(failed.name);
      if (spawnError) {
        // Not the Dockerfile's fault: this host lacks a tool.
        platform.state = "error";
        platform.message = `could not start ${failed.argv[0]} for step ${failed.name}: ${spawnError.message}; install it or put it on the dispatcher's PATH`;
        platform.failedStep = { name: failed.name };
        return;
      }
      platform.state = "failed";
      platform.failedStep = failed.exitCode === undefined ? { name: failed.name } : { name: failed.name, exitCode: failed.exitCode };
      const last = await lastLogLine(this.store.logFile(build.record.id, platform.slug, failed.name));
      platform.message = failed.exitCode === undefined
        ? `step ${failed.name} was killed by ${failed.signal ?? "a signal"}`
        : `step ${failed.name} exited with code ${failed.exitCode}${last ? `: ${last}` : ""}`;
      return;
    }
    platform.state = "succeeded";
    const digest = await this.digestOf(build, platform);
    if (digest !== undefined) platform.digest = digest;
  }

  /** As the reconciler reads it: buildctl's metadata file, or the first push's output. */
  private async digestOf(build: LocalBuild, platform: PlatformRecord): Promise<string | undefined> {
    if (platform.pushRef === undefined) return undefined;
    try {
      if (platform.engine === "buildctl") {
        return platform.metadataFile === undefined ? undefined : digestFromBuildctlMetadata(await readFile(platform.metadataFile, "utf8"));
      }
      const push = platform.steps.find((step) => step.name === "push-0");
      if (!push) return undefined;
      return digestFromPushOutput(await readFile(this.store.logFile(build.record.id, platform.slug, push.name), "utf8"));
    } catch (err) {
      this.options.log.warn({ buildId: build.record.id, platform: platform.platform, err: (err as Error).message }, "could not read the pushed digest");
      return undefined;
    }
  }

  private async runStep(build: LocalBuild, platform: PlatformRecord, step: StepRecord): Promise<StepExit> {
    const logFile = this.store.logFile(build.record.id, platform.slug, step.name);
    step.state = "running";
    step.startedAt = new Date().toISOString();
    const secretsDir = platform.engine === "buildctl" && Object.keys(build.secrets).length > 0 ? secretsDirFor(build.record.id, platform.slug) : undefined;
    if (secretsDir !== undefined) await writeSecretFiles(secretsDir, build.secrets);
    try {
      return await this.runStepProcess(build, platform, step, logFile);
    } finally {
      // The step has exited (or never started): its secrets leave the disk with it.
      if (secretsDir !== undefined) await rm(secretsDir, { recursive: true, force: true });
    }
  }

  private async runStepProcess(build: LocalBuild, platform: PlatformRecord, step: StepRecord, logFile: string): Promise<StepExit> {
    const running = await startStep(step.argv, stepEnvironment(platform.engine, this.dockerHost, process.env), logFile);
    const key = `${platform.slug}/${step.name}`;
    if (running.pid > 0) {
      // Running once its first process exists, as a Job once its pod runs;
      // until then it is queued, which is what the first status says.
      if (platform.state === "queued") {
        platform.state = "running";
        platform.startedAt = step.startedAt;
      }
      step.process = running.startTime === undefined ? { pid: running.pid } : { pid: running.pid, startTime: running.startTime };
      build.processes.set(key, running);
      await this.save(build);
      this.reportStatus(build, platform);
      // Cancelled or timed out while it was starting: the kill found nothing to stop yet.
      if (isFinal(platform) || build.timedOut.has(platform.slug)) void stopStep(running.pid, { graceMs: stopGraceMs, exited: running.exited });
    }
    const exit = await running.exited;
    build.processes.delete(key);
    delete step.process;
    step.finishedAt = new Date().toISOString();
    if (exit.spawnError) {
      await appendFile(logFile, `dockhand: could not start ${step.argv[0]}: ${exit.spawnError.message}\n`).catch(() => undefined);
      step.state = "failed";
    } else {
      if (exit.exitCode !== undefined) step.exitCode = exit.exitCode;
      if (exit.signal !== undefined) step.signal = exit.signal;
      step.state = exit.exitCode === 0 ? "succeeded" : isFinal(platform) ? "cancelled" : "failed";
    }
    await this.save(build);
    return exit;
  }

  /** Stops the running steps of a build (or of one platform), SIGTERM then SIGKILL. */
  private async killProcesses(build: LocalBuild, slug?: string): Promise<void> {
    const stops = [...build.processes.entries()]
      .filter(([key]) => slug === undefined || key.startsWith(`${slug}/`))
      .map(([, running]) => stopStep(running.pid, { graceMs: stopGraceMs, exited: running.exited }));
    await Promise.all(stops);
  }

  /**
   * A build found on disk at start. Steps recorded as running belong to a
   * dispatcher that is gone: their output can no longer be followed nor their
   * exit codes read, so any still alive are stopped and the platform ends
   * with an error saying why.
   */
  private async recover(build: LocalBuild): Promise<void> {
    let changed = false;
    for (const platform of build.record.platforms) {
      for (const step of platform.steps) {
        if (!step.process) continue;
        const { pid, startTime } = step.process;
        if (await isAlive(pid, startTime)) {
          this.options.log.warn({ buildId: build.record.id, platform: platform.platform, step: step.name, pid }, "stopping a step left by the previous dispatcher");
          await stopStep(pid, { graceMs: stopGraceMs, startTime });
        }
      }
      const now = new Date();
      // Both, whatever the first returns. A platform that was reading its
      // pushed image back has nothing left to follow: start() resumes the read.
      const ended = !awaitingReadBack(platform) && endInterrupted(platform, restartedMessage, now);
      const forgotten = forgetProcesses(platform, now);
      changed ||= ended || forgotten;
    }
    if (changed) await this.save(build);
  }

  /**
   * Level-triggered, as the reconciler: compares the commit status the
   * platform's state calls for with the one recorded as reported, reports the
   * difference, records it. Reports of one platform run one at a time, each
   * reading the latest state, so a quick build may skip "pending" but never
   * reports a state twice, even across restarts.
   */
  private reportStatus(build: LocalBuild, platform: PlatformRecord): void {
    this.inTurn(build, platform.slug, () => this.reportOnce(build, platform), {
      what: "commit status report",
      fields: { platform: platform.platform },
      delayMs: () => reportRetryMs,
    });
  }

  /**
   * Runs `work` under `key` of the build (a platform's statuses, the index)
   * after the run before it, so each reads the latest record and none
   * overlap. A failure is logged and the run retried after
   * delayMs(consecutive failures), unless the executor is stopping: the next
   * start picks the work up from the record.
   */
  private inTurn(build: LocalBuild, key: string, work: () => Promise<void>, failure: { what: string; fields: object; delayMs: (failures: number) => number }): void {
    const previous = build.reporting.get(key) ?? Promise.resolve();
    const next = previous
      .then(work)
      .then(() => {
        build.failures.delete(key);
      })
      .catch((err: unknown) => {
        const failures = (build.failures.get(key) ?? 0) + 1;
        build.failures.set(key, failures);
        const delayMs = failure.delayMs(failures);
        this.options.log.error(
          { buildId: build.record.id, ...failure.fields, err: (err as Error)?.message ?? String(err) },
          this.stopping ? `${failure.what} failed; the next start retries it` : `${failure.what} failed; retrying in ${delayMs / 1000} s`,
        );
        if (this.stopping) return;
        const timer = setTimeout(() => {
          this.retryTimers.delete(timer);
          this.inTurn(build, key, work, failure);
        }, delayMs);
        this.retryTimers.add(timer);
      });
    build.reporting.set(key, next);
    void next.finally(() => {
      if (build.reporting.get(key) === next) build.reporting.delete(key);
    });
  }

  private async reportOnce(build: LocalBuild, platform: PlatformRecord): Promise<void> {
    if (platform.reported === withheldStatus) return;
    if (isWithheld(platform, platform.reported)) {
      platform.reported = withheldStatus;
      await this.save(build);
      this.reconcileManifest(build);
      return;
    }
    const wanted = commitStatusFor(platformStateOf(platform));
    if (platform.reported === wanted.state) return;
    await this.options.report({
      repository: build.record.repository,
      sha: build.record.sha,
      context: platform.statusContext,
      targetUrl: build.record.targetUrl,
      state: wanted.state,
      description: wanted.description,
    });
    platform.reported = wanted.state;
    await this.save(build);
    this.options.onReported?.(platformStateOf(platform), wanted.final);
    // The index's final status waits for every platform's own (nextManifestStep): look again.
    if (wanted.final) this.reconcileManifest(build);
    this.options.log.info(
      { buildId: build.record.id, platform: platform.platform, state: wanted.state, description: wanted.description },
      "commit status reported",
    );
  }

  /**
   * The index of a multi-platform build and its `<prefix>/manifest` status,
   * level-triggered as reportStatus: from the record, the next step
   * (nextManifestStep), done and recorded before the one after. One at a time
   * per build; a failure is retried with the reconciler's back-off.
   */
  private reconcileManifest(build: LocalBuild): void {
    if (build.record.index === undefined) return;
    this.inTurn(build, manifestKey, () => this.manifestSteps(build), { what: "image index step", fields: {}, delayMs: retryDelayMs });
  }

  private async manifestSteps(build: LocalBuild): Promise<void> {
    const { record } = build;
    for (;;) {
      const manifest = manifestOf(record);
      if (!manifest) return;
      const step = nextManifestStep(manifest, {
        reported: record.manifestReported,
        platformsFinal: record.platforms.every((platform) => isFinalCommitState(platform.reported)),
      });
      if (step.kind === "none") return;
      if (step.kind === "withhold") {
        record.manifestReported = withheldStatus;
        await this.save(build);
        return;
      }
      if (step.kind === "push") {
        const platforms = record.platforms.map((platform) => ({ platform: platform.platform, name: `${record.id} ${platform.platform}`, record: platform.imageRecord }));
        record.indexResult = await pushImageIndex(this.registry.http, manifest.tags, platforms);
        await this.save(build);
        if ("error" in record.indexResult) this.options.log.warn({ buildId: record.id, err: record.indexResult.error }, "index push refused");
        else this.options.log.info({ buildId: record.id, digest: record.indexResult.digest, tags: manifest.tags }, "image index pushed");
        continue;
      }
      const wanted = step.kind === "announce" ? manifestAnnouncement(manifest, record.platforms.map((platform) => platform.platform)) : step.wanted;
      await this.options.report({
        repository: record.repository,
        sha: record.sha,
        context: manifest.statusContext,
        targetUrl: record.targetUrl,
        state: wanted.state,
        description: wanted.description,
      });
      record.manifestReported = wanted.state;
      await this.save(build);
      this.options.log.info(
        { buildId: record.id, context: manifest.statusContext, state: wanted.state, description: wanted.description },
        "commit status reported",
      );
    }
  }

  private async save(build: LocalBuild): Promise<void> {
    await this.store.save(build.record);
    build.changed();
  }

  /** Finished builds whose final status is out are deleted after limits.ttlSecondsAfterFinished, as Jobs are. */
  private async collectGarbage(): Promise<void> {
    const cutoff = Date.now() - this.options.config.limits.ttlSecondsAfterFinished * 1000;
    for (const [buildId, build] of this.builds) {
      const platforms = build.record.platforms;
      const done =
        platforms.every((platform) => isFinal(platform) && (platform.reported === withheldStatus || platform.reported === commitStatusFor(platformStateOf(platform)).state)) &&
        (build.record.index === undefined || isFinalCommitState(build.record.manifestReported));
      const finishedAt = Math.max(...platforms.map((platform) => Date.parse(platform.finishedAt ?? "") || Infinity));
      if (!done || build.work.size > 0 || !(finishedAt < cutoff)) continue;
      this.builds.delete(buildId);
      await this.store.remove(buildId).catch((err: Error) =>
        this.options.log.warn({ buildId, err: err.message }, "could not delete an expired local build"),
      );
    }
  }

  /** The tools the steps need. buildctl is checked only when a BuildKit address is set. */
  private async checkTools(): Promise<void> {
    const docker = await this.dockerVersion();
    if (docker.missing) {
      throw new Error(`the local executor runs builds with the docker CLI, which is not on PATH (${docker.problem}); install it`);
    }
    if (docker.os === undefined) {
      this.options.log.warn({ dockerHost: this.dockerHost, problem: docker.problem }, "the Docker daemon does not answer; builds will fail until it does");
    }
    if (this.buildkitAddress !== undefined) {
      const buildctl = await run(["buildctl", "--version"], stepEnvironment("buildctl", this.dockerHost, process.env));
      if (buildctl.missing) {
        throw new Error(
          `local.buildkitAddress is ${this.buildkitAddress} but buildctl is not on PATH; install BuildKit's buildctl or unset local.buildkitAddress`,
        );
      }
    }
  }

  private async dockerVersion(): Promise<{ os?: string; missing: boolean; problem?: string }> {
    const result = await run(["docker", "version", "--format", "{{.Server.Os}}"], stepEnvironment("docker", this.dockerHost, process.env));
    const os = result.ok ? result.stdout.trim() : "";
    return os === "" ? { missing: result.missing, problem: result.problem } : { os, missing: false };
  }
}

function run(argv: string[], env: Record<string, string>): Promise<{ ok: boolean; missing: boolean; stdout: string; problem?: string }> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { env, timeout: 10_000, windowsHide: true }, (err, stdout, stderr) => {
      if (!err) return resolve({ ok: true, missing: false, stdout });
      const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
      const problem = String(stderr).trim().split("\n").at(-1) || err.message;
      resolve({ ok: false, missing, stdout, problem });
    });
  });
}

/**
 * Where a platform's build step finds its secrets: a directory only this
 * user can enter, one 0600 file per secret id, for buildctl's
 * `--secret=id=<id>,src=<dir>/<id>` (argv names paths, never values).
 */
function secretsDirFor(buildId: string, slug: string): string {
  return join(tmpdir(), `dockhand-secrets-${buildId}-${slug}`);
}

async function writeSecretFiles(dir: string, secrets: Readonly<Record<string, string>>): Promise<void> {
  // A directory left by a dispatcher that died mid-step is replaced, never reused: its mode is not ours to trust.
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { mode: 0o700 });
  for (const [id, value] of Object.entries(secrets)) await writeFile(join(dir, id), value, { mode: 0o600, flag: "wx" });
}
