// Pure: the probe Job that stands in for a build pod on each pool, and the
// verdict on what its pod did. It runs where a build would (the pool's
// selector and tolerations, the configured CLI image, the engine's pipe, the
// labels the build-pods NetworkPolicy selects) and does the two things every
// build does first: `docker version` against the node's dockerd (the build's
// preflight, plan/docker-engine-compat.ts) and fetching a signed context URL
// from publicUrl.

import type { V1Container, V1Job, V1Pod } from "@kubernetes/client-node";
import type { Config } from "../config/schema.js";
import { defaultCliImages, explainPreflightFailure, pinnedCliMajor, pinnedEngine, preflightCommand } from "../plan/docker-engine-compat.js";
import { dockerHost, dockerPipePath } from "../plan/docker-job.js";
import { stepContainer, tolerationsFrom } from "../plan/job-common.js";
import { labelKeys, managedByValue } from "../plan/names.js";
import type { WindowsVersion } from "../protocol/platforms.js";
import { type CheckResult, fail, ok } from "./check.js";
import { poolSelector } from "./pools.js";

export type ProbePool = { kind: "windows"; version: WindowsVersion } | { kind: "buildkit" };

export const probeLabel = { key: "app.kubernetes.io/name", value: "dockhand-doctor" } as const;
export const probeContainers = { engine: "engine", publicUrl: "public-url" } as const;

export function poolName(pool: ProbePool): string {
  return pool.kind === "windows" ? `pool ${pool.version}` : "buildkit pool";
}

/**
 * The URL fetch as a build pod's own tools can do it. Windows Server Core
 * images carry curl.exe (System32, since 1803) and cmd, never a shell; cmd
 * treats & as a command separator, so the URL is quoted. moby/buildkit is
 * Alpine: busybox wget, whose -S prints the status line even for a 404. The
 * URL is the doctor's own (publicUrl and a signature), nothing a user sent.
 */
export function fetchCommand(pool: ProbePool, url: string): string[] {
  if (pool.kind === "windows") return ["cmd", "/c", `curl --silent --show-error --max-time 20 --write-out "\\nHTTP %{http_code}\\n" "${url}"`];
  return ["wget", "-S", "-T", "20", "-O", "-", url];
}

export function probeJob(pool: ProbePool, config: Config, name: string, url: string, deadlineSeconds: number): V1Job {
  const podLabels = {
    // The build-pods NetworkPolicy selects on this: the probe gets the network a build gets.
    [labelKeys.managedBy]: managedByValue,
    [probeLabel.key]: probeLabel.value,
  };
  let containers: V1Container[];
  let spec: Partial<NonNullable<NonNullable<V1Job["spec"]>["template"]["spec"]>>;
  if (pool.kind === "windows") {
    const image = config.dockerPool.images[pool.version];
    const extra = {
      env: [{ name: "DOCKER_HOST", value: dockerHost }],
      volumeMounts: [{ name: "docker-engine", mountPath: dockerPipePath }],
      // As build pods: the pipe's ACL admits Administrators only.
      securityContext: { windowsOptions: { runAsUserName: "ContainerAdministrator" } },
    };
    containers = [
      stepContainer(probeContainers.engine, image, [...preflightCommand], config, extra),
      stepContainer(probeContainers.publicUrl, image, fetchCommand(pool, url), config, { securityContext: extra.securityContext }),
    ];
    spec = {
      os: { name: "windows" },
      nodeSelector: poolSelector(config, pool.version),
      tolerations: tolerationsFrom(config.dockerPool.pools[pool.version]?.tolerations ?? []),
      volumes: [{ name: "docker-engine", hostPath: { path: dockerPipePath } }],
    };
  } else {
    containers = [stepContainer(probeContainers.publicUrl, config.buildkit.image, fetchCommand(pool, url), config, {})];
    spec = {
      os: { name: "linux" },
      nodeSelector: { ...config.buildkit.nodeSelector, "kubernetes.io/os": "linux" },
      tolerations: tolerationsFrom(config.buildkit.tolerations),
    };
  }
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    // Not labelled managed-by on the Job itself: the dispatcher's informers
    // would take it for a build Job.
    metadata: { name, namespace: config.kubernetes.namespace, labels: { [probeLabel.key]: probeLabel.value } },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: deadlineSeconds,
      // The doctor deletes it; this collects it if the doctor was killed first.
      ttlSecondsAfterFinished: 300,
      template: {
        metadata: { labels: podLabels },
        spec: { restartPolicy: "Never", automountServiceAccountToken: false, enableServiceLinks: false, ...spec, containers },
      },
    },
  };
}

