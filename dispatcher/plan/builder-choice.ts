// Which builder builds one platform, and why — or a RequestError saying what
// to change.
//
// - BuildKit (Linux buildkitd) can assemble Windows images (FROM, COPY, ENV…)
//   but cannot execute a Windows RUN.
// - dockerd on the Windows pool runs Windows RUN steps but only with the
//   classic builder: no Linux stages (no LCOW), no BuildKit-only syntax, and it
//   builds every stage up to the target, needed or not
//   (https://docs.docker.com/build/building/multi-stage/#differences-between-legacy-builder-and-buildkit).
// - BuildKit on the Windows nodes (buildkitWindows.versions) runs Windows RUN
//   with BuildKit's features and builds only the stages the target needs;
//   like dockerd there, it cannot run a Linux stage's RUN. Where the operator
//   enabled it for a version, "auto" prefers it to dockerd.

import type { Builder, BuilderPreference } from "../protocol/request-rules.js";
import { RequestError, type RequestProblem } from "../protocol/errors.js";
import { type BuildKitOnlyFeature, type ResolvedStage, type StageResolution, stageLabel } from "./dockerfile-analysis.js";
import type { Platform } from "../protocol/platforms.js";

export type { Builder };

/** What the cluster offers a Windows version besides Linux BuildKit. */
export interface WindowsPoolOffer {
  /** BuildKit runs on this version's nodes (buildkitWindows.versions). */
  readonly buildkit: boolean;
}

export interface BuilderChoice {
  readonly builder: Builder;
  /** ≤140 characters; shown in logs and as the commit status description. */
  readonly reason: string;
}

export const maxReasonLength = 140;

/** Status 422: the request is well-formed but this Dockerfile cannot be built that way. */
export function chooseBuilder(
  preference: BuilderPreference,
  platform: Platform,
  resolution: StageResolution,
  windowsPool: WindowsPoolOffer = { buildkit: false },
): BuilderChoice {
  const reject = (problem: RequestProblem): never => {
    throw new RequestError(problem, 422);
  };

  if (platform.os === "linux") {
    if (preference === "docker" || preference === "buildkit-windows") {
      reject({
        error: `builder: "${preference}" cannot build ${platform.request}: ${preference === "docker" ? "the dockerd pool" : "BuildKit on the Windows pool"} runs Windows`,
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
  // BuildKit builds only the stages the target needs; one of them running a Linux RUN cannot run on a Windows node.
  const neededLinuxRun = resolution.needed.map((index) => stages[index] as ResolvedStage).find((stage) => stage.os === "linux" && stage.runs.length > 0);

  if (preference === "buildkit-windows") {
    if (!windowsPool.buildkit) {
      reject({
        error: `builder: "buildkit-windows" cannot build ${platform.request}: this cluster runs no BuildKit on its ${platform.windowsVersion} nodes`,
        field: "builder",
        hint: `use builder "auto" or "docker", or ask the operator to list ${platform.windowsVersion} in buildkitWindows.versions (a pool with process isolation)`,
      });
    }
    if (neededLinuxRun) {
      reject({
        error: `builder: "buildkit-windows" cannot build ${platform.request}: ${linuxRunText(neededLinuxRun)}`,
        field: "builder",
        hint: 'use builder "auto" or "buildkit" (BuildKit on Linux builds the Linux stage, if the Windows stages have no RUN), or build the Linux stage as its own image and COPY --from=<that image>',
        line: neededLinuxRun.runs[0]!.line,
      });
    }
    return windowsRun
      ? choice("buildkit-windows", `${windowsRunText(windowsRun)}: BuildKit on the Windows pool`)
      : choice("buildkit-windows", "builder buildkit-windows requested: BuildKit on the Windows pool");
  }

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

  if (windowsRun && windowsPool.buildkit) {
    if (neededLinuxRun) {
      reject({
        error: `file: ${windowsRunText(windowsRun)}, which needs the Windows pool, but ${linuxRunText(neededLinuxRun)}`,
        field: "file",
        hint: "build the Linux stage as its own image and COPY --from=<that image>, or replace the Windows RUN with files you COPY in",
        line: neededLinuxRun.runs[0]!.line,
      });
    }
    return choice("buildkit-windows", `${windowsRunText(windowsRun)}: BuildKit on the Windows pool`);
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

function linuxRunText(stage: ResolvedStage): string {
  return `stage ${stageLabel(stage)} runs on ${stage.platform} and has RUN (line ${stage.runs[0]!.line}), which a Windows node cannot run`;
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
