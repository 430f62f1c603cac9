// Which nodes run a Windows version's dockerd builds, and with which
// isolation. Pure.
//
// A process-isolated Windows container shares the host's kernel, so it only
// starts on a host of its own build; each version then needs its own pool.
// Hyper-V isolation runs each container in a utility VM of the image's own
// build, so a newer host runs older images
// (https://learn.microsoft.com/virtualization/windowscontainers/deploy-containers/version-compatibility).
// `dockerPool.pools.<version>.isolation: hyperv` uses that: the version's
// builds go to a newer version's pool, to nodes labelled Hyper-V capable,
// and `docker build --isolation=hyperv` builds the image of the requested
// version there. The image's os.version stays the requested build: it is the
// base image's, whatever the host.

import type { Config } from "../config/schema.js";
import { type WindowsVersion, windowsBuildLabel, windowsBuilds, windowsVersions } from "../protocol/platforms.js";
import { hypervNodeLabel } from "./names.js";

export type Isolation = "process" | "hyperv";

export interface WindowsHost {
  /** The version of the nodes the build runs on (and of their dockerd, and of the CLI image the pod runs). */
  readonly version: WindowsVersion;
  readonly isolation: Isolation;
  /** The Job's full nodeSelector: the pool's labels, kubernetes.io/os, the host's windows-build and, for hyperv, the Hyper-V label. */
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: NonNullable<Config["dockerPool"]["pools"]["ltsc2022"]>["tolerations"];
}

/**
 * Where `version`'s dockerd builds run; undefined when the version has no
 * pool, or is `hyperv` without a newer process pool (config validation
 * refuses that, see hypervHostProblem).
 */
export function windowsHostFor(config: Config, version: WindowsVersion): WindowsHost | undefined {
  const pool = config.dockerPool.pools[version];
  if (pool === undefined) return undefined;
  if (pool.isolation !== "hyperv") {
    return {
      version,
      isolation: "process",
      nodeSelector: { ...pool.nodeSelector, "kubernetes.io/os": "windows", [windowsBuildLabel]: windowsBuilds[version] },
      tolerations: pool.tolerations,
    };
  }
  const hostVersion = hypervHostVersion(config, version);
  if (hostVersion === undefined) return undefined;
  const host = config.dockerPool.pools[hostVersion]!;
  return {
    version: hostVersion,
    isolation: "hyperv",
    nodeSelector: {
      ...host.nodeSelector,
      ...pool.nodeSelector,
      "kubernetes.io/os": "windows",
      [windowsBuildLabel]: windowsBuilds[hostVersion],
      [hypervNodeLabel]: "true",
    },
    tolerations: uniqueTolerations([...host.tolerations, ...pool.tolerations]),
  };
}

/** The newer version whose process pool hosts a hyperv version: hostVersion, or the nearest newer one configured. */
export function hypervHostVersion(config: Config, version: WindowsVersion): WindowsVersion | undefined {
  const pool = config.dockerPool.pools[version];
  const newer = windowsVersions.slice(windowsVersions.indexOf(version) + 1);
  const candidates = pool?.hostVersion !== undefined ? [pool.hostVersion] : newer;
  return candidates.find((candidate) => newer.includes(candidate) && config.dockerPool.pools[candidate] !== undefined && config.dockerPool.pools[candidate]!.isolation !== "hyperv");
}

/** Why a hyperv pool has no host (config validation), or undefined. */
export function hypervHostProblem(config: Config, version: WindowsVersion): { key: string; message: string } | undefined {
  const pool = config.dockerPool.pools[version];
  if (pool?.isolation !== "hyperv") return undefined;
  const newer = windowsVersions.slice(windowsVersions.indexOf(version) + 1);
  const key = `dockerPool.pools.${version}`;
  if (pool.hostVersion !== undefined && !newer.includes(pool.hostVersion)) {
    return {
      key: `${key}.hostVersion`,
      message: `is ${pool.hostVersion}, which is not newer than ${version}: Hyper-V isolation runs older images on newer hosts only; name one of ${newer.join(", ") || "(none)"}`,
    };
  }
  if (hypervHostVersion(config, version) !== undefined) return undefined;
  if (newer.length === 0) {
    return { key: `${key}.isolation`, message: `is hyperv, but no Windows version is newer than ${version} to host it; use isolation: process` };
  }
  const wanted = pool.hostVersion !== undefined ? [pool.hostVersion] : newer;
  return {
    key: `${key}.isolation`,
    message: `is hyperv, so ${version} builds run on a newer pool, and ${wanted.map((v) => `dockerPool.pools.${v}`).join(" or ")} with isolation process is not configured: add it (nodes labelled ${hypervNodeLabel}=true), or use isolation: process with ${version} nodes`,
  };
}

/** "ltsc2019 on an ltsc2022 node, Hyper-V isolation": the part of a status that says why the build runs where it does. */
export function hostChoiceText(requested: WindowsVersion, host: WindowsHost): string | undefined {
  return host.isolation === "hyperv" ? `${requested} on an ${host.version} node, Hyper-V isolation` : undefined;
}

function uniqueTolerations<T>(tolerations: readonly T[]): T[] {
  const seen = new Set<string>();
  return tolerations.filter((toleration) => {
    const key = JSON.stringify(toleration);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
