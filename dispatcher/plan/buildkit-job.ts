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
import { type Annotation, formatCacheEntry } from "../protocol/build-options.js";

export const linuxDockerConfigPath = "/dockhand/docker-config";
export const buildkitTlsPath = "/dockhand/buildkit-tls";
const buildkitTlsVolume = "buildkit-tls";
/** The build's Secret, one file per secret id; buildctl reads each with --secret=id=<id>,src=<file>. */
export const buildSecretsPath = "/dockhand/build-secrets";
const buildSecretsVolume = "build-secrets";

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

  if (plan.buildSecret !== undefined) {
    // Files readable by the container's user only; the Job names the Secret, never a value.
    volumes.push({ name: buildSecretsVolume, secret: { secretName: plan.buildSecret, defaultMode: 0o400 } });
    volumeMounts.push({ name: buildSecretsVolume, mountPath: buildSecretsPath, readOnly: true });
  }

  const build = stepContainer(containerNames.build, config.buildkit.image, buildctlCommand(plan, platformPlan, config, linuxPoolEndpoint(config)), config, {
    env,
    volumeMounts,
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
  });
  // buildctl reads the secret files by paths relative to its working directory,
  // the mounted Secret: a `src=` inside `--secret=id=…,src=…` is no path a
  // tool rewriting mount paths in argv (the test bed's node agent) can see.
  const buildStep = plan.buildSecret === undefined ? build : { ...build, workingDir: buildSecretsPath };

  return buildJob(plan, platformPlan, config, {
    os: "linux",
    nodeSelector: { ...config.buildkit.nodeSelector, "kubernetes.io/os": "linux" },
    tolerations: tolerationsFrom(config.buildkit.tolerations),
    initContainers: [],
    containers: [buildStep],
    volumes,
    securityContext: { seccompProfile: { type: "RuntimeDefault" } },
  });
}

/** The buildkitd a buildctl command talks to, and the directory of its mTLS files (ca.crt, tls.crt, tls.key) when it needs them. */
export interface BuildkitEndpoint {
  readonly address: string;
  readonly tlsDir?: string;
}

/** The Linux BuildKit pool: buildkit.address, with the mTLS Secret mounted at buildkitTlsPath when configured. */
export function linuxPoolEndpoint(config: Config): BuildkitEndpoint {
  return { address: config.buildkit.address, ...(config.buildkit.tlsSecret === undefined ? {} : { tlsDir: buildkitTlsPath }) };
}

/**
 * buildctl arguments. Flags use the `--flag=value` form so no value can be
 * read as another flag; the image names are one CSV field, quoted because it
 * holds commas.
 */
export function buildctlCommand(
  plan: BuildPlan,
  platformPlan: PlatformPlan,
  config: Config,
  endpoint: BuildkitEndpoint,
  /** Where the secret files are: relative to the working directory in a Job; the local executor's temporary directory. */
  secretsDir = ".",
): string[] {
  const tls = endpoint.tlsDir === undefined
    ? []
    : [
        `--tlscacert=${endpoint.tlsDir}/ca.crt`,
        `--tlscert=${endpoint.tlsDir}/tls.crt`,
        `--tlskey=${endpoint.tlsDir}/tls.key`,
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
          (plan.push && refs.some(isInsecure) ? ",registry.insecure=true" : "") +
          plan.annotations.map((annotation) => `,${csvField(annotationAttribute(annotation))}`).join(""),
      ];
  const cacheRef = platformPlan.cacheRef;
  const cacheInsecure = cacheRef !== undefined && isInsecure(cacheRef) ? ",registry.insecure=true" : "";
  const cache = cacheRef === undefined
    ? []
    : [
        `--export-cache=type=registry,ref=${cacheRef},mode=max${cacheInsecure}`,
        `--import-cache=type=registry,ref=${cacheRef}${cacheInsecure}`,
      ];
  const insecureAttr = (ref: string): Record<string, string> => (isInsecure(ref) ? { "registry.insecure": "true" } : {});
  const requestedCache = [
    ...platformPlan.cacheTo.map((entry) => `--export-cache=${formatCacheEntry(entry, insecureAttr(entry.ref))}`),
    ...platformPlan.cacheFrom.map((entry) => `--import-cache=${formatCacheEntry(entry, insecureAttr(entry.ref))}`),
  ];
  const attestations = [
    ...(plan.provenance === undefined ? [] : [`--opt=attest:provenance=mode=${plan.provenance}`]),
    ...(plan.sbom === undefined ? [] : [`--opt=attest:sbom=${plan.sbom.generator === undefined ? "" : `generator=${plan.sbom.generator}`}`]),
  ];

  return [
    "buildctl",
    `--addr=${endpoint.address}`,
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
    // Always resolve FROM images at the registry, not from buildkitd's store.
    ...(plan.pull ? ["--opt=image-resolve-mode=pull"] : []),
    ...attestations,
    ...output,
    ...(plan.noCache ? ["--no-cache"] : []),
    ...cache,
    ...requestedCache,
    ...plan.secretIds.map((id) => `--secret=id=${id},src=${secretsDir === "." ? `./${id}` : `${secretsDir}/${id}`}`),
    "--metadata-file=/dev/termination-log",
  ];
}

/** buildctl's image exporter attribute for an annotation: `annotation-manifest.<key>=<value>`. */
function annotationAttribute(annotation: Annotation): string {
  return `annotation-${annotation.level}.${annotation.key}=${annotation.value}`;
}

/** One field of buildctl's CSV --output value: quoted, quotes doubled, so a value's commas stay in it. */
function csvField(value: string): string {
  return `"${value.replaceAll('"', '""')}"`;
}
