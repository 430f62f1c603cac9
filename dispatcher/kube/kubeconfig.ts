import { KubeConfig } from "@kubernetes/client-node";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export interface KubeConfigFound {
  kc: KubeConfig;
  /** Where it came from, for the start-up log: "in-cluster" or a file path. */
  source: string;
}

/**
 * Finds Kubernetes credentials the way kubectl and client-go do: an explicit
 * file, $KUBECONFIG, the in-cluster ServiceAccount, then ~/.kube/config.
 * Returns undefined when there is none, which is what selects the local
 * executor for `executor: auto`.
 */
export function findKubeConfig(explicitPath: string | undefined, env: NodeJS.ProcessEnv = process.env): KubeConfigFound | undefined {
  const kc = new KubeConfig();
  if (explicitPath) {
    if (!existsSync(explicitPath)) {
      throw new Error(`kubernetes.kubeconfig: ${explicitPath} does not exist; point it at a kubeconfig file or remove the key`);
    }
    kc.loadFromFile(explicitPath);
    return { kc, source: explicitPath };
  }
  if (env.KUBECONFIG) {
    const first = env.KUBECONFIG.split(":").find((path) => path && existsSync(path));
    if (first) {
      kc.loadFromFile(first);
      return { kc, source: first };
    }
  }
  if (env.KUBERNETES_SERVICE_HOST && existsSync("/var/run/secrets/kubernetes.io/serviceaccount/token")) {
    kc.loadFromCluster();
    return { kc, source: "in-cluster" };
  }
  const home = join(homedir(), ".kube", "config");
  if (existsSync(home)) {
    kc.loadFromFile(home);
    return { kc, source: home };
  }
  return undefined;
}
