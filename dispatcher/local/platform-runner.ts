// Runs one platform of a local build as the Job controller and the kubelet
// run a Job: its steps as processes on this host, stage by stage, under
// limits.activeDeadlineSeconds; then its result from the exit codes, the log
// and the pushed digest (conclude), recorded before it is reported. It also
// ends what no process can follow any more: steps a dead dispatcher left
// (recover) and steps this one leaves on stop.
//
// Why the docker CLI and buildctl as processes, not the Engine API
// (dockerode): the Jobs run exactly these argv (plan/docker-job.ts,
// plan/buildkit-job.ts), so one command line is tested for both executors,
// and the CLI's own handling of DOCKER_HOST, DOCKER_CONFIG credentials and
// TLS applies unchanged.

import { appendFile, readFile } from "node:fs/promises";
import {
  awaitingReadBack,
  endInterrupted,
  forgetProcesses,
  isFinal,
  type PlatformRecord,
  readsBack,
  startReadBack,
  type StepRecord,
} from "./build-record.js";
import type { LocalBuild } from "./local-build.js";
import type { LocalContext } from "./local-context.js";
import type { LocalIndexStep } from "./local-index-step.js";
import type { LocalStatusDelivery } from "./local-status-delivery.js";
import { digestFromBuildctlMetadata, digestFromPushOutput, stepEnvironment } from "./local-steps.js";
import { lastLogLine } from "./log-tail.js";
import { isAlive, startStep, type StepExit, stopStep } from "./step-process.js";
import { removeSecretFiles, secretsDirFor, writeSecretFiles } from "./step-secrets.js";

export const restartedMessage = "dispatcher restarted during the build";
export const stoppedMessage = "dispatcher stopped during the build";

/** SIGTERM → SIGKILL: docker CLI and buildctl end within a second or two of SIGTERM. */
const stopGraceMs = 10_000;

export class PlatformRunner {
  constructor(
    private readonly context: LocalContext,
    private readonly delivery: LocalStatusDelivery,
    private readonly indexStep: LocalIndexStep,
    /** The Docker daemon the steps talk to (DOCKER_HOST of their environment). */
    private readonly dockerHost: string,
  ) {}

  async run(build: LocalBuild, platform: PlatformRecord): Promise<void> {
    if (isFinal(platform)) return;
    const deadlineSeconds = this.context.config.limits.activeDeadlineSeconds;
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
    await this.context.save(build);
    this.delivery.reportStatus(build, platform);
    await this.indexStep.readBack(build, platform);
    this.indexStep.reconcileManifest(build);
  }

  /** The executor itself failed (disk full, log file not writable): the platform ends with an error saying so. */
  async runFailed(build: LocalBuild, platform: PlatformRecord, err: unknown): Promise<void> {
    const message = (err as Error)?.message ?? String(err);
    this.context.log.error({ buildId: build.record.id, platform: platform.platform, err: message }, "local build failed to run");
    await this.killProcesses(build, platform.slug);
    if (endInterrupted(platform, `the local executor could not run the build: ${message}`, new Date())) {
      await this.context.save(build).catch(() => undefined);
      this.delivery.reportStatus(build, platform);
      this.indexStep.reconcileManifest(build);
    }
  }

  /**
   * The dispatcher stops: nothing could collect the results of the build's
   * running steps after this process is gone, so its platforms end, the end
   * is reported, and the processes are stopped. A read-back is not ended:
   * the next start resumes it from the registry.
   */
  async stopBuild(build: LocalBuild): Promise<void> {
    const ended = build.record.platforms.filter((platform) => !awaitingReadBack(platform) && endInterrupted(platform, stoppedMessage, new Date()));
    if (ended.length > 0) await this.context.save(build);
    for (const platform of ended) this.delivery.reportStatus(build, platform);
    if (ended.length > 0) this.indexStep.reconcileManifest(build);
    await this.killProcesses(build);
  }

  /** Stops the running steps of a build (or of one platform), SIGTERM then SIGKILL. */
  async killProcesses(build: LocalBuild, slug?: string): Promise<void> {
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
  async recover(build: LocalBuild): Promise<void> {
    let changed = false;
    for (const platform of build.record.platforms) {
      for (const step of platform.steps) {
        if (!step.process) continue;
        const { pid, startTime } = step.process;
        if (await isAlive(pid, startTime)) {
          this.context.log.warn({ buildId: build.record.id, platform: platform.platform, step: step.name, pid }, "stopping a step left by the previous dispatcher");
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
    if (changed) await this.context.save(build);
  }

  private async conclude(build: LocalBuild, platform: PlatformRecord, spawnErrors: Map<string, Error>): Promise<void> {
    const failed = platform.steps.find((step) => step.state === "failed");
    if (build.timedOut.has(platform.slug)) {
      platform.state = "failed";
      platform.message = `timed out: the build ran past limits.activeDeadlineSeconds (${this.context.config.limits.activeDeadlineSeconds} s)`;
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
      const last = await lastLogLine(this.context.store.logFile(build.record.id, platform.slug, failed.name));
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
      return digestFromPushOutput(await readFile(this.context.store.logFile(build.record.id, platform.slug, push.name), "utf8"));
    } catch (err) {
      this.context.log.warn({ buildId: build.record.id, platform: platform.platform, err: (err as Error).message }, "could not read the pushed digest");
      return undefined;
    }
  }

  private async runStep(build: LocalBuild, platform: PlatformRecord, step: StepRecord): Promise<StepExit> {
    const logFile = this.context.store.logFile(build.record.id, platform.slug, step.name);
    step.state = "running";
    step.startedAt = new Date().toISOString();
    const secretsDir = platform.engine === "buildctl" && Object.keys(build.secrets).length > 0 ? secretsDirFor(build.record.id, platform.slug) : undefined;
    if (secretsDir !== undefined) await writeSecretFiles(secretsDir, build.secrets);
    try {
      return await this.runStepProcess(build, platform, step, logFile);
    } finally {
      // The step has exited (or never started): its secrets leave the disk with it.
      if (secretsDir !== undefined) await removeSecretFiles(secretsDir);
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
      await this.context.save(build);
      this.delivery.reportStatus(build, platform);
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
    await this.context.save(build);
    return exit;
  }
}
