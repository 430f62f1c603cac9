// Request + config + Dockerfile text → BuildPlan: for each platform, which
// builder, why, the Job name, what it pushes and which commit status it
// reports to. Pure: the caller computes the build ID and the signed context URL.

import { createHash } from "node:crypto";
import type { BuildRequest } from "../protocol/build-request.js";
import type { Config } from "../config/schema.js";
import { RequestError } from "../protocol/errors.js";
import { type Builder, chooseBuilder, maxReasonLength } from "./builder-choice.js";
import { hostChoiceText, type WindowsHost, windowsHostFor } from "./windows-host.js";
import { type ParsedDockerfile, parseDockerfile, resolveStages, type StageResolution } from "./dockerfile-analysis.js";
import { parseImageReference } from "../protocol/image-reference.js";
import { type BuildOrigin, buildSecretName, githubTokenSecretName, jobName, requestHash } from "./names.js";
import type { Annotation, CacheEntry, ProvenanceMode, SbomSetting } from "../protocol/build-options.js";
import { buildkitOnlyProblem } from "./buildkit-only-options.js";
import { type Platform, parsePlatform } from "../protocol/platforms.js";
import { pushRefsFor } from "../protocol/push-refs.js";
import { checkWindowsBaseTags, windowsBaseTagBuildArgs } from "./windows-base-tags.js";

/**
 * Build args dockhand fills per Windows platform.
 *
 * WINDOWS_VERSION (ltsc2019 | ltsc2022 | ltsc2025) names the version. MCR's
 * tags differ per family (Nano Server's 2019 tag is 1809), so NANOSERVER_TAG
 * and SERVERCORE_TAG carry the tag each family publishes for it: one
 * Dockerfile serves every version with `ARG NANOSERVER_TAG` +
 * `FROM mcr.microsoft.com/windows/nanoserver:${NANOSERVER_TAG}`
 * (plan/windows-base-tags.ts).
 *
 * DOCKHAND_BASE_IMAGE carries the request's `baseImages[<version>]` override.
 * A build arg is the only override both builders honour without rewriting the
 * user's Dockerfile, so the Dockerfile opts in with
 * `ARG DOCKHAND_BASE_IMAGE=<default>` before its first FROM and
 * `FROM ${DOCKHAND_BASE_IMAGE}`. An override for a Dockerfile that does not
 * declare it is rejected rather than silently ignored.
 */
export const windowsVersionArg = "WINDOWS_VERSION";
export const baseImageArg = "DOCKHAND_BASE_IMAGE";

export interface PlatformPlan {
  readonly platform: Platform;
  readonly builder: Builder;
  /** ≤140 characters. */
  readonly reason: string;
  readonly jobName: string;
  /** What this platform tags (and pushes when push is true); empty when there are no tags. */
  readonly pushRefs: readonly string[];
  /** `dockhand/windows-ltsc2022`, `dockhand/linux-amd64`. */
  readonly statusContext: string;
  /** The request's build args plus the per-platform ones. */
  readonly buildArgs: Readonly<Record<string, string>>;
  /** BuildKit registry cache reference, when configured and BuildKit builds this platform. */
  readonly cacheRef: string | undefined;
  /** The request's registry cache, BuildKit platforms only; with several platforms each ref's tag gets `-<slug>`, as pushed tags do. */
  readonly cacheFrom: readonly CacheEntry[];
  readonly cacheTo: readonly CacheEntry[];
  /** Images the needed Windows stages are FROM (after ARG substitution), for BuildKit platforms: their indexes are read to pin each to this version's entry. */
  readonly windowsBaseImages?: readonly string[];
  /** Platforms on the Windows nodes (dockerd or BuildKit there): the nodes it runs on and the isolation (a newer version's pool, Hyper-V isolated, when its pool is isolation hyperv). */
  readonly windowsHost?: WindowsHost;
  /** Set by the executor: base image → this version's entry (`repository@sha256:…`), passed to BuildKit as named contexts (windows-base-entries.ts). */
  readonly pinnedBases?: Readonly<Record<string, string>>;
}

