// The Action's sequence: read inputs → pack the context → HEAD/PUT it →
// POST the build → follow its logs → outputs, job summary, pass or fail.
// Everything below is pure or talks to the dispatcher through client.ts;
// only this file and post.ts touch the runner (core.*), and they share
// nothing but saved state (state.ts).
//
// The build's own output is printed inside stop-commands stretches
// (command-fence.ts): a line it prints is never a workflow command.
//
// Stopping: `timeout` and the runner's SIGINT/SIGTERM (a cancelled workflow:
// SIGINT, then SIGTERM 7.5 s later, then SIGKILL) both end the wait and
// cancel the build at the dispatcher. If the process dies before it can,
// the post step finds the saved build id without "settled" and cancels it.

import * as core from "@actions/core";
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BuildStateBody } from "../dispatcher/protocol/build-state.js";
import { isFinalPhase } from "../dispatcher/protocol/phases.js";
import { requestAuth } from "./auth.js";
import { DispatcherClient, DispatcherRequestError, formatBytes, sleep, userAgent } from "./client.js";
import { CommandFence, fencedOutput } from "./command-fence.js";
import { ContextError, packContext } from "./context.js";
import { DockerfileLocator } from "./dockerfile-locator.js";
import { InputError, getInputs, type Inputs } from "./inputs.js";
import { LogDisplay, followLogs } from "./logs.js";
import { type StepOutputs, stepOutputs } from "./outputs.js";
import { buildRequestBody } from "./request.js";
import { readRunnerContext, RunnerContextError } from "./runner.js";
import { saveBuildId, saveSettled } from "./state.js";
import { summaryTable, writeSummary } from "./summary.js";

/** Why the wait was cut short. */
type StopReason = { kind: "timeout"; seconds: number } | { kind: "signal"; signal: NodeJS.Signals };

export interface RunOptions {
  /** How often the build's state is read while its logs stream (to know when a platform is done). */
  pollIntervalMs?: number;
  /** Lines of the failing step quoted in the failure message. */
  quotedLines?: number;
}

