// A build on the BuildKit pool: a Linux pod running one buildctl command
// against buildkitd, for Linux images and for Windows images without Windows
// RUN steps. buildctl writes its result metadata (containerimage.digest) to the
// termination message, where the reconciler reads it.

import type { V1EnvVar, V1Job, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import type { Config } from "../config/schema.js";
import type { BuildPlan, PlatformPlan } from "./build-plan.js";
import { parseImageReference, registryHost } from "../protocol/image-reference.js";
import { buildJob, dockerConfigEnv, dockerConfigVolume, dockerConfigVolumeFor, stepContainer, tolerationsFrom } from "./job-common.js";
import { containerNames } from "./names.js";
import { namedContextKey } from "./windows-base-entries.js";

export const linuxDockerConfigPath = "/dockhand/docker-config";
export const buildkitTlsPath = "/dockhand/buildkit-tls";
const buildkitTlsVolume = "buildkit-tls";

export function buildkitJob(plan: BuildPlan, platformPlan: PlatformPlan, config: Config): V1Job {
  const env: V1EnvVar[] = dockerConfigEnv(config, linuxDockerConfigPath);
  const volumeMounts: V1VolumeMount[] = [];
  const volumes: V1Volume[] = [...dockerConfigVolumeFor(config)];
  if (config.registry.secretName !== undefined) {
    volumeMounts.push({ name: dockerConfigVolume, mountPath: linuxDockerConfigPath, readOnly: true });
  }
  if (config.buildkit.tlsSecret !== undefined) {
    volumes.push({ name: buildkitTlsVolume, secret: { secretName: config.buildkit.tlsSecret } });
    volumeMounts.push({ name: buildkitTlsVolume, mountPath: buildkitTlsPath, readOnly: true });
  }

  const build = stepContainer(containerNames.build, config.buildkit.image, buildctlCommand(plan, platformPlan, config), config, {
    env,
    volumeMounts,
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
  });

  return buildJob(plan, platformPlan, config, {
    os: "linux",
    nodeSelector: { ...config.buildkit.nodeSelector, "kubernetes.io/os": "linux" },
    tolerations: tolerationsFrom(config.buildkit.tolerations),
    initContainers: [],
    containers: [build],
    volumes,
    securityContext: { seccompProfile: { type: "RuntimeDefault" } },
  });
}

/**
 * buildctl arguments. Flags use the `--flag=value` form so no value can be
 * read as another flag; the image names are one CSV field, quoted because it
 * holds commas.
 */
export function buildctlCommand(plan: BuildPlan, platformPlan: PlatformPlan, config: Config): string[] {
  const tls = config.buildkit.tlsSecret === undefined
    ? []
    : [
        `--tlscacert=${buildkitTlsPath}/ca.crt`,
        `--tlscert=${buildkitTlsPath}/tls.crt`,
        `--tlskey=${buildkitTlsPath}/tls.key`,
      ];
  const insecure = new Set(config.registry.insecureRegistries);
  const isInsecure = (reference: string) => {
    const parsed = parseImageReference(reference);
    return parsed.ok && insecure.has(registryHost(parsed.reference));
  };

  const refs = platformPlan.pushRefs;
  const output = refs.length === 0
    ? []
    : [
        `--output=type=image,"name=${refs.join(",")}",push=${String(plan.push)}` +
          (plan.push && refs.some(isInsecure) ? ",registry.insecure=true" : ""),
      ];
  const cacheRef = platformPlan.cacheRef;
  const cacheInsecure = cacheRef !== undefined && isInsecure(cacheRef) ? ",registry.insecure=true" : "";
  const cache = cacheRef === undefined
    ? []
    : [
        `--export-cache=type=registry,ref=${cacheRef},mode=max${cacheInsecure}`,
        `--import-cache=type=registry,ref=${cacheRef}${cacheInsecure}`,
      ];

  return [
    "buildctl",
    `--addr=${config.buildkit.address}`,
    ...tls,
    "build",
    "--progress=plain",
    "--frontend=dockerfile.v0",
    `--opt=context=${plan.contextUrl}`,
    `--opt=filename=${plan.file}`,
    `--opt=platform=${platformPlan.platform.ociPlatform}`,
    // A multi-version Windows base, pinned to this version's entry (windows-base-entries.ts).
    ...Object.entries(platformPlan.pinnedBases ?? {}).map(([image, entry]) => `--opt=context:${namedContextKey(image)}=docker-image://${entry}`),
    ...(plan.target === undefined ? [] : [`--opt=target=${plan.target}`]),
    ...Object.entries(platformPlan.buildArgs).map(([name, value]) => `--opt=build-arg:${name}=${value}`),
    ...Object.entries(plan.labels).map(([key, value]) => `--opt=label:${key}=${value}`),
    ...output,
    ...cache,
    "--metadata-file=/dev/termination-log",
  ];
}
