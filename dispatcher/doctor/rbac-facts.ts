// The API server's own answer for each permission: one SelfSubjectAccessReview
// per verb and resource (what `kubectl auth can-i` sends). Asked as the
// dispatcher's ServiceAccount: the identity running the doctor when it is a
// ServiceAccount (in the dispatcher's pod, or a kubeconfig minted for one),
// otherwise that ServiceAccount impersonated (an admin's kubeconfig from a
// checkout), so an admin's own rights never pass for the dispatcher's.

import { AuthenticationV1Api, AuthorizationV1Api, KubeConfig } from "@kubernetes/client-node";
import type { AccessAnswer, Permission } from "./rbac.js";

export interface Subject {
  /** system:serviceaccount:<namespace>:<name> */
  readonly username: string;
  /** Whether the kubeconfig's own identity is asked (else it is impersonated). */
  readonly self: boolean;
}

/** Who the kubeconfig is (SelfSubjectReview, authentication.k8s.io/v1, GA in Kubernetes 1.28). */
export async function whoAmI(kc: KubeConfig): Promise<string> {
  const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" } });
  return review.status?.userInfo?.username ?? "(unknown)";
}

export function subjectFor(self: string, serviceAccount: { namespace: string; name: string }): Subject {
  if (self.startsWith("system:serviceaccount:")) return { username: self, self: true };
  return { username: `system:serviceaccount:${serviceAccount.namespace}:${serviceAccount.name}`, self: false };
}

/** A copy of `kc` whose every request impersonates `username` (Impersonate-User). */
export function impersonating(kc: KubeConfig, username: string): KubeConfig {
  const copy = new KubeConfig();
  copy.loadFromString(kc.exportConfig());
  const user = copy.getCurrentUser();
  if (user === null) throw new Error("the kubeconfig has no current user");
  copy.users = copy.users.map((u) => (u.name === user.name ? { ...u, impersonateUser: username } : u));
  return copy;
}

export async function askAll(kc: KubeConfig, permissions: readonly Permission[], namespace: string): Promise<AccessAnswer[]> {
  const api = kc.makeApiClient(AuthorizationV1Api);
  return Promise.all(
    permissions.map(async (permission) => {
      const answer = await api.createSelfSubjectAccessReview({
        body: {
          apiVersion: "authorization.k8s.io/v1",
          kind: "SelfSubjectAccessReview",
          spec: {
            resourceAttributes: {
              verb: permission.verb,
              group: permission.group,
              resource: permission.resource,
              ...(permission.subresource ? { subresource: permission.subresource } : {}),
              ...(permission.name ? { name: permission.name } : {}),
              ...(permission.scope === "namespace" ? { namespace } : {}),
            },
          },
        },
      });
      return { permission, namespace, allowed: answer.status?.allowed === true };
    }),
  );
}