export async function run(options: RunOptions = {}): Promise<void> {
  const stop = new AbortController();
  let stopReason: StopReason | undefined;
  const stopWith = (reason: StopReason) => {
    if (stopReason) return;
    stopReason = reason;
    stop.abort(reason);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    core.info(`received ${signal} (the workflow was cancelled or timed out): stopping`);
    stopWith({ kind: "signal", signal });
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let contextFile: string | undefined;
  let buildRequested = false;
  let inputs: Inputs | undefined;
  let client: DispatcherClient | undefined;
  try {
    inputs = getInputs();
    const runner = readRunnerContext(process.env, tmpdir());
    client = new DispatcherClient({ baseUrl: inputs.dispatcherUrl, auth: requestAuth(inputs.auth), log: (m) => core.info(m), userAgent });
    const proxy = client.proxy;
    if (proxy) core.info(`reaching the dispatcher through the proxy ${proxy.origin} (HTTPS_PROXY/HTTP_PROXY; add the dispatcher's host to NO_PROXY to go direct)`);

    contextFile = join(runner.tempDir, `dockhand-context-${process.pid}.tar.gz`);
    const packed = await packContext({ contextDir: inputs.contextDir, dockerfile: inputs.dockerfile, outFile: contextFile, signal: stop.signal });
    core.info(
      `context ${inputs.contextDir}: ${packed.files} files (${formatBytes(packed.contentBytes)}) → ${formatBytes(packed.size)} tar.gz in ${packed.seconds.toFixed(2)} s, ${packed.digest}${packed.ignoreFile ? ` (${packed.ignoreFile} applied)` : ""}`,
    );
    stop.signal.throwIfAborted();
    if (await client.hasContext(packed.digest, stop.signal)) {
      core.info("the dispatcher has this context already: not uploading it again");
    } else {
      await client.uploadContext(packed.digest, packed.path, packed.size, stop.signal);
    }
    await rm(contextFile, { force: true });

    const body = buildRequestBody(inputs, runner, packed.digest);
    // Not cut short by a signal: once sent, the answer carries the id that
    // the cancel needs (retrying is safe: the idempotency key).
    buildRequested = true;
    const { created, build } = await client.createBuild(body);
    saveBuildId(build.id);
    core.setOutput("build-id", build.id);
    core.info(`build ${build.id} ${created ? "accepted" : "was already requested by an earlier try of this step; following it"}: ${build.url}`);
    for (const platform of build.platforms) core.info(`  ${platform.platform}: ${platform.builder} (${platform.builderReason})`);
    if (stopReason) return await cancelBuild(client, build, stopReason, inputs);

    if (!inputs.wait) {
      setOutputs(stepOutputs(build, inputs.tags, inputs.push));
      saveSettled("detached");
      core.info("wait is false: the build goes on at the dispatcher; its commit statuses report the result");
      return;
    }

    const timeoutSeconds = inputs.timeoutSeconds;
    const timer = timeoutSeconds === undefined ? undefined : setTimeout(() => stopWith({ kind: "timeout", seconds: timeoutSeconds }), timeoutSeconds * 1000);
    let followed: Followed;
    try {
      followed = await follow(client, build, stop.signal, inputs, options);
    } catch (err) {
      if (stopReason) return await cancelBuild(client, build, stopReason, inputs);
      throw err;
    } finally {
      clearTimeout(timer);
    }
    await finish(followed.final, inputs, followed, options);
  } catch (err) {
    if (stopReason && !buildRequested) {
      // Stopped before a build was requested: nothing exists to cancel.
      core.setFailed(stopReason.kind === "signal" ? `the runner sent ${stopReason.signal} before the build was requested; nothing was built` : "timeout before the build was requested");
    } else {
      const refused = refusedDockerfile(err, inputs);
      if (refused) {
        // setFailed's annotation names no file: this one points at the Dockerfile line at
        // fault, and the step fails as setFailed would fail it (core.ExitCode.Failure, 1;
        // written out: @github/local-action's stand-in for @actions/core has no ExitCode).
        core.error(describeFailure(err), refused);
        process.exitCode = 1;
      } else {
        core.setFailed(describeFailure(err));
      }
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    // Nothing may keep the process alive once the step is done: hosts that
    // import run() (such as @github/local-action) print outputs after it.
    client?.close();
    if (contextFile) await rm(contextFile, { force: true }).catch(() => undefined);
  }
}

/** Where a dispatcher refusal of the Dockerfile points, when it is the Dockerfile's (its field is `file`, or it names a line). */
function refusedDockerfile(err: unknown, inputs: Inputs | undefined): core.AnnotationProperties | undefined {
  if (!(err instanceof DispatcherRequestError) || inputs?.dockerfileInWorkspace === undefined) return undefined;
  if (err.line === undefined && err.field !== "file") return undefined;
  return { title: "dockhand: the dispatcher refused the Dockerfile", file: inputs.dockerfileInWorkspace, ...(err.line !== undefined ? { startLine: err.line } : {}) };
}

interface Followed {
  final: BuildStateBody;
  /** The last lines of a platform's step, as the display kept them. */
  lastLines: (platform: string, step?: string) => string[];
  /** The Dockerfile line each platform's build was at. */
  locator: DockerfileLocator;
}

/** Streams the logs until the build ends; answers its final state. */
async function follow(client: DispatcherClient, build: BuildStateBody, signal: AbortSignal, inputs: Inputs, options: RunOptions): Promise<Followed> {
  let latest = build;
  const builderOf = (platform: string) => latest.platforms.find((p) => p.platform === platform)?.builder;
  // The Dockerfile as packed: the classic builder's step numbers count its instructions.
  const dockerfileText = await readFile(join(inputs.contextDir, inputs.dockerfile), "utf8").catch(() => undefined);
  const locator = new DockerfileLocator(inputs.dockerfile, dockerfileText, builderOf);
  const fence = new CommandFence((line) => core.info(line));
  const display = new LogDisplay(
    fencedOutput(fence, { startGroup: (t) => core.startGroup(t), endGroup: () => core.endGroup(), info: (t) => core.info(t) }),
    (platform) => `${platform} · ${builderOf(platform) ?? "build"}`,
  );
  let polling = false;
  const poll = setInterval(() => {
    if (polling) return;
    polling = true;
    client
      .getBuild(build.id, signal)
      .then((state) => {
        if (!state) return;
        latest = state;
        for (const platform of state.platforms) if (isFinalPhase(platform.state)) display.finished(platform.platform);
      })
      .catch(() => undefined)
      .finally(() => (polling = false));
  }, options.pollIntervalMs ?? 3000);
  let endState = "unknown";
  try {
    // Its notes may quote the dispatcher's messages, which quote build output: fenced too.
    for await (const event of followLogs(client, build, { signal, log: (m) => fence.text(m) })) {
      if (event.kind === "line") {
        locator.line(event.line);
        display.line(event.line);
      } else endState = event.state;
    }
  } finally {
    clearInterval(poll);
    display.end();
    fence.resume();
  }
  let final = (await client.getBuild(build.id, signal)) ?? { ...latest, state: endState === "gone" ? latest.state : (endState as BuildStateBody["state"]) };
  // Every platform done, the build is not: a multi-platform push waits for its image index.
  if (!isFinalPhase(final.state) && final.manifest) core.info(`every platform is done; waiting for the image index under ${final.manifest.tags.join(", ")}`);
  while (!isFinalPhase(final.state)) {
    await sleep(options.pollIntervalMs ?? 3000, signal);
    final = (await client.getBuild(build.id, signal)) ?? final;
    if (!final.manifest) break;
  }
  return { final, lastLines: (platform, step) => display.lastLines(platform, step), locator };
}

async function finish(final: BuildStateBody, inputs: Inputs, { lastLines, locator }: Followed, options: RunOptions): Promise<void> {
  const outputs = stepOutputs(final, inputs.tags, inputs.push);
  setOutputs(outputs);
  saveSettled("finished");
  await writeSummary(summaryTable(final));
  const failed = final.platforms.filter((p) => p.state !== "succeeded");
  for (const platform of final.platforms) {
    if (platform.state === "succeeded") core.info(`✔ ${platform.platform}: succeeded${platform.digest ? `, ${platform.digest}` : ""}`);
  }
  if (final.manifest?.state === "succeeded") core.info(`✔ image index under ${final.manifest.tags.join(", ")}: ${final.manifest.digest ?? ""}`);
  if (failed.length === 0 && (final.manifest === undefined || final.manifest.state === "succeeded")) return;
  const quoted = options.quotedLines ?? 15;
  // One annotation per failed platform, quoting its failing step's last lines:
  // annotations are what the run's page shows first, each under its own title,
  // and on the Dockerfile line the build stopped at when the builder said.
  for (const platform of failed) {
    const lines = lastLines(platform.platform, platform.failedStep?.name).filter((l) => l.trim() !== "").slice(-quoted);
    const quote = lines.length > 0 ? `\n${lines.map((l) => `  | ${l}`).join("\n")}` : "";
    const line = locator.lineOf(platform.platform, platform.failedStep?.name);
    const where = line !== undefined && inputs.dockerfileInWorkspace !== undefined ? { file: inputs.dockerfileInWorkspace, startLine: line } : {};
    core.error(`${platform.platform} ${platform.state}${platform.message ? `: ${platform.message}` : ""}${quote}`, { title: `dockhand: ${platform.platform} ${platform.state}`, ...where });
  }
  // With a failed platform the index is not pushed either; that platform is the news.
  const indexFailed = failed.length === 0 && final.manifest !== undefined && final.manifest.state !== "succeeded";
  if (indexFailed) {
    core.error(`image index ${final.manifest?.state}${final.manifest?.message ? `: ${final.manifest.message}` : ""}`, { title: "dockhand: image index" });
  }
  const reasons = failed.map((p) => `${p.platform} ${p.state}${p.failedStep ? ` in step ${p.failedStep.name}${p.failedStep.exitCode !== undefined ? ` (exit code ${p.failedStep.exitCode})` : ""}` : p.message ? `: ${p.message}` : ""}`);
  if (indexFailed) reasons.push(`no image index pushed${final.manifest?.message ? ` (${final.manifest.message})` : ""}`);
  core.setFailed(`build ${final.id}: ${reasons.join("; ")}. The last lines are quoted above; full log: ${final.logsUrl}`);
}

async function cancelBuild(client: DispatcherClient, build: BuildStateBody, reason: StopReason, inputs: Inputs): Promise<void> {
  const why = reason.kind === "timeout" ? `timeout: the build did not finish within ${inputs.timeoutSeconds} s` : `the runner sent ${reason.signal}`;
  // A cancelled workflow's step has 7.5 s from SIGINT to SIGTERM: be done well before.
  const budget = AbortSignal.timeout(reason.kind === "signal" ? 5000 : 60_000);
  try {
    const cancelled = await client.cancelBuild(build.id, budget);
    saveSettled("cancelled");
    core.info(`cancelled build ${build.id} at the dispatcher`);
    if (cancelled) {
      setOutputs(stepOutputs(cancelled, inputs.tags, inputs.push));
      await writeSummary(summaryTable(cancelled, { note: `Cancelled: ${why}.` }));
    }
    core.setFailed(`${why}; build ${build.id} was cancelled at the dispatcher`);
  } catch (err) {
    core.setFailed(`${why}; cancelling build ${build.id} failed (${err instanceof Error ? err.message : String(err)}); the post step tries again`);
  }
}

function setOutputs(outputs: StepOutputs): void {
  for (const [name, value] of Object.entries(outputs)) core.setOutput(name, value);
}

function describeFailure(err: unknown): string {
  if (err instanceof InputError || err instanceof ContextError || err instanceof RunnerContextError || err instanceof DispatcherRequestError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
