// The doctor's checks, each group independent and under its own time limit,
// run side by side; main.ts is the command line around it.

import { randomBytes } from "node:crypto";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Config } from "../config/schema.js";
import { signContextUrl } from "../contexts/signed-url.js";
import { type WindowsVersion, windowsVersions } from "../protocol/platforms.js";
import { type CheckResult, timed } from "./check.js";
import { checkBuildkit } from "./buildkit-check.js";
import { hypervPoolFacts, poolFacts, runProbe } from "./cluster-facts.js";
import { evaluateHypervPool } from "./hyperv.js";
import { checkGitHub, checkWebhookSecret } from "./github-check.js";
import { dockerCliPods, dockerCliPodSelector } from "../kube/docker-cli-pods.js";
import { evaluateCliImage } from "./cli-image.js";
import { evaluatePool } from "./pools.js";
import { evaluateProbe, poolName, type ProbePool } from "./probe.js";
import { dangerousPermissions, daemonNamespacePermissions, dispatcherPermissions, evaluateRbac } from "./rbac.js";
import { askAll, impersonating, subjectFor, whoAmI } from "./rbac-facts.js";
import { checkRegistry } from "./registry-check.js";

export const checkGroups = ["rbac", "pools", "probes", "buildkit", "registry", "github"] as const;
export type CheckGroup = (typeof checkGroups)[number];

export interface DoctorOptions {
  readonly config: Config;
  readonly kc: KubeConfig;
  /** The dispatcher's ServiceAccount in kubernetes.namespace, asked about when the kubeconfig is not a ServiceAccount itself. */
  readonly serviceAccount: string;
  /** owner/name for the GitHub check. */
  readonly repository?: string;
  /** host[/repository] for the registry check. */
  readonly registry?: string;
  readonly probeTimeoutSeconds: number;
  readonly only?: readonly CheckGroup[];
}

export async function runDoctor(options: DoctorOptions): Promise<CheckResult[]> {
  const { config, kc } = options;
  const wanted = (group: CheckGroup) => options.only === undefined || options.only.includes(group);
  const versions = windowsVersions.filter((version) => config.dockerPool.pools[version] !== undefined);
  const groups: Promise<CheckResult[]>[] = [];

  if (wanted("rbac")) {
    groups.push(
      timed("rbac", 30, "can the doctor reach the API server with this kubeconfig? (kubectl auth can-i --list)", async () => {
        const subject = subjectFor(await whoAmI(kc), { namespace: config.kubernetes.namespace, name: options.serviceAccount });
        const asked = subject.self ? kc : impersonating(kc, subject.username);
        const daemonNamespace = config.dockerPool.daemonNamespace;
        const [needed, extra, dangerous] = await Promise.all([
          askAll(asked, dispatcherPermissions, config.kubernetes.namespace),
          daemonNamespace && daemonNamespace !== config.kubernetes.namespace && versions.length > 0 ? askAll(asked, daemonNamespacePermissions(), daemonNamespace) : [],
          askAll(asked, dangerousPermissions, config.kubernetes.namespace),
        ]);
        return evaluateRbac(subject.username, [...needed, ...extra], dangerous);
      }),
    );
  }
  // A hyperv version has no nodes of its own: its row is about the host pool's Hyper-V label, and the host's probe tries its engine.
  const hyperv = (version: WindowsVersion) => config.dockerPool.pools[version]?.isolation === "hyperv";
  for (const version of versions) {
    if (wanted("pools")) {
      groups.push(
        timed(`pool ${version}`, 30, "can the doctor reach the API server? (kubectl get nodes)", async () => {
          if (hyperv(version)) return evaluateHypervPool(await hypervPoolFacts(kc, config, version));
          const facts = await poolFacts(kc, config, version);
          return [
            ...evaluatePool(facts),
            evaluateCliImage({
              version,
              image: config.dockerPool.images[version],
              nodes: facts.nodes,
              daemonNamespace: facts.daemonNamespace,
              podSelector: `${dockerCliPodSelector},${dockerCliPods.labels.windowsVersion}=${version}`,
            }),
          ];
        }),
      );
    }
  }
  if (wanted("probes")) {
    const pools: ProbePool[] = [...versions.filter((version) => !hyperv(version)).map((version) => ({ kind: "windows" as const, version })), { kind: "buildkit" }];
    for (const pool of pools) {
      // A context digest nobody uploaded, signed as the dispatcher signs: the
      // dispatcher answers 404 only after it accepted the signature.
      const url = signContextUrl({
        publicUrl: config.publicUrl,
        digest: `sha256:${randomBytes(32).toString("hex")}`,
        buildId: "doctor-probe",
        expiresAt: new Date(Date.now() + 15 * 60_000),
        key: config.contexts.signingKey,
      });
      groups.push(
        timed(`${poolName(pool)}: probe`, options.probeTimeoutSeconds + 30, `kubectl -n ${config.kubernetes.namespace} get jobs,pods -l app.kubernetes.io/name=dockhand-doctor`, async (signal) =>
          evaluateProbe(await runProbe(kc, config, pool, url, options.probeTimeoutSeconds, signal), config),
        ),
      );
    }
  }
  if (wanted("buildkit")) groups.push(timed("buildkit: reachable", 20, "is buildkit.address reachable from here?", (signal) => checkBuildkit(kc, config, signal)));
  if (wanted("registry")) groups.push(timed("registry: push and read back", 60, "is the registry reachable from here?", (signal) => checkRegistry(kc, config, options.registry, signal)));
  if (wanted("github")) {
    groups.push(timed("github: statuses", 30, "is github.apiUrl reachable from here?", (signal) => checkGitHub(config, options.repository, signal)));
    groups.push(Promise.resolve([checkWebhookSecret(config)]));
  }
  return (await Promise.all(groups)).flat();
}