export interface BuildPlan {
  readonly buildId: string;
  readonly namespace: string;
  readonly repository: string;
  readonly sha: string;
  readonly ref: string;
  readonly contextDigest: string;
  readonly contextUrl: string;
  readonly file: string;
  readonly target: string | undefined;
  /** The requested tags (full references). */
  readonly tags: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly push: boolean;
  readonly multiPlatform: boolean;
  readonly idempotencyKey: string | undefined;
  readonly requestHash: string;
  /** Always pull base images (docker build --pull, BuildKit image-resolve-mode=pull). */
  readonly pull: boolean;
  readonly noCache: boolean;
  /** Ids of the request's BuildKit secrets; their values never enter a plan (the executor gets them apart). */
  readonly secretIds: readonly string[];
  /** Name of the Secret the Kubernetes executor stores the secrets in, when there are any. */
  readonly buildSecret: string | undefined;
  readonly annotations: readonly Annotation[];
  readonly provenance: ProvenanceMode | undefined;
  readonly sbom: SbomSetting | undefined;
  /** Name of the Secret the executor creates for the request's GitHub token, if it sent one. */
  readonly githubTokenSecret: string | undefined;
  readonly targetUrl: string;
  readonly platforms: readonly PlatformPlan[];
  /**
   * The image index joining the platforms under each requested tag
   * (multi-platform builds that push tags), and its commit status context.
   */
  readonly index: { readonly tags: readonly string[]; readonly statusContext: string } | undefined;
  /** Whether each pushed image's os / os.version is checked (registry.validatePlatform). */
  readonly validatePlatform: boolean;
  /** Set by the API once the request is authorized: where the build came from (labels webhooks cancel by). */
  readonly origin?: BuildOrigin;
  /** The registry Secret the policy granted (null: none); undefined means registry.secretName. */
  readonly registrySecret?: string | null;
}

export interface PlanInput {
  readonly request: BuildRequest;
  readonly config: Config;
  readonly dockerfile: string;
  readonly buildId: string;
  /** Signed download URL of the context for this build (contexts/signed-url.ts). */
  readonly contextUrl: string;
  /** Where commit statuses link to; default `<publicUrl>/v1/builds/<buildId>`. */
  readonly targetUrl?: string;
}

/** Throws RequestError (422) when the Dockerfile cannot be built as requested. */
export function planBuild(input: PlanInput): BuildPlan {
  const { request, config, buildId } = input;
  const parsed = parseDockerfile(input.dockerfile);
  checkBaseImageOverride(request, parsed);

  const multiPlatform = request.platforms.length > 1;
  const tagReferences = request.tags.map((tag) => {
    const parsedTag = parseImageReference(tag);
    if (!parsedTag.ok) throw new Error(`planBuild got an unvalidated tag ${tag}: ${parsedTag.problem}`);
    return parsedTag.reference;
  });
  const statusPrefix = request.statusContext ?? config.statusContextPrefix;

  const platforms = request.platforms.map((platformString, index): PlatformPlan => {
    const platform = parsePlatform(platformString, `platforms[${index}]`);
    const buildArgs = platformBuildArgs(request, platform);
    const resolution = resolveStages(parsed, { platform, buildArgs, target: request.target });
    if (platform.os === "windows") checkWindowsBaseTags(resolution, platform.windowsVersion, "file");
    const windowsPool = { buildkit: platform.os === "windows" && config.buildkitWindows.versions.includes(platform.windowsVersion) };
    const chosen = chooseBuilder(request.builder, platform, resolution, windowsPool);
    const builder = chosen.builder;
    // Both builders on the Windows nodes; BuildKit there always on the version's own nodes (config validation).
    const onWindowsPool = builder === "docker" || builder === "buildkit-windows";
    const usesBuildKit = builder !== "docker";
    const windowsHost = onWindowsPool && platform.os === "windows" ? windowsHostFor(config, platform.windowsVersion) : undefined;
    const hostText = windowsHost && platform.os === "windows" ? hostChoiceText(platform.windowsVersion, windowsHost) : undefined;
    const reason = hostText === undefined ? chosen.reason : joinReason(chosen.reason, hostText);
    if (builder === "docker") {
      const problem = buildkitOnlyProblem(request, index, platform.request, reason);
      if (problem) throw new RequestError(problem, 422);
    }
    const perPlatform = (entries: readonly CacheEntry[]) =>
      !usesBuildKit ? [] : entries.map((entry) => (multiPlatform ? { ...entry, ref: perPlatformCacheRef(entry.ref, platform) } : entry));
    return {
      platform,
      builder,
      reason,
      jobName: jobName(buildId, platform.slug),
      pushRefs: pushRefsFor(tagReferences, platform.slug, multiPlatform),
      statusContext: `${statusPrefix}/${statusContextSuffix(platform)}`,
      buildArgs,
      cacheRef: usesBuildKit ? cacheRef(config, request, platform) : undefined,
      cacheFrom: perPlatform(request.cacheFrom),
      cacheTo: perPlatform(request.cacheTo),
      ...(usesBuildKit && platform.os === "windows" ? { windowsBaseImages: windowsBasesOf(resolution) } : {}),
      ...(windowsHost ? { windowsHost } : {}),
    };
  });

  return {
    buildId,
    namespace: config.kubernetes.namespace,
    repository: request.repository,
    sha: request.sha,
    ref: request.ref,
    contextDigest: request.context,
    contextUrl: input.contextUrl,
    file: request.file,
    target: request.target,
    tags: request.tags,
    labels: request.labels,
    push: request.push,
    multiPlatform,
    idempotencyKey: request.idempotencyKey,
    requestHash: requestHash(request),
    pull: request.pull,
    noCache: request.noCache,
    secretIds: Object.keys(request.secrets),
    buildSecret: Object.keys(request.secrets).length > 0 ? buildSecretName(buildId) : undefined,
    annotations: request.annotations,
    provenance: request.provenance,
    sbom: request.sbom,
    githubTokenSecret: request.githubToken === undefined ? undefined : githubTokenSecretName(buildId),
    targetUrl: input.targetUrl ?? `${config.publicUrl}/v1/builds/${buildId}`,
    platforms,
    index:
      multiPlatform && request.push && request.tags.length > 0
        ? { tags: request.tags, statusContext: `${statusPrefix}/manifest` }
        : undefined,
    validatePlatform: config.registry.validatePlatform && request.push && request.tags.length > 0,
  };
}

