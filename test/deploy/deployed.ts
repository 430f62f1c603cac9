// deploy/ on the real bed: kubectl (upstream, with kustomize) against the
// bed's API server, the base's RBAC applied into a test namespace, a
// kubeconfig for the dispatcher's ServiceAccount, and the ConfigMap's config
// adapted to the bed.

import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, parseAllDocuments, stringify } from "yaml";
import { bedEnv } from "../bed/bed-env.js";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: any;
}

export interface KubectlResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Upstream kubectl (linked into testcluster) with the bed's admin kubeconfig. */
export function kubectl(args: string[], input?: string): KubectlResult {
  const env = bedEnv();
  const result = spawnSync(join(env.BED_BIN, "testcluster"), ["kubectl", ...args], {
    cwd: repoRoot,
    env: { ...process.env, KUBECONFIG: env.KUBECONFIG },
    input,
    encoding: "utf8",
    timeout: 120_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** `kubectl kustomize <dir>`, parsed. */
export function render(dir: string): Manifest[] {
  const out = kubectl(["kustomize", dir]);
  if (out.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${out.stderr}`);
  return parseAllDocuments(out.stdout).map((doc) => doc.toJSON() as Manifest).filter(Boolean);
}

const rbacKinds = new Set(["ServiceAccount", "Role", "RoleBinding"]);

/**
 * The base's ServiceAccount, Role and RoleBinding, moved to `namespace` (the
 * RoleBinding's ServiceAccount subjects too) and applied for real, so the
 * dispatcher runs with exactly what deploy/ grants. Returns the
 * ServiceAccount the Deployment runs as.
 */
export function applyRbac(manifests: Manifest[], namespace: string): string {
  const deployment = manifests.find((m) => m.kind === "Deployment" && m.metadata.name === "dockhand");
  const serviceAccount = deployment?.spec?.template?.spec?.serviceAccountName as string | undefined;
  if (!serviceAccount) throw new Error("deploy/base: the dispatcher Deployment names no serviceAccountName");
  const rbac = manifests
    .filter((m) => rbacKinds.has(m.kind))
    .map((m) => {
      const moved: Manifest = { ...m, metadata: { ...m.metadata, namespace } };
      if (m.kind === "RoleBinding") {
        moved.subjects = (m.subjects ?? []).map((s: { kind: string }) => (s.kind === "ServiceAccount" ? { ...s, namespace } : s));
      }
      return moved;
    });
  if (!rbac.some((m) => m.kind === "ServiceAccount" && m.metadata.name === serviceAccount)) {
    throw new Error(`deploy/base has no ServiceAccount ${serviceAccount} (the Deployment's serviceAccountName)`);
  }
  rbac.push(...dockerdPodsReader(namespace, serviceAccount));
  const applied = kubectl(["apply", "-f", "-"], rbac.map((m) => stringify(m)).join("---\n"));
  if (applied.status !== 0) throw new Error(`applying deploy/base's RBAC to ${namespace} failed: ${applied.stderr}`);
  return serviceAccount;
}

/**
 * The bed runs deploy/'s dockerd DaemonSets in their own namespace
 * (dockerPool.daemonNamespace): a Role and RoleBinding there let the
 * dispatcher's ServiceAccount read their pods, as docs/deploy.md tells an
 * operator who does the same to allow.
 */
export function dockerdPodsReader(namespace: string, serviceAccount: string): Manifest[] {
  const dockerdNamespace = bedEnv().DOCKERD_NAMESPACE;
  if (!dockerdNamespace) return [];
  const name = `dockhand-dockerd-reader-${namespace}`;
  return [
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name, namespace: dockerdNamespace }, rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }] },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name, namespace: dockerdNamespace },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name: serviceAccount, namespace }],
    },
  ];
}

/** A kubeconfig holding a token of namespace/serviceAccount (TokenRequest), as the pod would have. */
export function serviceAccountKubeconfig(namespace: string, serviceAccount: string): string {
  const env = bedEnv();
  const out = join(mkdtempSync(join(tmpdir(), "dh-sa-")), "kubeconfig");
  const result = spawnSync(
    join(env.BED_BIN, "testcluster"),
    ["sa-kubeconfig", "--kubeconfig", env.KUBECONFIG, "--namespace", namespace, "--name", serviceAccount, "--out", out],
    { encoding: "utf8" },
  );
  if (result.status !== 0) throw new Error(`testcluster sa-kubeconfig failed: ${result.stderr}`);
  return out;
}

/** config.yaml from the base's generated ConfigMap, as the pod reads it at /etc/dockhand/config.yaml. */
export function configFromConfigMap(manifests: Manifest[]): Record<string, any> {
  const configMap = manifests.find((m) => m.kind === "ConfigMap" && m.metadata.name.startsWith("dockhand-config"));
  if (!configMap?.data?.["config.yaml"]) throw new Error("deploy/base has no ConfigMap dockhand-config-* with config.yaml");
  return parse(configMap.data["config.yaml"]) as Record<string, any>;
}

/**
 * The deployed config with only what differs on the bed changed: where it
 * listens and is reached (loopback), the namespace and kubeconfig (the pod
 * would get both from the downward API and its token), the contexts
 * directory, BuildKit (the bed's buildkitd is plain TCP on loopback, no mTLS
 * Secret), the bed's plain-HTTP registry, GitHub (the stand-in), and auth
 * and policy (the harness's shared secret: the bed has no OIDC issuer). The
 * dockerd pool selector, registry Secret name, limits and the rest stay as
 * shipped.
 */
export function adaptToBed(
  config: Record<string, any>,
  bed: { namespace: string; kubeconfig: string; port: number; metricsPort?: number; contextsDir: string; githubUrl: string; githubToken: string; harness: Record<string, any> },
): Record<string, any> {
  const env = bedEnv();
  const { tlsSecret: _mtlsOnlyInCluster, ...buildkit } = config.buildkit ?? {};
  return {
    ...config,
    listen: { host: "127.0.0.1", port: bed.port },
    // deploy/'s fixed metrics port would collide between dispatchers on one host: a free one, or /metrics back on the API's port.
    metrics: bed.metricsPort === undefined ? {} : { port: bed.metricsPort },
    publicUrl: `http://127.0.0.1:${bed.port}`,
    kubernetes: { ...config.kubernetes, namespace: bed.namespace, kubeconfig: bed.kubeconfig },
    contexts: { ...config.contexts, dir: bed.contextsDir, signingKey: "deploy-test-signing-key-0123456789abcdef0123" },
    buildkit: { ...buildkit, address: env.BUILDKIT_HOST },
    // deploy/'s own dockerd DaemonSets run on the bed, in their own namespace (test/bed/up).
    dockerPool: { ...config.dockerPool, ...(env.DOCKERD_NAMESPACE ? { daemonNamespace: env.DOCKERD_NAMESPACE } : {}) },
    // validatePlatform off: the emulated Windows pool builds Linux images (test/README.md).
    registry: { ...config.registry, insecureRegistries: [env.REGISTRY], validatePlatform: false },
    // No GitHub OIDC issuer on the bed: the harness's shared secret and policy.
    auth: bed.harness.auth,
    policy: bed.harness.policy,
    limits: { ...config.limits, unschedulableAfterSeconds: 30, ttlSecondsAfterFinished: 600 },
    github: { ...config.github, apiUrl: bed.githubUrl, token: bed.githubToken },
  };
}
