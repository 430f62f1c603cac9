// The `local` executor: the embedded default when there is no cluster. It
// runs the same BuildPlan as the Kubernetes Jobs, with the same command lines,
// as processes on this host: the docker CLI against a Docker daemon and, for
// BuildKit platforms, buildctl against a BuildKit address.
//
// This file is the Executor API and the wiring of its parts, split as the
// Kubernetes side is (README.md has the map): platform-runner.ts runs the
// steps (the Job controller and kubelet), local-status-delivery.ts reports
// (the reconciler's reporting), local-index-step.ts reads pushed images back
// and pushes the index (controller/image-index-step.ts), tool-check.ts checks
// the docker CLI and buildctl. They share a LocalContext, not this class.
//
// State lives on disk (build-store.ts), not in memory: every change is written
// before it is acted on, so a restarted dispatcher finds each build as it was,
// ends the ones whose processes it can no longer follow, and reports what it
// still owes GitHub, once.

import type { Config } from "../config/schema.js";
import { type Executor, IdempotencyConflict, type LogOptions, type SubmitResult } from "../executor.js";
import type { LogLine } from "../protocol/build-logs.js";
import { mergeAsync } from "../merge-async.js";
import type { BuildPlan } from "../plan/build-plan.js";
import type { BuildState, PlatformState } from "../protocol/build-state.js";
import type { PlatformPhase } from "../protocol/phases.js";
import { commitStatusFor, isFinalCommitState, withheldStatus } from "../model/commit-status.js";
import type { StatusReporter } from "../model/status-report.js";
import type { FieldLogger } from "../logging.js";
import type { ImageReader } from "../registry/image-reader.js";
import type { RegistryHttp } from "../registry/registry-http.js";
import { awaitingReadBack, buildStateOf, isFinal, newBuildRecord, type PlatformRecord, platformStateOf } from "./build-record.js";
import { BuildStore, defaultStateDir } from "./build-store.js";
import { LocalBuild } from "./local-build.js";
import type { LocalContext } from "./local-context.js";
import { LocalIndexStep } from "./local-index-step.js";
import { LocalStatusDelivery } from "./local-status-delivery.js";
import { localPlatformSteps } from "./local-steps.js";
import { LogTail } from "./log-tail.js";
import { PlatformRunner } from "./platform-runner.js";
import { localRegistryClient } from "./registry-client.js";
import { secretsDirFor } from "./step-secrets.js";
import { checkTools, dockerVersion } from "./tool-check.js";

export { restartedMessage, stoppedMessage } from "./platform-runner.js";

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

const readinessCacheMs = 5_000;
const garbageCollectionEveryMs = 10 * 60_000;

function defaultDockerHost(): string {
  return process.platform === "win32" ? "npipe:////./pipe/docker_engine" : "unix:///var/run/docker.sock";
}

export class LocalExecutor implements Executor {
  readonly kind = "local";
  readonly where: string;
  readonly stateDir: string;
  readonly dockerHost: string;
  readonly buildkitAddress: string | undefined;
  private readonly store: BuildStore;
  private readonly builds = new Map<string, LocalBuild>();
  /** Aborted by stop(): ends the read-back waits and the retries (LocalContext.stopped). */
  private readonly stopped = new AbortController();
  private readonly context: LocalContext;
  private readonly delivery: LocalStatusDelivery;
  private readonly indexStep: LocalIndexStep;
  private readonly runner: PlatformRunner;
  private garbageTimer: NodeJS.Timeout | undefined;
  private started = false;
  private readiness: { at: number; ok: boolean } | undefined;

  constructor(private readonly options: LocalExecutorOptions) {
    const { config } = options;
    this.dockerHost = options.dockerHost ?? config.local.dockerHost ?? process.env["DOCKER_HOST"] ?? defaultDockerHost();
    // Only the local key: buildkit.address defaults to a cluster Service name
    // no local buildctl can reach.
    this.buildkitAddress = options.buildkitAddress ?? config.local.buildkitAddress;
    this.stateDir = defaultStateDir(config);
    const store = new BuildStore(this.stateDir);
    this.store = store;
    this.context = {
      config,
      log: options.log,
      store,
      stopped: this.stopped.signal,
      async save(build) {
        await store.save(build.record);
        build.changed();
      },
    };
    this.delivery = new LocalStatusDelivery(this.context, {
      report: options.report,
      ...(options.onReported ? { onReported: options.onReported } : {}),
      manifestDue: (build) => this.indexStep.reconcileManifest(build),
    });
    this.indexStep = new LocalIndexStep(this.context, this.delivery, options.report, options.registry ?? localRegistryClient(config.registry.insecureRegistries));
    this.runner = new PlatformRunner(this.context, this.delivery, this.indexStep, this.dockerHost);
    const buildkit = this.buildkitAddress === undefined
      ? "no BuildKit address, so BuildKit platforms build on the Docker daemon (classic builder)"
      : `BuildKit ${this.buildkitAddress} (buildctl from PATH, the Jobs' arguments)`;
    this.where =
      `Docker daemon ${this.dockerHost} (docker CLI, the Jobs' command lines; Windows platforms run the same docker CLI steps here, ` +
      `which on a Linux daemon is the test bed's emulation: Linux base images only); ${buildkit}; builds in ${this.stateDir}`;
  }

  private get stopping(): boolean {
    return this.stopped.signal.aborted;
  }

  async start(): Promise<void> {
    await this.store.lock();
    try {
      await checkTools(this.dockerHost, this.buildkitAddress, this.options.log);
    } catch (err) {
      await this.store.unlock();
      throw err;
    }
    const records = await this.store.loadAll((buildId, err) =>
      this.options.log.error({ buildId, err: err.message }, "unreadable local build record; leaving it alone"),
    );
    for (const record of records) this.builds.set(record.id, new LocalBuild(record));
    await Promise.all([...this.builds.values()].map((build) => this.runner.recover(build)));
    this.started = true;
    for (const build of this.builds.values()) {
      for (const platform of build.record.platforms) this.delivery.reportStatus(build, platform);
      // Pushed before the restart and not read back yet: the registry still has it.
      for (const platform of build.record.platforms.filter(awaitingReadBack)) {
        build.track(this.indexStep.readBack(build, platform).catch((err: unknown) => this.runner.runFailed(build, platform, err)));
      }
      this.indexStep.reconcileManifest(build);
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
    this.stopped.abort();
    clearInterval(this.garbageTimer);
    for (const build of this.builds.values()) await this.runner.stopBuild(build);
    await this.idle();
    this.delivery.clearRetries();
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
    const ok = (await dockerVersion(this.dockerHost)).os !== undefined;
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
    for (const platform of record.platforms) this.delivery.reportStatus(build, platform);
    this.indexStep.reconcileManifest(build);
    for (const platform of record.platforms) {
      build.track(this.runner.run(build, platform).catch((err: unknown) => this.runner.runFailed(build, platform, err)));
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
      await this.context.save(build);
      for (const platform of cancelled) this.delivery.reportStatus(build, platform);
      this.indexStep.reconcileManifest(build);
      await this.runner.killProcesses(build);
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
}
