// Runs the real dispatcher against the real bed: its own namespace, a
// registry Secret, the GitHub stand-in for statuses. Everything a test needs
// to send builds the way the Action does and see what GitHub would see.

import { PatchStrategy, setHeaderOptions, type V1Job } from "@kubernetes/client-node";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { sha256Hex, signRequest } from "../../dispatcher/protocol/request-signature.js";
import { resolveConfig } from "../../dispatcher/config/validate.js";
import type { Config } from "../../dispatcher/config/schema.js";
import { reportFinalizer } from "../../dispatcher/plan/names.js";
import { startDispatcher, type Dispatcher } from "../../dispatcher/dispatcher.js";
import { bedEnv, type BedEnv } from "../bed/bed-env.js";
import { tarGz } from "../bed/context-server.js";
import { freshNamespace, kubeClients, type KubeClients } from "../bed/kube.js";
import { startGitHubStandIn, type GitHubStandIn, type RecordedStatus } from "../github-standin/github-standin.js";
import pino from "pino";

export const repository = "octo-org/windows-app";
export const sha = "0123456789abcdef0123456789abcdef01234567";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

export interface Bed {
  env: BedEnv;
  k: KubeClients;
  namespace: string;
  github: GitHubStandIn;
  /** The raw config object (before defaults), for writing a config file for a subprocess dispatcher. */
  rawConfig(port: number): Record<string, unknown>;
  config(port: number): Config;
  close(): Promise<void>;
}

/** A namespace with the registry Secret, and a GitHub stand-in. */
export async function setUpBed(prefix: string): Promise<Bed> {
  const env = bedEnv();
  const k = kubeClients(env.KUBECONFIG);
  const namespace = await freshNamespace(k.core, prefix);
  // The bed registry takes anonymous pushes; the Secret still proves the
  // credentials path (mounted, DOCKER_CONFIG set) works end to end.
  const auth = Buffer.from("builder:not-a-real-password").toString("base64");
  await k.core.createNamespacedSecret({
    namespace,
    body: {
      metadata: { name: "registry-push" },
      type: "kubernetes.io/dockerconfigjson",
      stringData: { ".dockerconfigjson": JSON.stringify({ auths: { "registry.example.invalid": { auth } } }) },
    },
  });
  const github = await startGitHubStandIn({ tokens: ["dispatcher-token"] });
  const rawConfig = (port: number) => ({
    listen: { host: "127.0.0.1", port },
    publicUrl: `http://127.0.0.1:${port}`,
    executor: "kubernetes",
    kubernetes: { namespace, kubeconfig: env.KUBECONFIG },
    contexts: { dir: mkdtempSync(join(tmpdir(), "dh-contexts-")), signingKey: "bed-signing-key-0123456789abcdef0123456789" },
    // One pool per Windows version, tainted as GKE taints Windows nodes
    // (test/cluster/nodeagent/nodes.go); the dockerd DaemonSets of
    // deploy/base run in their own namespace.
    dockerPool: bedDockerPool(),
    buildkit: { address: env.BUILDKIT_HOST },
    // The emulation's one concession (test/README.md): Windows builds through
    // the emulated dockerd pool push Linux images, which the platform check
    // would rightly fail. Tests of the check turn it on and build Windows
    // images with BuildKit, whose configs are real Windows configs.
    registry: { secretName: "registry-push", insecureRegistries: [env.REGISTRY], validatePlatform: false },
    limits: { unschedulableAfterSeconds: 5, activeDeadlineSeconds: 600, ttlSecondsAfterFinished: 600 },
    github: { apiUrl: github.url, token: "dispatcher-token" },
    // Requests are signed as the Action's `auth: secret` signs them; the
    // policy lets the bed's builds use the dockerd pool from branches and push
    // to the bed registry (and r.example, which validation tests name).
    auth: { sharedSecrets: [{ name: "bed", secret: bedSharedSecret, repositories: ["*"] }] },
    policy: { repositories: [{ repository: "*", dockerPool: { refs: ["refs/heads/*"] }, imagePrefixes: [env.REGISTRY, "r.example"] }] },
  });
  return {
    env,
    k,
    namespace,
    github,
    rawConfig,
    config: (port) => resolveConfig(rawConfig(port), {}, "test"),
    async close() {
      await github.close();
      // The test's dispatchers are gone: a Job still holding the report
      // finalizer would keep the namespace Terminating for good, and the
      // controllers busy with it for the rest of the run.
      const jobs = await k.batch.listNamespacedJob({ namespace }).catch(() => ({ items: [] as V1Job[] }));
      const held = jobs.items.filter((job) => job.metadata?.finalizers?.includes(reportFinalizer));
      for (let i = 0; i < held.length; i += 16) {
        await Promise.all(
          held.slice(i, i + 16).map((job) =>
            k.batch
              .patchNamespacedJob(
                { namespace, name: job.metadata!.name!, body: [{ op: "remove", path: "/metadata/finalizers" }] },
                setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
              )
              .catch(() => undefined),
          ),
        );
      }
      await k.core.deleteNamespace({ name: namespace }).catch(() => undefined);
    },
  };
}

