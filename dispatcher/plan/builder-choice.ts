// Which builder builds one platform, and why — or a RequestError saying what
// to change.
//
// - BuildKit (Linux buildkitd) can assemble Windows images (FROM, COPY, ENV…)
//   but cannot execute a Windows RUN.
// - dockerd on the Windows pool runs Windows RUN steps but only with the
//   classic builder: no Linux stages (no LCOW), no BuildKit-only syntax, and it
//   builds every stage up to the target, needed or not
//   (https://docs.docker.com/build/building/multi-stage/#differences-between-legacy-builder-and-buildkit).

import type { BuilderPreference } from "../protocol/request-rules.js";
import { RequestError, type RequestProblem } from "../protocol/errors.js";
import { type BuildKitOnlyFeature, type ResolvedStage, type StageResolution, stageLabel } from "./dockerfile-analysis.js";
import type { Platform } from "../protocol/platforms.js";

export type Builder = "docker" | "buildkit";

export interface BuilderChoice {
  readonly builder: Builder;
  /** ≤140 characters; shown in logs and as the commit status description. */
  readonly reason: string;
}

export const maxReasonLength = 140;

/** Status 422: the request is well-formed but this Dockerfile cannot be built that way. */
export function chooseBuilder(preference: BuilderPreference, platform: Platform, resolution: StageResolution): BuilderChoice {
  const reject = (problem: RequestProblem): never => {
    throw new RequestError(problem, 422);
  };

  if (platform.os === "linux") {
    if (preference === "docker") {
      reject({
        error: `builder: "docker" cannot build ${platform.request}: the dockerd pool runs Windows`,
        field: "builder",
        hint: 'use builder "auto" or "buildkit" for linux/amd64',
      });
    }
    return choice("buildkit", `${platform.request}: BuildKit`);
  }

  const stages = resolution.stages;
  const windowsRun = firstWindowsRun(resolution.needed.map((index) => stages[index] as ResolvedStage));
  const classicBuilt = resolution.builtByClassicBuilder.map((index) => stages[index] as ResolvedStage);
  const linuxStage = classicBuilt.find((stage) => stage.os === "linux");
  const buildKitOnly = classicBuilt.flatMap((stage) => stage.buildKitOnly)[0];

  if (preference === "buildkit") {
    if (windowsRun) {
      reject({
        error: `builder: "buildkit" cannot build ${platform.request}: windows stage ${stageLabel(windowsRun.stage)} has RUN (line ${windowsRun.line}), which BuildKit cannot run`,
        field: "builder",
        hint: 'use builder "docker" or "auto", or move the RUN into a --platform=$BUILDPLATFORM stage and COPY its output',
        line: windowsRun.line,
      });
    }
    return choice("buildkit", "no RUN in windows stages: BuildKit");
  }

  if (preference === "docker") {
    if (linuxStage) {
      reject({
        error: `builder: "docker" cannot build ${platform.request}: ${linuxStageText(linuxStage)}`,
        field: "builder",
        hint: 'use builder "auto" or "buildkit", or build the Linux stage as its own image and COPY --from=<that image>',
        line: linuxStage.line,
      });
    }
    if (buildKitOnly) {
      reject({
        error: `builder: "docker" cannot build ${platform.request}: ${buildKitOnlyText(buildKitOnly)}`,
        field: "builder",
        hint: `remove ${flagOf(buildKitOnly)} from the stages up to the target, or use builder "auto"`,
        line: buildKitOnly.line,
      });
    }
    return windowsRun
      ? choice("docker", `${windowsRunText(windowsRun)}: dockerd pool`)
      : choice("docker", "builder docker requested: dockerd pool");
  }

  if (windowsRun) {
    if (linuxStage) {
      reject({
        error: `file: ${windowsRunText(windowsRun)}, which needs the dockerd pool, but ${linuxStageText(linuxStage)}`,
        field: "file",
        hint: "build the Linux stage as its own image and COPY --from=<that image>, or replace the Windows RUN with files you COPY in",
        // The Linux stage: the first fix the hint offers is there.
        line: linuxStage.line,
      });
    }
    if (buildKitOnly) {
      reject({
        error: `file: ${windowsRunText(windowsRun)}, which needs the dockerd pool, but ${buildKitOnlyText(buildKitOnly)}`,
        field: "file",
        hint: `remove ${flagOf(buildKitOnly)}: the classic builder on Windows does not support it`,
        line: buildKitOnly.line,
      });
    }
    return choice("docker", `${windowsRunText(windowsRun)}: dockerd pool`);
  }
  return choice("buildkit", "no RUN in windows stages: BuildKit");
}

function windowsRunText(run: WindowsRun): string {
  return `windows stage ${stageLabel(run.stage)} has RUN (line ${run.line})`;
}

function linuxStageText(stage: ResolvedStage): string {
  return `stage ${stageLabel(stage)} (line ${stage.line}) runs on ${stage.platform}, and dockerd on Windows cannot run Linux stages`;
}

function buildKitOnlyText(feature: BuildKitOnlyFeature): string {
  return `${feature.feature} (line ${feature.line}) needs BuildKit, which dockerd on Windows does not have`;
}

/** `--mount` from `RUN --mount`, `heredocs` from `RUN <<heredoc`. */
function flagOf(feature: BuildKitOnlyFeature): string {
  return feature.feature.endsWith("<<heredoc") ? "the heredoc" : (feature.feature.split(" ")[1] as string);
}

interface WindowsRun {
  readonly stage: ResolvedStage;
  readonly line: number;
}

function firstWindowsRun(needed: readonly ResolvedStage[]): WindowsRun | undefined {
  for (const stage of needed) {
    const run = stage.os === "windows" ? stage.runs[0] : undefined;
    if (run) return { stage, line: run.line };
  }
  return undefined;
}

function choice(builder: Builder, reason: string): BuilderChoice {
  return { builder, reason: reason.length <= maxReasonLength ? reason : `${reason.slice(0, maxReasonLength - 1)}…` };
}