export interface ProbeFacts {
  readonly pool: ProbePool;
  readonly url: string;
  /** The probe's pod when it ended, or as it was when the time ran out. */
  readonly pod: V1Pod | undefined;
  /** Container name → its log (what the API server's log endpoint gives). */
  readonly logs: Readonly<Record<string, string>>;
  readonly timedOut: boolean;
  readonly seconds: number;
}

/**
 * Why the pod never ran its containers, or undefined when it did: the
 * scheduler's reason (taints, selector), an image that does not pull, or the
 * time running out.
 */
export function notRunReason(facts: ProbeFacts): { detail: string; fix: string } | undefined {
  const { pod, pool } = facts;
  const key = pool.kind === "windows" ? `dockerPool.pools.${pool.version}` : "buildkit";
  const scheduled = pod?.status?.conditions?.find((c) => c.type === "PodScheduled");
  if (pod === undefined) return { detail: `no probe pod appeared within ${facts.seconds} s`, fix: "kubectl describe job -l app.kubernetes.io/name=dockhand-doctor: is a quota or admission webhook refusing pods?" };
  if (scheduled?.status === "False") {
    return {
      detail: `the probe pod stayed unschedulable: ${scheduled.message ?? scheduled.reason}`,
      fix: /taint/i.test(scheduled.message ?? "")
        ? `add the taints' tolerations to ${key}.tolerations (see the pool's nodes row)`
        : `${key}.nodeSelector must select Ready nodes with room for a build pod`,
    };
  }
  for (const status of pod.status?.containerStatuses ?? []) {
    const waiting = status.state?.waiting;
    if (waiting && /ErrImagePull|ImagePullBackOff|InvalidImageName/.test(waiting.reason ?? "")) {
      const imageKey = pool.kind === "windows" ? `dockerPool.images.${pool.version}` : "buildkit.image";
      return {
        detail: `${status.image} does not pull on ${pod.spec?.nodeName}: ${waiting.reason}: ${(waiting.message ?? "").slice(0, 200)}`,
        fix: `set ${imageKey} to an image the nodes can pull${pool.kind === "windows" ? ` for this Windows release, e.g. ${defaultCliImages[pool.version]}` : ""}`,
      };
    }
  }
  if (facts.timedOut) {
    return {
      detail: `the probe pod did not finish within ${facts.seconds} s (phase ${pod.status?.phase ?? "?"} on ${pod.spec?.nodeName ?? "no node"})`,
      fix: "the first pull of a Windows Server Core image takes minutes: run the doctor again once it is pulled, or give it --probe-timeout",
    };
  }
  return undefined;
}

function terminated(pod: V1Pod | undefined, container: string) {
  return pod?.status?.containerStatuses?.find((status) => status.name === container)?.state?.terminated;
}

/** The refusal, not the client's JSON that `docker version --format={{json .}}` prints even when the daemon part fails. */
const refusal = (text: string) => lastLine(text.split("\n").filter((line) => !line.trimStart().startsWith("{")).join("\n") || text);

const lastLine = (text: string) => text.trim().split("\n").filter((line) => line.trim() !== "").at(-1) ?? "no output";

