// What the local executor runs for one platform: the same command lines the
// Kubernetes Jobs run (plan/docker-job.ts, plan/buildkit-job.ts), aimed at a
// Docker daemon and a BuildKit address on this host. Pure.

import type { Config } from "../config/schema.js";
import type { BuildPlan, PlatformPlan } from "../plan/build-plan.js";
import { buildctlCommand } from "../plan/buildkit-job.js";
import { dockerBuildCommand } from "../plan/docker-job.js";
import { containerNames } from "../plan/names.js";
import { truncateDescription } from "../model/status-description.js";
import { RequestError } from "../protocol/errors.js";

/** Where the Jobs' buildctl writes its metadata; the local executor writes a file instead. */
const jobMetadataFlag = "--metadata-file=/dev/termination-log";

export interface LocalStepPlan {
  /** The Job's container name: build, push-0, … */
  readonly name: string;
  readonly argv: readonly string[];
  /** Steps of one stage run in parallel once every earlier stage succeeded (build, then the pushes). */
  readonly stage: number;
}

export interface LocalPlatformSteps {
  readonly builder: "docker" | "buildkit";
  /** ≤140 characters: the plan's reason, or why the local executor builds it differently. */
  readonly reason: string;
  /** Which program the steps run, and so which environment they get. */
  readonly engine: "docker" | "buildctl";
  readonly steps: readonly LocalStepPlan[];
  /** buildctl's --metadata-file (containerimage.digest), when the engine is buildctl. */
  readonly metadataFile: string | undefined;
}

export interface LocalTarget {
  /** BuildKit address for BuildKit platforms; undefined: the Docker daemon builds them. */
  readonly buildkitAddress: string | undefined;
  /** Where buildctl writes its result metadata for this platform. */
  readonly metadataFile: string;
  /** The directory the build step's secret files are written to (the build's secret ids, each a 0600 file), when it has secrets. */
  readonly secretsDir?: string;
}

export function localPlatformSteps(plan: BuildPlan, platformPlan: PlatformPlan, config: Config, target: LocalTarget): LocalPlatformSteps {
  if (platformPlan.builder === "buildkit-windows") {
    throw new RequestError(
      {
        error: `builder: the local executor cannot build ${platformPlan.platform.request} with BuildKit on the Windows pool (${platformPlan.reason}): it has no Windows nodes, only this host's Docker daemon`,
        field: "builder",
        hint: 'use builder "docker" here, or drop buildkitWindows.versions from this dispatcher\'s config: it applies to the Kubernetes executor only',
      },
      422,
    );
  }
  if (platformPlan.builder === "buildkit" && target.buildkitAddress !== undefined) {
    return {
      builder: "buildkit",
      reason: platformPlan.reason,
      engine: "buildctl",
      steps: [{ name: containerNames.build, argv: localBuildctlCommand(plan, platformPlan, config, target), stage: 0 }],
      metadataFile: target.metadataFile,
    };
  }
  // Without a BuildKit address the daemon's own (classic) builder takes
  // BuildKit platforms: a developer running the dispatcher next to Docker
  // expects a Linux Dockerfile to build. BuildKit-only syntax (RUN --mount,
  // heredocs) then fails in the build log with Docker's own message.
  // BuildKit-only options are refused instead: built without its secret or
  // its attestations, an image would be wrong without a word.
  const buildkitOnly = buildkitOnlyOption(plan, platformPlan);
  if (buildkitOnly !== undefined) {
    throw new RequestError(
      {
        error: `${buildkitOnly}: the local executor builds ${platformPlan.platform.request} with the Docker daemon's classic builder (${platformPlan.builder === "docker" ? platformPlan.reason : "it has no BuildKit address"}), which cannot do it`,
        field: buildkitOnly,
        hint: platformPlan.builder === "docker" ? "build that platform with BuildKit (builder: buildkit), or leave the option out" : "set local.buildkitAddress in the dispatcher's config (a buildkitd this host reaches), or leave the option out",
      },
      422,
    );
  }
  const reason = platformPlan.builder === "docker"
    ? platformPlan.reason
    : truncateDescription(`Docker daemon: no BuildKit address for the local executor (planned: ${platformPlan.reason})`);
  return { builder: "docker", reason, engine: "docker", steps: dockerSteps(plan, platformPlan), metadataFile: undefined };
}

