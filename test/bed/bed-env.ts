import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** What test/bed/up wrote: where each real component of the bed answers. */
export interface BedEnv {
  KUBECONFIG: string;
  DOCKER_HOST: string;
  REGISTRY: string;
  BUILDKIT_HOST: string;
  BED_DIR: string;
  BED_BIN: string;
  LINUX_BASE_IMAGE: string;
  /** Repository only; tags are MCR nanoserver's: 1809, ltsc2022, ltsc2025 (no ltsc2019). */
  WINDOWS_BASE_IMAGE: string;
  /** Repository only; tags are MCR servercore's: ltsc2019 and 1809 (one image), ltsc2022, ltsc2025. Absent in beds started before it existed. */
  SERVERCORE_BASE_IMAGE?: string;
  /** Full reference of a Windows-only manifest list, one windows/amd64 entry per os.version 10.0.17763/20348/26100. Absent in beds started before it existed. */
  MULTIVERSION_BASE_IMAGE?: string;
  /** Namespace of the dockerd DaemonSets (deploy/base/dockerd-daemonsets.yaml) on the Windows nodes. */
  DOCKERD_NAMESPACE?: string;
  /** The Windows nodes' image catalogue (testcluster nodes --images): which images exist there. */
  IMAGES_FILE?: string;
  /** Repository only (tags ltsc2019, ltsc2022, ltsc2025): a Windows-shaped image holding busybox, so a Windows RUN (SHELL /bin/sh) runs on the EMULATED Windows BuildKit pool. Absent in beds started before it existed. */
  EMULATED_WINDOWS_SHELL_IMAGE?: string;
  /** Comma-separated Windows versions whose nodes run the EMULATED buildkitd-windows DaemonSet, e.g. ltsc2022,ltsc2025. Absent in beds started before it existed. */
  BUILDKITD_WINDOWS_VERSIONS?: string;
  /** deploy/images/dockerd-hostprocess/node-gc built for this host (the dockerd DaemonSets' node-gc container). Absent in beds started before it existed. */
  NODE_GC_BIN?: string;
}

export function bedEnvFile(): string {
  const dir = process.env.DOCKHAND_BED_DIR ?? fileURLToPath(new URL("../../.bed", import.meta.url));
  return `${dir}/env`;
}

export function bedEnv(): BedEnv {
  const file = bedEnvFile();
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new Error(`${file} is missing: run test/bed/up (vitest's bed project does it for you)`);
  }
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  for (const key of ["KUBECONFIG", "DOCKER_HOST", "REGISTRY", "BUILDKIT_HOST", "BED_DIR", "BED_BIN"]) {
    if (!env[key]) throw new Error(`${file} has no ${key}: rerun test/bed/up`);
  }
  return env as unknown as BedEnv;
}

/** Environment for child processes (docker, buildctl, kubectl) aimed at the bed. */
export function bedProcessEnv(): NodeJS.ProcessEnv {
  const env = bedEnv();
  return {
    ...process.env,
    KUBECONFIG: env.KUBECONFIG,
    DOCKER_HOST: env.DOCKER_HOST,
    BUILDKIT_HOST: env.BUILDKIT_HOST,
    PATH: `${env.BED_BIN}:${process.env.PATH}`,
  };
}