/**
 * "<builder reason>; <where it runs>" within the status description's 140
 * characters: the builder reason gives way, since where a build runs (another
 * version's node) is what a reader would not guess.
 */
function joinReason(builderReason: string, hostText: string): string {
  const room = maxReasonLength - hostText.length - 2;
  const head = builderReason.length <= room ? builderReason : `${builderReason.slice(0, Math.max(0, room - 1))}…`;
  return `${head}; ${hostText}`;
}

/** `ghcr.io/o/app:cache` → `ghcr.io/o/app:cache-linux-amd64`: each platform is its own build, and two writing one ref would overwrite each other's cache. */
function perPlatformCacheRef(ref: string, platform: Platform): string {
  const parsed = parseImageReference(ref);
  if (!parsed.ok) throw new Error(`planBuild got an unvalidated cache ref ${ref}: ${parsed.problem}`);
  // A cache pinned by digest (cache-from only) names one manifest: read as it is.
  if (parsed.reference.digest !== undefined) return ref;
  return pushRefsFor([{ ...parsed.reference, digest: undefined }], platform.slug, true)[0]!;
}

function windowsBasesOf(resolution: StageResolution): string[] {
  const images = resolution.needed
    .map((index) => resolution.stages[index]!)
    .filter((stage) => stage.os === "windows" && !stage.onBuildHost && stage.resolvedImage !== undefined && stage.resolvedImage !== "scratch")
    .map((stage) => stage.resolvedImage!);
  return [...new Set(images)];
}

function platformBuildArgs(request: BuildRequest, platform: Platform): Record<string, string> {
  if (platform.os !== "windows") return { ...request.buildArgs };
  const baseImage = request.baseImages[platform.windowsVersion];
  return {
    ...request.buildArgs,
    [windowsVersionArg]: platform.windowsVersion,
    ...windowsBaseTagBuildArgs(platform.windowsVersion),
    ...(baseImage === undefined ? {} : { [baseImageArg]: baseImage }),
  };
}

function checkBaseImageOverride(request: BuildRequest, parsed: ParsedDockerfile): void {
  const versions = Object.keys(request.baseImages);
  if (versions.length === 0) return;
  if (parsed.globalArgs.some((arg) => arg.name === baseImageArg)) return;
  const field = `baseImages.${versions[0]}`;
  throw new RequestError(
    {
      error: `${field}: the Dockerfile does not declare ARG ${baseImageArg} before its first FROM, so the override would be ignored`,
      field,
      hint: `add "ARG ${baseImageArg}=<default image>" before the first FROM and use "FROM \${${baseImageArg}}"`,
    },
    422,
  );
}

function statusContextSuffix(platform: Platform): string {
  return platform.os === "windows" ? `windows-${platform.windowsVersion}` : "linux-amd64";
}

// One cache tag per (repository, Dockerfile, target, platform): mode=max
// exports every stage, so two Dockerfiles sharing a tag would evict each
// other's cache on every build.
function cacheRef(config: Config, request: BuildRequest, platform: Platform): string | undefined {
  const repository = config.buildkit.cacheRepository;
  if (repository === undefined) return undefined;
  const key = createHash("sha256")
    .update(`${request.repository.toLowerCase()}\n${request.file}\n${request.target ?? ""}`)
    .digest("hex")
    .slice(0, 16);
  return `${repository}:${key}-${platform.slug}`;
}
