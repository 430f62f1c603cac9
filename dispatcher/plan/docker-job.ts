// A Windows build on the dockerd pool: the pod mounts the node's Docker
// named pipe and runs plain docker CLI commands — no shell, cmd or PowerShell,
// so nothing in the request is ever interpreted as a command line.

import type { V1Container, V1EnvVar, V1Job, V1VolumeMount } from "@kubernetes/client-node";
import type { Config } from "../config/schema.js";
import type { BuildPlan, PlatformPlan } from "./build-plan.js";
import { buildJob, dockerConfigEnv, dockerConfigVolume, dockerConfigVolumeFor, stepContainer, tolerationsFrom } from "./job-common.js";
import { containerNames } from "./names.js";

// A Windows hostPath can be a named pipe
// (https://kubernetes.io/docs/concepts/storage/volumes/#hostpath — "Windows named pipes").
export const dockerPipePath = "\\\\.\\pipe\\docker_engine";
export const dockerHost = "npipe:////./pipe/docker_engine";
export const windowsDockerConfigPath = "C:\\dockhand\\docker-config";
export const windowsBuildLabel = "node.kubernetes.io/windows-build";

export function dockerJob(plan: BuildPlan, platformPlan: PlatformPlan, config: Config): V1Job {
  const platform = platformPlan.platform;
  if (platform.os !== "windows") throw new Error(`dockerJob: ${platform.request} is not a Windows platform`);

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
  const image = config.dockerPool.images[platform.windowsVersion];
  const step = (name: string, command: string[]): V1Container =>
    stepContainer(name, image, command, config, { env, volumeMounts, securityContext });

  const build = step(containerNames.build, dockerBuildCommand(plan, platformPlan));
  const pushes = plan.push
    ? platformPlan.pushRefs.map((ref, index) => step(containerNames.push(index), ["docker", "push", ref]))
    : [];

  return buildJob(plan, platformPlan, config, {
    os: "windows",
    nodeSelector: {
      ...config.dockerPool.nodeSelector,
      "kubernetes.io/os": "windows",
      [windowsBuildLabel]: platform.windowsBuild,
    },
    tolerations: tolerationsFrom(config.dockerPool.tolerations),
    // Pushes start only after the build succeeded: the build is an init
    // container, each push a container (in parallel, one per tag).
    initContainers: pushes.length > 0 ? [build] : [],
    containers: pushes.length > 0 ? pushes : [build],
    volumes: [{ name: "docker-engine", hostPath: { path: dockerPipePath } }, ...dockerConfigVolumeFor(config)],
  });
}

/**
 * `docker build` arguments. Flags use the `--flag=value` form so no value (a
 * tag, a build arg) can ever be read as another flag.
 */
export function dockerBuildCommand(plan: BuildPlan, platformPlan: PlatformPlan): string[] {
  return [
    "docker",
    "build",
    // The pool's dockerd lives on for months: a failed step's container must
    // not stay behind on the host's disk (the default keeps it).
    "--force-rm",
    `--file=${plan.file}`,
    ...platformPlan.pushRefs.map((ref) => `--tag=${ref}`),
    ...(plan.target === undefined ? [] : [`--target=${plan.target}`]),
    ...Object.entries(platformPlan.buildArgs).map(([name, value]) => `--build-arg=${name}=${value}`),
    ...Object.entries(plan.labels).map(([key, value]) => `--label=${key}=${value}`),
    plan.contextUrl,
  ];
}
