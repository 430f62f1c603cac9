// Pure: what the dispatcher's ServiceAccount must be allowed, what it must not,
// and the verdict on the API server's answers. `dispatcherPermissions` is the
// one list in code; rbac.test.ts holds it equal to the Role in
// deploy/base/rbac/rbac.yaml, so the doctor asks about exactly what deploy/
// grants and the code calls.

import type { CheckResult } from "./check.js";
import { fail, ok } from "./check.js";

export interface Permission {
  readonly verb: string;
  /** "" is the core group. */
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly name?: string;
  /** "namespace": the dispatcher's; "cluster": every namespace (a SelfSubjectAccessReview without namespace). */
  readonly scope: "namespace" | "cluster";
  /** Which code needs it, for the fix. */
  readonly why: string;
}

const each = (verbs: string[], rest: Omit<Permission, "verb" | "scope">): Permission[] =>
  verbs.map((verb) => ({ verb, scope: "namespace", ...rest }));

/** Every verb the dispatcher calls, in its own namespace. */
export const dispatcherPermissions: readonly Permission[] = [
  ...each(["create", "get", "list", "watch", "patch", "delete"], { group: "batch", resource: "jobs", why: "build Jobs: created, watched, annotated, deleted on cancel" }),
  ...each(["get", "list", "watch"], { group: "", resource: "pods", why: "build pods' state (informers)" }),
  ...each(["get"], { group: "", resource: "pods", subresource: "log", why: "build logs" }),
  ...each(["create", "get"], { group: "", resource: "secrets", why: "per-build GitHub token Secrets, the registry Secret" }),
  ...each(["get", "list", "watch"], { group: "", resource: "events", why: "why a build pod is pending or failed" }),
  ...each(["get", "list", "watch"], { group: "events.k8s.io", resource: "events", why: "why a build pod is pending or failed" }),
  ...each(["create"], { group: "coordination.k8s.io", resource: "leases", why: "leader election" }),
  ...each(["get", "update"], { group: "coordination.k8s.io", resource: "leases", name: "dockhand-dispatcher", why: "leader election" }),
];

/** Reading the dockerd pods when the DaemonSets live in a namespace of their own (dockerPool.daemonNamespace). */
export function daemonNamespacePermissions(): Permission[] {
  return each(["get", "list", "watch"], { group: "", resource: "pods", why: "dockerd pods' readiness (dockerPool.daemonNamespace)" });
}

/**
 * What a compromised dispatcher must not be able to do: each would turn a bug
 * in it into the cluster's secrets or a shell on a node.
 */
export const dangerousPermissions: readonly Permission[] = [
  { verb: "*", group: "*", resource: "*", scope: "cluster", why: "everything, everywhere (cluster-admin)" },
  { verb: "list", group: "", resource: "secrets", scope: "cluster", why: "every Secret of the cluster" },
  { verb: "list", group: "", resource: "secrets", scope: "namespace", why: "enumerate its namespace's Secrets (get by name is enough)" },
  { verb: "create", group: "", resource: "pods", scope: "namespace", why: "pods of its own, e.g. HostProcess pods, bypassing the Job specs it plans" },
  { verb: "create", group: "", resource: "pods", subresource: "exec", scope: "namespace", why: "a shell in build pods" },
  { verb: "create", group: "rbac.authorization.k8s.io", resource: "rolebindings", scope: "namespace", why: "granting itself more" },
  { verb: "update", group: "apps", resource: "daemonsets", scope: "namespace", why: "changing the dockerd DaemonSets (host-level access)" },
];

export function describePermission(permission: Permission, namespace: string): string {
  const resource = `${permission.resource}${permission.subresource ? `/${permission.subresource}` : ""}${permission.group && permission.group !== "*" ? `.${permission.group}` : permission.group === "*" ? ".*" : ""}`;
  const where = permission.scope === "cluster" ? "in every namespace" : `in ${namespace}`;
  return `${permission.verb} ${resource}${permission.name ? ` ${permission.name}` : ""} ${where}`;
}

export interface AccessAnswer {
  readonly permission: Permission;
  readonly namespace: string;
  readonly allowed: boolean;
}

/** The two RBAC rows: what it needs (all allowed) and what it must not have (none allowed). */
export function evaluateRbac(subject: string, needed: readonly AccessAnswer[], dangerous: readonly AccessAnswer[]): CheckResult[] {
  const missing = needed.filter((answer) => !answer.allowed);
  const granted = dangerous.filter((answer) => answer.allowed);
  const rows: CheckResult[] = [];
  if (missing.length === 0) rows.push(ok("rbac: what it needs", `${subject} may do all ${needed.length} things the dispatcher calls`));
  else {
    rows.push(
      fail(
        "rbac: what it needs",
        `${subject} may not: ${missing.map((a) => `${describePermission(a.permission, a.namespace)} (${a.permission.why})`).join("; ")}`,
        `apply deploy/base/rbac (kubectl apply -k deploy/base/rbac -n ${missing[0]!.namespace}), or add ${missing.map((a) => `"${a.permission.verb}" on ${a.permission.resource}${a.permission.subresource ? `/${a.permission.subresource}` : ""}`).join(", ")} to the Role bound to it`,
      ),
    );
  }
  if (granted.length === 0) rows.push(ok("rbac: nothing more", `${subject} may not do any of ${dangerous.length} dangerous things (cluster-admin, list Secrets, create pods or exec, bind roles, change DaemonSets)`));
  else {
    rows.push(
      fail(
        "rbac: nothing more",
        `${subject} may: ${granted.map((a) => `${describePermission(a.permission, a.namespace)} (${a.permission.why})`).join("; ")}`,
        `bind it only to deploy/base/rbac's Role: find what grants this with kubectl get rolebindings,clusterrolebindings -A -o wide | grep ${subject.split(":").pop()}, and remove that binding`,
      ),
    );
  }
  return rows;
}
