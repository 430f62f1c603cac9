// A Windows build on the dockerd pool: the pod mounts the node's Docker
// named pipe and runs plain docker CLI commands — no shell, cmd or PowerShell,
// so nothing in the request is ever interpreted as a command line.

import type { V1Container, V1EnvVar, V1Job, V1ResourceRequirements, V1VolumeMount } from "@kubernetes/client-node";
import type { Config } from "../config/schema.js";
import type { BuildPlan, PlatformPlan } from "./build-plan.js";
import { buildJob, dockerConfigEnv, dockerConfigVolume, dockerConfigVolumeFor, stepContainer, tolerationsFrom } from "./job-common.js";
import { containerNames } from "./names.js";
import { preflightCommand } from "./docker-engine-compat.js";
import { windowsVersions } from "../protocol/platforms.js";
import { windowsHostFor } from "./windows-host.js";
import type { RequestProblem } from "../protocol/errors.js";
import { quantityBytes } from "../config/quantity.js";

// A Windows hostPath can be a named pipe
// (https://kubernetes.io/docs/concepts/storage/volumes/#hostpath — "Windows named pipes").
export const dockerPipePath = "\\\\.\\pipe\\docker_engine";
export const dockerHost = "npipe:////./pipe/docker_engine";
export const windowsDockerConfigPath = "C:\\dockhand\\docker-config";

export function dockerJob(plan: BuildPlan, platformPlan: PlatformPlan, config: Config): V1Job {
  const platform = platformPlan.platform;
  if (platform.os !== "windows") throw new Error(`dockerJob: ${platform.request} is not a Windows platform`);
  const host = platformPlan.windowsHost ?? windowsHostFor(config, platform.windowsVersion);
  if (host === undefined) throw new Error(`dockerJob: no dockerd pool for ${platform.windowsVersion} (checked by missingDockerPool)`);

  const env: V1EnvVar[] = [
    { name: "DOCKER_HOST", value: dockerHost },
    // Windows dockerd only has the classic builder; say so instead of letting
    // a newer CLI try buildx first.
    { name: "DOCKER_BUILDKIT", value: "0" },
    ...dockerConfigEnv(config, windowsDockerConfigPath),
  ];
  const volumeMounts: V1VolumeMount[] = [
    { name: "docker-engine", mountPath: dockerPipePath },
    ...(config.registry.secretName === undefined
      ? []
      : [{ name: dockerConfigVolume, mountPath: windowsDockerConfigPath, readOnly: true }]),
  ];
  // The pipe's ACL admits Administrators only; docker CLI images may default to ContainerUser.
  const securityContext = { windowsOptions: { runAsUserName: "ContainerAdministrator" } };
  // The pod itself is process isolated (Kubernetes runs no Hyper-V pods), so
  // its CLI image is the host's version even when the build is another's.
  const image = config.dockerPool.images[host.version];
  const step = (name: string, command: string[]): V1Container =>
    stepContainer(name, image, command, config, { env, volumeMounts, securityContext });
  // The build runs in dockerd, outside the pod: its step requests what the
  // build uses, so the scheduler keeps that much of the node for it (an init
  // container's request holds for the pod's whole life).
  const build = step(containerNames.build, dockerBuildCommand(plan, platformPlan, [internalTag(plan, platformPlan)]));
  const buildStep = { ...build, resources: reserving(build.resources ?? {}, config.dockerPool.buildRequests) };

  // In order, each only after the one before succeeded: the version check
  // before the first docker call that matters, the build, then one push per
  // tag. What the build made stays in the node's dockerd, which the kubelet's
  // image GC never sees: the dockerd DaemonSets' node-gc container removes it
  // (deploy/images/dockerd-hostprocess/node-gc), also after a build that
  // failed or was cancelled, which no step of its own could clean up after.
  const pushes = plan.push ? platformPlan.pushRefs.map((ref, index) => step(containerNames.push(index), ["docker", "push", ref])) : [];
  const initContainers = [
    step(containerNames.preflight, [...preflightCommand]),
    buildStep,
    ...pushes,
  ];
  const last = [step(containerNames.untag, dockerUntagCommand(plan, platformPlan))];

  return buildJob(plan, platformPlan, config, {
    os: "windows",
    nodeSelector: { ...host.nodeSelector },
    tolerations: tolerationsFrom(host.tolerations),
    initContainers,
    containers: last,
    volumes: [{ name: "docker-engine", hostPath: { path: dockerPipePath } }, ...dockerConfigVolumeFor(config)],
    // Queued: the reconciler admits it to one node whose dockerd is Ready and
    // has a free build slot (controller/dockerd-admission.ts).
    suspend: true,
  });
}