export async function startBedDispatcher(bed: Bed, mutate: (config: Config) => Config = (c) => c): Promise<Dispatcher> {
  const port = await freePort();
  return startDispatcher(mutate(bed.config(port)), { logger: pino({ level: process.env.DOCKHAND_TEST_LOG ?? "warn" }) });
}

/** Writes the bed config as a YAML file for a dispatcher run as its own process. */
export function writeConfigFile(bed: Bed, port: number, mutate: (raw: Record<string, unknown>) => Record<string, unknown> = (r) => r): string {
  const file = join(mkdtempSync(join(tmpdir(), "dh-config-")), "config.yaml");
  writeFileSync(file, stringify(mutate(bed.rawConfig(port))));
  return file;
}

/** The bed's dockerd pools: one per Windows version (agentpool win19/win22/win25), deploy/'s DaemonSets in their own namespace. */
export function bedDockerPool(ltsc2025Selector: Record<string, string> = { agentpool: "win25" }) {
  const env = bedEnv();
  return {
    pools: {
      ltsc2019: { nodeSelector: { agentpool: "win19" }, tolerations: windowsTolerations },
      ltsc2022: { nodeSelector: { agentpool: "win22" }, tolerations: windowsTolerations },
      ltsc2025: { nodeSelector: ltsc2025Selector, tolerations: windowsTolerations },
    },
    ...(env.DOCKERD_NAMESPACE ? { daemonNamespace: env.DOCKERD_NAMESPACE } : {}),
  };
}

/**
 * The bed's pools with ltsc2025's selecting no node: an ltsc2025 build is
 * admitted to the node's dockerd, and its pod stays unschedulable, queued,
 * until cancelled or limits.unschedulableAfterSeconds (tests of cancelling).
 */
export const dockerPoolWithoutLtsc2025Nodes = () => bedDockerPool({ agentpool: "no-such-pool" });

/** What the bed's Windows nodes are tainted with, as GKE taints every Windows node. */
export const windowsTolerations = [{ key: "node.kubernetes.io/os", operator: "Equal" as const, value: "windows", effect: "NoSchedule" as const }];

/** The shared secret the bed's dispatchers accept (auth.sharedSecrets "bed"). */
export const bedSharedSecret = "bed-shared-secret-0123456789abcdef0123456789";

/**
 * fetch, signed with the bed's shared secret as the Action signs: over
 * method, path and query, and the body's sha256 (for a context upload, the
 * digest in its path).
 */
export async function signedFetch(url: string, init: { method?: string; headers?: Record<string, string>; body?: Uint8Array | string; bodySha256?: string } = {}, secret = bedSharedSecret): Promise<Response> {
  const method = init.method ?? "GET";
  const target = new URL(url);
  const bodySha256 = init.bodySha256 ?? sha256Hex(init.body ?? "");
  const signed = signRequest(secret, method, `${target.pathname}${target.search}`, bodySha256);
  return fetch(url, { method, headers: { ...init.headers, ...signed }, ...(init.body !== undefined ? { body: init.body as BodyInit } : {}) });
}

