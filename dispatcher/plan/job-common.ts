// What every build Job shares, whichever builder: identity (labels and
// annotations on the Job and its pod), the run-once policy and limits.

import type { V1Container, V1EnvVar, V1Job, V1ObjectMeta, V1PodSpec, V1ResourceRequirements, V1Volume } from "@kubernetes/client-node";
import type { Config } from "../config/schema.js";
import type { BuildPlan, PlatformPlan } from "./build-plan.js";
import { annotationKeys, labelKeys, managedByValue, repositoryHash } from "./names.js";

export function jobLabels(plan: BuildPlan, platformPlan: PlatformPlan): Record<string, string> {
  return {
    [labelKeys.managedBy]: managedByValue,
    [labelKeys.buildId]: plan.buildId,
    [labelKeys.platform]: platformPlan.platform.slug,
    [labelKeys.builder]: platformPlan.builder,
    [labelKeys.repositoryHash]: repositoryHash(plan.repository),
    [labelKeys.sha]: plan.sha,
    ...(plan.origin?.pullRequest !== undefined ? { [labelKeys.pullRequest]: String(plan.origin.pullRequest) } : {}),
    ...(plan.origin?.runId !== undefined ? { [labelKeys.runId]: plan.origin.runId } : {}),
    ...(plan.origin?.runAttempt !== undefined ? { [labelKeys.runAttempt]: plan.origin.runAttempt } : {}),
  };
}

export function jobAnnotations(plan: BuildPlan, platformPlan: PlatformPlan): Record<string, string> {
  const annotations: Record<string, string> = {
    [annotationKeys.repository]: plan.repository,
    [annotationKeys.sha]: plan.sha,
    [annotationKeys.ref]: plan.ref,
    [annotationKeys.platform]: platformPlan.platform.request,
    [annotationKeys.statusContext]: platformPlan.statusContext,
    [annotationKeys.targetUrl]: plan.targetUrl,
    [annotationKeys.builderReason]: platformPlan.reason,
    [annotationKeys.tags]: JSON.stringify(plan.tags),
    [annotationKeys.requestHash]: plan.requestHash,
  };
  const host = platformPlan.windowsHost;
  if (host?.isolation === "hyperv") {
    annotations[annotationKeys.hostWindowsVersion] = host.version;
    annotations[annotationKeys.isolation] = host.isolation;
  }
  const pushRef = platformPlan.pushRefs[0];
  if (plan.push && pushRef !== undefined) annotations[annotationKeys.pushRef] = pushRef;
  if (plan.idempotencyKey !== undefined) annotations[annotationKeys.idempotencyKey] = plan.idempotencyKey;
  if (plan.githubTokenSecret !== undefined) annotations[annotationKeys.githubTokenSecret] = plan.githubTokenSecret;
  if (plan.buildSecret !== undefined) annotations[annotationKeys.buildSecret] = plan.buildSecret;
  if (plan.index !== undefined) {
    annotations[annotationKeys.buildPlatforms] = JSON.stringify(plan.platforms.map((p) => p.platform.request));
    annotations[annotationKeys.indexTags] = JSON.stringify(plan.index.tags);
    annotations[annotationKeys.manifestStatusContext] = plan.index.statusContext;
  }
  if (plan.validatePlatform && plan.push && pushRef !== undefined) annotations[annotationKeys.validatePlatform] = "true";
  return annotations;
}

export function resources(config: Config): V1ResourceRequirements {
  return {
    requests: { ...config.limits.resources.requests } as Record<string, string>,
    limits: { ...config.limits.resources.limits } as Record<string, string>,
  };
}

/** Name of the volume holding registry credentials (config.registry.secretName). */
export const dockerConfigVolume = "docker-config";

/**
 * The registry credentials Secret as a volume with config.json, the file the
 * docker CLI and buildctl read from $DOCKER_CONFIG.
 */
export function dockerConfigVolumeFor(config: Config): V1Volume[] {
  const secretName = config.registry.secretName;
  if (secretName === undefined) return [];
  return [
    {
      name: dockerConfigVolume,
      secret: { secretName, items: [{ key: ".dockerconfigjson", path: "config.json" }] },
    },
  ];
}

export function dockerConfigEnv(config: Config, mountPath: string): V1EnvVar[] {
  return config.registry.secretName === undefined ? [] : [{ name: "DOCKER_CONFIG", value: mountPath }];
}

export interface JobParts {
  readonly nodeSelector: Record<string, string>;
  readonly tolerations: V1PodSpec["tolerations"];
  readonly os: "linux" | "windows";
  readonly initContainers: V1Container[];
  readonly containers: V1Container[];
  readonly volumes: V1Volume[];
  readonly securityContext?: V1PodSpec["securityContext"];
  /** Created suspended: something admits it later (the dockerd pool's per-node limit). */
  readonly suspend?: boolean;
}

export function buildJob(plan: BuildPlan, platformPlan: PlatformPlan, config: Config, parts: JobParts): V1Job {
  const metadata: V1ObjectMeta = {
    labels: jobLabels(plan, platformPlan),
    annotations: jobAnnotations(plan, platformPlan),
  };
  const podSpec: V1PodSpec = {
    // PodOS makes the API server reject fields the OS does not support.
    os: { name: parts.os },
    restartPolicy: "Never",
    // Build pods never talk to the API server; a token would only be a risk.
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    nodeSelector: parts.nodeSelector,
    ...(parts.tolerations && parts.tolerations.length > 0 ? { tolerations: parts.tolerations } : {}),
    ...(parts.securityContext ? { securityContext: parts.securityContext } : {}),
    ...(parts.initContainers.length > 0 ? { initContainers: parts.initContainers } : {}),
    containers: parts.containers,
    ...(parts.volumes.length > 0 ? { volumes: parts.volumes } : {}),
  };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: platformPlan.jobName, namespace: plan.namespace, ...structuredClone(metadata) },
    spec: {
      // A failed build is reported, not retried: a retry would push twice and
      // report a second status for the same commit.
      backoffLimit: 0,
      ...(parts.suspend ? { suspend: true } : {}),
      activeDeadlineSeconds: config.limits.activeDeadlineSeconds,
      ttlSecondsAfterFinished: config.limits.ttlSecondsAfterFinished,
      template: { metadata, spec: podSpec },
    },
  };
}

/** Container fields every build step shares. */
export function stepContainer(
  name: string,
  image: string,
  command: string[],
  config: Config,
  extra: Pick<V1Container, "env" | "volumeMounts" | "securityContext">,
): V1Container {
  return {
    name,
    image,
    command,
    // The reconciler reads results from termination messages; when a step
    // fails before writing one, the log tail explains why.
    terminationMessagePolicy: "FallbackToLogsOnError",
    resources: resources(config),
    ...extra,
  };
}

export function tolerationsFrom(config: Config["buildkit"]["tolerations"]): V1PodSpec["tolerations"] {
  return config.map((toleration) => ({ ...toleration }));
}
