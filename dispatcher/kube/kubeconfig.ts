import { KubeConfig, type RequestContext } from "@kubernetes/client-node";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { Agent } from "node:https";
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
  const kc = new ConnectionReusingKubeConfig();
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

/**
 * client-node (1.x) gives every API call a new https.Agent, so every Job
 * created, patched or read opens a new TLS connection: a handshake and a new
 * secure context (the CA parsed again) per call, which was most of the
 * dispatcher's own CPU per accepted build and queued behind a busy host. This
 * hands each call a keep-alive agent shared by all calls with the same TLS
 * options instead; client-node's request path, auth and error handling are
 * otherwise its own. Proxy agents (a kubeconfig proxy-url) are left as made.
 */
export class ConnectionReusingKubeConfig extends KubeConfig {
  private readonly agents = new Map<string, Agent>();

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const made = context.getAgent();
    if (!made || made.constructor !== Agent) return;
    const options = (made as Agent).options;
    // Rotated client certificates (an exec plugin's) give new options, hence a
    // new agent; the old one is dropped, not destroyed (calls may be in flight
    // on it), and its idle sockets go when the API server closes them.
    const key = createHash("sha256")
      .update(JSON.stringify([options.ca, options.cert, options.key, options.pfx, options.passphrase, options.rejectUnauthorized, options.servername].map((v) => (Buffer.isBuffer(v) ? v.toString("base64") : v))))
      .digest("hex");
    let agent = this.agents.get(key);
    if (!agent) {
      this.agents.clear();
      agent = new Agent({ ...options, keepAlive: true });
      this.agents.set(key, agent);
    }
    context.setAgent(agent);
  }
}