/**
 * The problem with a plan whose Windows RUN platform has no dockerd pool on
 * this cluster (dockerPool.pools), or undefined: a 422 before anything is created.
 */
export function missingDockerPool(plan: BuildPlan, config: Config): RequestProblem | undefined {
  const index = plan.platforms.findIndex(
    (p) => p.builder === "docker" && p.platform.os === "windows" && windowsHostFor(config, p.platform.windowsVersion) === undefined,
  );
  if (index < 0) return undefined;
  const platformPlan = plan.platforms[index]!;
  const version = platformPlan.platform.os === "windows" ? platformPlan.platform.windowsVersion : "";
  const configured = windowsVersions.filter((v) => config.dockerPool.pools[v] !== undefined);
  return {
    error: `platforms[${index}]: ${platformPlan.platform.request} needs the dockerd pool (${platformPlan.reason}), and this cluster has no ${version} pool`,
    field: `platforms[${index}]`,
    hint:
      configured.length > 0
        ? `build ${configured.join(" or ")} instead, keep ${version}'s Windows stages COPY-only so BuildKit builds them, or ask the operator to add dockerPool.pools.${version}`
        : `keep Windows stages COPY-only so BuildKit builds them, or ask the operator to add dockerPool.pools.${version}`,
  };
}

/** Requests raised to `requests`, and each limit to at least its request (the API refuses a limit below the request). */
function reserving(resources: V1ResourceRequirements, requests: Readonly<Record<string, string | undefined>>): V1ResourceRequirements {
  const wanted = Object.fromEntries(Object.entries(requests).filter((entry): entry is [string, string] => entry[1] !== undefined));
  const limits = Object.fromEntries(
    Object.entries(resources.limits ?? {}).map(([name, limit]) => {
      const request = wanted[name];
      return [name, request !== undefined && quantityBytes(String(limit)) < quantityBytes(request) ? request : limit];
    }),
  );
  return { requests: { ...resources.requests, ...wanted }, limits };
}

/** Never pushed: a name for the build's image even when the request has no tags, so the cleanup step can remove it. */
export function internalTag(plan: BuildPlan, platformPlan: PlatformPlan): string {
  return `dockhand.invalid/build/${plan.buildId}:${platformPlan.platform.slug}`;
}

/**
 * Takes the pushed names off the node's copy of the image, so a later
 * `FROM <that name>` on this node pulls what the registry has now, not this
 * build's copy. The internal tag stays, and with it the image and its parents
 * (--no-prune): removing the last tag would delete an image that another
 * build on this engine may have just reached through the layer cache and not
 * yet tagged. dockhand-node-gc removes it once it is older than its --min-age.
 * Without pushed names, the step lists the image, so the log shows its size.
 */
export function dockerUntagCommand(plan: BuildPlan, platformPlan: PlatformPlan): string[] {
  return platformPlan.pushRefs.length > 0
    ? ["docker", "image", "rm", "--no-prune", ...platformPlan.pushRefs]
    : ["docker", "image", "ls", `--filter=reference=${internalTag(plan, platformPlan)}`];
}

/**
 * `docker build` arguments. Flags use the `--flag=value` form so no value (a
 * tag, a build arg) can ever be read as another flag.
 */
export function dockerBuildCommand(plan: BuildPlan, platformPlan: PlatformPlan, extraTags: readonly string[] = []): string[] {
  return [
    "docker",
    "build",
    // The pool's dockerd lives on for months: a failed step's container must
    // not stay behind on the host's disk (the default keeps it).
    "--force-rm",
    `--file=${plan.file}`,
    // The pool's dockerd keeps base images for months; Windows bases are patched monthly.
    ...(plan.pull ? ["--pull"] : []),
    ...(plan.noCache ? ["--no-cache"] : []),
    // Each RUN step's container in a utility VM of the image's build, so an
    // older image builds on a newer host (plan/windows-host.ts).
    ...(platformPlan.windowsHost?.isolation === "hyperv" ? ["--isolation=hyperv"] : []),
    ...[...extraTags, ...platformPlan.pushRefs].map((ref) => `--tag=${ref}`),
    ...(plan.target === undefined ? [] : [`--target=${plan.target}`]),
    ...Object.entries(platformPlan.buildArgs).map(([name, value]) => `--build-arg=${name}=${value}`),
    ...Object.entries(plan.labels).map(([key, value]) => `--label=${key}=${value}`),
    plan.contextUrl,
  ];
}