/** The rows a probe gives: CLI ↔ dockerd (Windows pools) and the public URL (every pool). */
export function evaluateProbe(facts: ProbeFacts, config: Config): CheckResult[] {
  const { pool } = facts;
  const name = poolName(pool);
  const rows: CheckResult[] = [];
  const notRun = notRunReason(facts);
  const node = facts.pod?.spec?.nodeName ?? "?";

  if (pool.kind === "windows") {
    const row = `${name}: CLI ↔ dockerd`;
    const image = config.dockerPool.images[pool.version];
    const engine = terminated(facts.pod, probeContainers.engine);
    const log = facts.logs[probeContainers.engine] ?? "";
    if (notRun && engine === undefined) rows.push(fail(row, notRun.detail, notRun.fix));
    else if (engine?.exitCode === 0) {
      rows.push(ok(row, `${image} on ${node}: ${versionsText(log)}`));
    } else {
      const configKey = `dockerPool.images.${pool.version}`;
      rows.push(
        fail(
          row,
          `docker version on ${node} failed (exit ${engine?.exitCode ?? "?"}): ${refusal(log || engine?.message || "")}`,
          `${explainPreflightFailure(log || engine?.message || "", { image, configKey, windowsVersion: pool.version })}; dockhand pins docker ${pinnedCliMajor} for Engine ${pinnedEngine.version} (${defaultCliImages[pool.version]})`,
        ),
      );
    }
  }

  const row = `${name}: public URL`;
  const fetched = terminated(facts.pod, probeContainers.publicUrl);
  const log = facts.logs[probeContainers.publicUrl] ?? "";
  if (notRun && fetched === undefined) {
    rows.push(fail(row, notRun.detail, notRun.fix));
    return rows;
  }
  const status = [...log.matchAll(/HTTP(?:\/[\d.]+)? (\d{3})/g)].at(-1)?.[1];
  const base = config.publicUrl;
  // The probe's build and context do not exist. The dispatcher checks the
  // signature first (a wrong one: 403 naming "sig"), then whether the build
  // runs (403 naming "build"), then the context (404): either of the last two
  // means it accepted the signature. busybox wget shows no body for a 4xx.
  const badSignature = /"field"\s*:\s*"sig"/.test(log);
  const accepted = status === "404" || status === "200" || (status === "403" && /"field"\s*:\s*"build"/.test(log));
  if (accepted && !badSignature) {
    rows.push(ok(row, `a build pod on ${node} reached ${base} and the dispatcher accepted the signed URL (HTTP ${status} for the probe's made-up build)`));
  } else if (badSignature) {
    rows.push(
      fail(
        row,
        `a build pod on ${node} reached ${base}, and it refused the doctor's signature (HTTP 403): ${lastLine(log.replace(/HTTP\S* 403\s*$/, ""))}`,
        "the doctor signs with its config's contexts.signingKey: run it with the dispatcher's own config and Secret (kubectl -n dockhand exec deploy/dockhand -- /nodejs/bin/node /app/doctor.mjs); if that is what ran, the replicas do not share one signing key",
      ),
    );
  } else if (status === "403" && pool.kind === "buildkit") {
    rows.push(ok(row, `a build pod on ${node} reached ${base} (HTTP 403 for the probe's made-up build; busybox wget shows no body, so the signature's verdict is read on the Windows pools)`));
  } else {
    rows.push(
      fail(
        row,
        `a build pod on ${node} could not fetch ${base}${status && status !== "000" ? ` (HTTP ${status})` : ""}: ${lastLine(log.replace(/\n?HTTP 000\s*$/, "")) }`,
        `set publicUrl (DOCKHAND_PUBLIC_URL) to an address pods reach, e.g. the Service's http://dockhand.${config.kubernetes.namespace}.svc.cluster.local:8080, and let the build-pods NetworkPolicy admit it; build pods download every context from there`,
      ),
    );
  }
  return rows;
}

function versionsText(log: string): string {
  for (const line of log.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const parsed = JSON.parse(line) as { Client?: { Version?: string; ApiVersion?: string }; Server?: { Version?: string; ApiVersion?: string } };
      return `CLI ${parsed.Client?.Version} (API ${parsed.Client?.ApiVersion}) ↔ dockerd ${parsed.Server?.Version} (API ${parsed.Server?.ApiVersion})`;
    } catch {
      // not the JSON line
    }
  }
  return "docker version succeeded";
}
