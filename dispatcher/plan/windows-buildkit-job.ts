// A Windows build with BuildKit on the Windows nodes (builder
// buildkit-windows): the pod mounts the named pipe of the node's buildkitd
// (the buildkitd-windows DaemonSet, a HostProcess buildkitd over the node's
// own containerd) and runs one buildctl command, no shell, as the dockerd
// pool's pods run the docker CLI. buildctl writes its result metadata to the
// termination message, as on the Linux pool.

import type { V1EnvVar, V1Job, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import type { Config } from "../config/schema.js";
import type { BuildPlan, PlatformPlan } from "./build-plan.js";
import { buildctlCommand } from "./buildkit-job.js";
import { windowsDockerConfigPath } from "./docker-job.js";
import { buildJob, dockerConfigEnv, dockerConfigVolume, dockerConfigVolumeFor, stepContainer, tolerationsFrom } from "./job-common.js";
import { containerNames } from "./names.js";
import { windowsHostFor } from "./windows-host.js";

// buildkitd.exe's default address on Windows, and what the DaemonSet passes it
// (deploy/components/buildkitd-windows-<version>).
export const buildkitdPipePath = "\\\\.\\pipe\\buildkitd";
export const buildkitdWindowsAddress = "npipe:////./pipe/buildkitd";
const windowsBuildSecretsPath = "C:\\dockhand\\build-secrets";

export function windowsBuildkitJob(plan: BuildPlan, platformPlan: PlatformPlan, config: Config): V1Job {
  const platform = platformPlan.platform;
  if (platform.os !== "windows") throw new Error(`windowsBuildkitJob: ${platform.request} is not a Windows platform`);
  const host = platformPlan.windowsHost ?? windowsHostFor(config, platform.windowsVersion);
  // Config validation keeps buildkitWindows.versions to process-isolated pools: the pod's image is of the build's own version.
  if (host === undefined || host.isolation !== "process") throw new Error(`windowsBuildkitJob: no process-isolated pool for ${platform.windowsVersion}`);

  const env: V1EnvVar[] = dockerConfigEnv(config, windowsDockerConfigPath);
  const volumeMounts: V1VolumeMount[] = [{ name: "buildkitd", mountPath: buildkitdPipePath }];
  const volumes: V1Volume[] = [{ name: "buildkitd", hostPath: { path: buildkitdPipePath } }, ...dockerConfigVolumeFor(config)];
  if (config.registry.secretName !== undefined) {
    volumeMounts.push({ name: dockerConfigVolume, mountPath: windowsDockerConfigPath, readOnly: true });
  }
  if (plan.buildSecret !== undefined) {
    volumes.push({ name: "build-secrets", secret: { secretName: plan.buildSecret } });
    volumeMounts.push({ name: "build-secrets", mountPath: windowsBuildSecretsPath, readOnly: true });
  }

  const build = stepContainer(
    containerNames.build,
    config.buildkitWindows.images[host.version],
    buildctlCommand(plan, platformPlan, config, { address: buildkitdWindowsAddress }),
    config,
    // The pipe's ACL admits Administrators (buildkitd's default on Windows, as dockerd's).
    { env, volumeMounts, securityContext: { windowsOptions: { runAsUserName: "ContainerAdministrator" } } },
  );
  // buildctl reads the secret files relative to its working directory (see buildkit-job.ts).
  const buildStep = plan.buildSecret === undefined ? build : { ...build, workingDir: windowsBuildSecretsPath };

  return buildJob(plan, platformPlan, config, {
    os: "windows",
    nodeSelector: { ...host.nodeSelector },
    tolerations: tolerationsFrom(host.tolerations),
    initContainers: [],
    containers: [buildStep],
    volumes,
    // The build runs in the node's buildkitd, which the scheduler does not
    // see: queued like a dockerd build, the reconciler admits it to one node
    // whose buildkitd is Ready and has a free build slot
    // (controller/dockerd-admission.ts).
    suspend: true,
  });
}