/** Packs and uploads a context as the Action does; returns its digest. */
export async function uploadContext(dispatcherUrl: string, files: Record<string, string>): Promise<string> {
  const body = await tarGz(files);
  const hex = createHash("sha256").update(body).digest("hex");
  const res = await signedFetch(`${dispatcherUrl}/v1/contexts/${hex}`, { method: "PUT", headers: { "content-type": "application/gzip" }, body: new Uint8Array(body), bodySha256: hex });
  if (res.status !== 201 && res.status !== 200) throw new Error(`context upload: HTTP ${res.status} ${await res.text()}`);
  return `sha256:${hex}`;
}

export function buildRequest(context: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { repository, sha, ref: "refs/heads/main", context, push: true, ...overrides };
}

export async function postBuild(dispatcherUrl: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await signedFetch(`${dispatcherUrl}/v1/builds`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

/** DELETE /v1/builds/{id}, signed. */
export async function cancelBuild(dispatcherUrl: string, id: string): Promise<Response> {
  return signedFetch(`${dispatcherUrl}/v1/builds/${id}`, { method: "DELETE" });
}

/** Polls the stand-in's record (a test double's memory, not the API server) until `done` holds. */
export async function waitForStatuses(
  github: GitHubStandIn,
  done: (statuses: RecordedStatus[]) => boolean,
  timeoutMs = 180_000,
): Promise<RecordedStatus[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const statuses = github.statuses();
    if (done(statuses)) return statuses;
    if (Date.now() > deadline) throw new Error(`statuses not as expected after ${timeoutMs} ms: ${JSON.stringify(statuses, null, 1)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export const finalStates = new Set(["success", "failure", "error"]);

export function statusesFor(statuses: RecordedStatus[], context: string): RecordedStatus[] {
  return statuses.filter((s) => s.context === context);
}

/** The build's context needs a tar.gz of these files; a Dockerfile first. */
export function ctx(dockerfile: string, extra: Record<string, string> = {}): Record<string, string> {
  return { Dockerfile: dockerfile, ...extra };
}

/**
 * What a build still holds in the cluster: its pods, and its Jobs that keep
 * the report finalizer or could still start one (neither finished nor
 * suspended). 0 once it ended and was let go; a cancelled build's Jobs stay
 * (suspended, readable) until ttlSecondsAfterFinished.
 */
export async function heldBy(bed: Bed, buildId: string): Promise<number> {
  const labelSelector = `dockhand.dev/build-id=${buildId}`;
  const [jobs, pods] = await Promise.all([
    bed.k.batch.listNamespacedJob({ namespace: bed.namespace, labelSelector }),
    bed.k.core.listNamespacedPod({ namespace: bed.namespace, labelSelector }),
  ]);
  const held = jobs.items.filter((job) => {
    const finished = (job.status?.conditions ?? []).some((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");
    return (job.metadata?.finalizers ?? []).includes("dockhand.dev/report") || !(finished || job.spec?.suspend === true);
  });
  return held.length + pods.items.length;
}

/** The bed's kubectl as the bed's admin, for what a test does to the cluster itself (labels, DaemonSet patches); its output. */
export function bedKubectl(env: BedEnv, ...args: string[]): string {
  return execFileSync(`${env.BED_BIN}/kubectl`, args, { env: { ...process.env, KUBECONFIG: env.KUBECONFIG }, encoding: "utf8" });
}

/** The file whose presence is a node's EMULATED Hyper-V feature (test/cluster/nodeagent/hyperv_emulation.go). */
export function hypervFeatureFile(env: BedEnv, node: string): string {
  return join(env.BED_DIR, "nodes", "node", node, "windows-features", "Microsoft-Hyper-V");
}