/** The first option only BuildKit has that the plan asks of this platform (the request field), if any. */
function buildkitOnlyOption(plan: BuildPlan, platformPlan: PlatformPlan): string | undefined {
  if (plan.secretIds.length > 0) return "secrets";
  if (plan.annotations.length > 0) return "annotations";
  if (plan.provenance !== undefined) return "provenance";
  if (plan.sbom !== undefined) return "sbom";
  if (platformPlan.cacheFrom.length > 0 || platformPlan.cacheTo.length > 0) return platformPlan.cacheFrom.length > 0 ? "cacheFrom" : "cacheTo";
  return undefined;
}

/** docker-job.ts's steps: the build, then one push per reference (in parallel, as the Job's containers run). */
function dockerSteps(plan: BuildPlan, platformPlan: PlatformPlan): LocalStepPlan[] {
  const build: LocalStepPlan = { name: containerNames.build, argv: dockerBuildCommand(plan, platformPlan), stage: 0 };
  const pushes = plan.push
    ? platformPlan.pushRefs.map((ref, index) => ({ name: containerNames.push(index), argv: ["docker", "push", ref], stage: 1 }))
    : [];
  return [build, ...pushes];
}

/**
 * buildkit-job.ts's buildctl command with the local address, no TLS (the
 * Jobs' client certificates are a Kubernetes Secret mounted into the pod) and
 * the metadata written to a file instead of the termination log.
 */
function localBuildctlCommand(plan: BuildPlan, platformPlan: PlatformPlan, config: Config, target: LocalTarget): string[] {
  const argv = buildctlCommand(plan, platformPlan, config, { address: target.buildkitAddress! }, target.secretsDir);
  const index = argv.indexOf(jobMetadataFlag);
  if (index < 0) throw new Error(`buildctlCommand no longer passes ${jobMetadataFlag}; update the local executor`);
  argv[index] = `--metadata-file=${target.metadataFile}`;
  return argv;
}

/** The environment variables a step may see: the dispatcher's own secrets stay out of build processes. */
const inheritedVariables = [
  "PATH",
  "HOME",
  "USER",
  "LANG",
  "TMPDIR",
  "XDG_RUNTIME_DIR",
  // Registry credentials and daemon TLS, as a developer set them up for the docker CLI.
  "DOCKER_CONFIG",
  "DOCKER_CERT_PATH",
  "DOCKER_TLS_VERIFY",
  // Windows: the docker CLI needs these to find its config and the named pipe.
  "SystemRoot",
  "USERPROFILE",
  "APPDATA",
  "LOCALAPPDATA",
  "PATHEXT",
  "ComSpec",
];

export function stepEnvironment(
  engine: LocalPlatformSteps["engine"],
  dockerHost: string,
  parent: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of inheritedVariables) {
    const value = parent[name];
    if (value !== undefined) env[name] = value;
  }
  if (engine === "docker") {
    env["DOCKER_HOST"] = dockerHost;
    // As in the Windows Jobs: the classic builder, not a buildx plugin the CLI may prefer.
    env["DOCKER_BUILDKIT"] = "0";
  }
  return env;
}

/** `docker push` prints `<tag>: digest: sha256:… size: N` once the manifest is up. */
export function digestFromPushOutput(text: string): string | undefined {
  return /digest: (sha256:[0-9a-f]{64}) size:/.exec(text)?.[1];
}

/** buildctl --metadata-file JSON: `containerimage.digest`. */
export function digestFromBuildctlMetadata(text: string): string | undefined {
  try {
    const digest = (JSON.parse(text) as Record<string, unknown>)["containerimage.digest"];
    return typeof digest === "string" && /^sha256:[0-9a-f]{64}$/.test(digest) ? digest : undefined;
  } catch {
    return undefined;
  }
}
