// Every manifest in deploy/ is accepted by the bed's real API server
// (v1.37.2: schema, field validation, admission) in a server-side dry run,
// for the base and each overlay.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { stringify } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { configFromConfigMap, kubectl, type Manifest, render, repoRoot } from "./deployed.js";
import { resolveConfig } from "../../dispatcher/config/validate.js";
import { bedEnv } from "../bed/bed-env.js";
import { pinnedEngine } from "../../dispatcher/plan/docker-engine-compat.js";
import { type WindowsVersion, windowsBuilds } from "../../dispatcher/protocol/platforms.js";

const targets = ["deploy/base", "deploy/overlays/aks", "deploy/overlays/plain"];

beforeAll(() => {
  // A server-side dry run does not create the Namespace, so everything in it
  // would fail with "namespaces not found": create the (empty) namespace for
  // real first, as `kubectl apply -k` itself does on its first real run.
  const namespace = render("deploy/base").find((m) => m.kind === "Namespace")!;
  const created = kubectl(["apply", "-f", "-"], JSON.stringify(namespace));
  expect(created.status, created.stderr).toBe(0);
});

describe("kubectl apply --dry-run=server -k", () => {
  it.each(targets)("%s: the API server accepts every object", (dir) => {
    const expected = render(dir).map((m) => `${m.kind}/${m.metadata.name}`);
    // --validate=strict (kubectl's default) asks the server to reject unknown or duplicate fields.
    const result = kubectl(["apply", "--dry-run=server", "--validate=strict", "-k", dir]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines.every((line) => line.endsWith("(server dry run)")), result.stdout).toBe(true);
    expect(lines).toHaveLength(expected.length);
  });
});

describe("what the manifests promise", () => {
  let base: Manifest[];
  beforeAll(() => {
    base = render("deploy/base");
  });
  const find = (kind: string, name: string) => base.find((m) => m.kind === kind && m.metadata.name === name)!;

  it("the dispatcher: 2 replicas, probes on /readyz and /healthz, non-root, read-only root, config file and Secret env", () => {
    const deployment = find("Deployment", "dockhand");
    expect(deployment.spec.replicas).toBe(2);
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    expect(container.readinessProbe.httpGet.path).toBe("/readyz");
    expect(container.livenessProbe.httpGet.path).toBe("/healthz");
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(container.resources.requests).toBeDefined();
    const env = Object.fromEntries(container.env.map((e: any) => [e.name, e]));
    expect(env.DOCKHAND_CONFIG.value).toBe("/etc/dockhand/config.yaml");
    expect(env.POD_NAME.valueFrom.fieldRef.fieldPath).toBe("metadata.name");
    expect(env.DOCKHAND_SIGNING_KEY.valueFrom.secretKeyRef).toMatchObject({ name: "dockhand-dispatcher", key: "signing-key" });
    const configVolume = pod.volumes.find((v: any) => v.name === "config");
    expect(configVolume.configMap.name).toMatch(/^dockhand-config-/);
    // Nothing secret is committed: no Secret objects in deploy/.
    expect(base.filter((m) => m.kind === "Secret")).toEqual([]);
  });

  it("the dispatcher stops within its termination grace: preStop sleep, then the API's grace for requests in flight", () => {
    const pod = find("Deployment", "dockhand").spec.template.spec;
    const preStop = pod.containers[0].lifecycle.preStop.sleep.seconds as number;
    const config = resolveConfig(configFromConfigMap(base), { DOCKHAND_SIGNING_KEY: "x".repeat(48) }, "deploy/base ConfigMap");
    // What SIGTERM still needs after the grace (leader election release, informers) gets the rest.
    expect(preStop + config.listen.shutdownGraceSeconds).toBeLessThanOrEqual(pod.terminationGracePeriodSeconds - 10);
  });

  it.each([
    ["dockerd-ltsc2019", "10.0.17763"],
    ["dockerd-ltsc2022", "10.0.20348"],
    ["dockerd-ltsc2025", "10.0.26100"],
  ])("%s: HostProcess as SYSTEM on the host network, only on %s nodes, pinned Engine, Ready only when the engine answers, no rollout that kills builds", (name, build) => {
    const daemonSet = find("DaemonSet", name);
    const pod = daemonSet.spec.template.spec;
    expect(pod.securityContext.windowsOptions).toEqual({ hostProcess: true, runAsUserName: "NT AUTHORITY\\SYSTEM" });
    expect(pod.hostNetwork).toBe(true);
    expect(pod.nodeSelector).toEqual({ "kubernetes.io/os": "windows", "node.kubernetes.io/windows-build": build });
    expect(pod.containers[0].image).toBe(pinnedEngine.image);
    expect(pod.containers[0].args).toContain("--host=npipe:////./pipe/docker_engine");
    expect(pod.containers[0].readinessProbe.exec.command).toEqual(["docker.exe", "--host=npipe:////./pipe/docker_engine", "version"]);
    expect(daemonSet.spec.updateStrategy).toEqual({ type: "OnDelete" });
  });

  // node-gc's flags are checked by the program itself at start-up: a typo
  // would crash-loop it on every node of the pool, so each overlay's command
  // line is run here through the same binary (built for this host by
  // test/bed/up); with the daemon unreachable it gets past the flags and
  // fails the pass (exit 1), never refuses a flag (exit 2).
  it.each(targets)("%s: every dockerd pod runs node-gc with the image's binary and flags it accepts", (dir) => {
    const { NODE_GC_BIN } = bedEnv();
    expect(NODE_GC_BIN, "rerun test/bed/up: it builds node-gc").toBeTruthy();
    const daemonSets = render(dir).filter((m) => m.kind === "DaemonSet" && (m.metadata.labels as Record<string, string> | undefined)?.["app.kubernetes.io/name"] === "dockerd");
    expect(daemonSets.length).toBeGreaterThan(0);
    for (const daemonSet of daemonSets) {
      const containers = daemonSet.spec.template.spec.containers as { name: string; image: string; command: string[] }[];
      const gc = containers.find((c) => c.name === "node-gc");
      expect(gc, `${daemonSet.metadata.name} has no node-gc container`).toBeDefined();
      expect(gc!.image).toBe(containers.find((c) => c.name === "dockerd")!.image);
      expect(gc!.command[0]).toBe("dockhand-node-gc.exe");
      const flags = gc!.command.slice(1).map((flag) => (flag.startsWith("--host=") ? `--host=unix://${join(tmpdir(), "dockhand-no-such.sock")}` : flag));
      const run = spawnSync(NODE_GC_BIN!, [...flags, "--once"], { encoding: "utf8", timeout: 30_000 });
      expect(run.status, `${daemonSet.metadata.name}: ${run.stderr}`).toBe(1);
      expect(run.stderr).toContain("no such file or directory");
    }
  });

  // The build Jobs take their pool's selector and tolerations from the config;
  // a Job tolerated onto a node where the DaemonSet does not run finds no pipe.
  it.each(["deploy/base", "deploy/overlays/aks"])("%s: each configured pool's selector and tolerations are its dockerd DaemonSet's, and each DaemonSet has a pool", (dir) => {
    const manifests = render(dir);
    const config = resolveConfig(configFromConfigMap(manifests), { DOCKHAND_SIGNING_KEY: "x".repeat(48), DOCKHAND_PUBLIC_URL: "http://dockhand:8080" }, dir);
    const versionOf = (m: Manifest) => (m.metadata.labels as Record<string, string> | undefined)?.["dockhand.dev/windows-version"];
    const daemonSets = manifests.filter((m) => m.kind === "DaemonSet" && (m.metadata.labels as Record<string, string> | undefined)?.["app.kubernetes.io/name"] === "dockerd");
    expect(daemonSets.map(versionOf).sort()).toEqual(Object.keys(config.dockerPool.pools).sort());
    for (const [version, pool] of Object.entries(config.dockerPool.pools)) {
      const pod = daemonSets.find((d) => versionOf(d) === version)!.spec.template.spec;
      expect(pod.nodeSelector).toEqual({ "kubernetes.io/os": "windows", "node.kubernetes.io/windows-build": windowsBuilds[version as WindowsVersion], ...pool!.nodeSelector });
      expect(pod.tolerations).toEqual(pool!.tolerations);
    }
  });

  // The dispatcher's config as deployed: the ConfigMap's file, then the Deployment's literal env (DOCKHAND_DOCKER_POOL_IMAGES_<VERSION> among them).
  const deployedConfig = (manifests: Manifest[], dir: string) => {
    const container = manifests.find((m) => m.kind === "Deployment" && m.metadata.name === "dockhand")!.spec.template.spec.containers[0];
    const env = Object.fromEntries(container.env.filter((e: any) => typeof e.value === "string").map((e: any) => [e.name, e.value]));
    return resolveConfig(configFromConfigMap(manifests), { ...env, DOCKHAND_SIGNING_KEY: "x".repeat(48), DOCKHAND_PUBLIC_URL: "http://dockhand:8080" }, dir);
  };
  const daemonSetsNamed = (manifests: Manifest[], name: string) =>
    new Map(
      manifests
        .filter((m) => m.kind === "DaemonSet" && (m.metadata.labels as Record<string, string> | undefined)?.["app.kubernetes.io/name"] === name)
        .map((m) => [(m.metadata.labels as Record<string, string>)["dockhand.dev/windows-version"]!, m]),
    );

  // A build pulls the CLI image unless it is already on the node: the docker-cli DaemonSets keep it there, on exactly the dockerd nodes.
  it.each(["deploy/base", "deploy/overlays/aks"])("%s: a docker-cli DaemonSet beside each dockerd DaemonSet, on the same nodes, running the dispatcher's CLI image of that version and then pause", (dir) => {
    const manifests = render(dir);
    const config = deployedConfig(manifests, dir);
    const dockerd = daemonSetsNamed(manifests, "dockerd");
    const cli = daemonSetsNamed(manifests, "docker-cli");
    expect([...cli.keys()].sort()).toEqual([...dockerd.keys()].sort());
    for (const [version, daemonSet] of cli) {
      const pod = daemonSet.spec.template.spec;
      const engine = dockerd.get(version)!.spec.template.spec;
      expect(pod.nodeSelector, version).toEqual(engine.nodeSelector);
      expect(pod.tolerations, version).toEqual(engine.tolerations);
      expect(pod.initContainers).toEqual([
        expect.objectContaining({ name: "docker-cli", image: config.dockerPool.images[version as WindowsVersion], imagePullPolicy: "IfNotPresent", command: ["docker.exe", "--version"] }),
      ]);
      expect(pod.containers.map((c: any) => c.image)).toEqual(["registry.k8s.io/pause:3.10.2"]);
      // The new pod pulls the new image while the old one still holds the old: no moment without a CLI image on the node.
      expect(daemonSet.spec.updateStrategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxSurge: "100%", maxUnavailable: 0 } });
    }
  });

  it("one images: entry in an overlay changes the docker-cli DaemonSet and the dispatcher's CLI image together (by name:tag for one version, digest pins too)", () => {
    const overlay = mkdtempSync(join(tmpdir(), "dh-overlay-"));
    const digest = `sha256:${"a".repeat(64)}`;
    writeFileSync(
      join(overlay, "kustomization.yaml"),
      stringify({
        // kustomize takes no absolute path to a base.
        resources: [relative(overlay, join(repoRoot, "deploy/base"))],
        images: [
          { name: "docker:29-windowsservercore-ltsc2022", newName: "myacr.azurecr.io/mirror/docker", newTag: "29.8.2-windowsservercore-ltsc2022" },
          // newTag with the digest keeps the tag (which names the CLI version the config checks); kustomize's digest: field drops it.
          { name: "docker:29-windowsservercore-ltsc2025", newTag: `29-windowsservercore-ltsc2025@${digest}` },
        ],
      }),
    );
    const manifests = render(overlay);
    const config = deployedConfig(manifests, overlay);
    const cli = daemonSetsNamed(manifests, "docker-cli");
    const expected = {
      ltsc2019: "docker:29-windowsservercore-1809",
      ltsc2022: "myacr.azurecr.io/mirror/docker:29.8.2-windowsservercore-ltsc2022",
      ltsc2025: `docker:29-windowsservercore-ltsc2025@${digest}`,
    };
    expect(config.dockerPool.images).toEqual(expected);
    for (const [version, image] of Object.entries(expected)) expect(cli.get(version)!.spec.template.spec.initContainers[0].image, version).toBe(image);
    // No other env value is touched.
    const env = manifests.find((m) => m.kind === "Deployment")!.spec.template.spec.containers[0].env;
    expect(env.find((e: any) => e.name === "DOCKHAND_CONFIG").value).toBe("/etc/dockhand/config.yaml");
  });

  it("buildkitd: rootless StatefulSet on Linux with a cache volume and mTLS", () => {
    const statefulSet = find("StatefulSet", "buildkitd");
    const pod = statefulSet.spec.template.spec;
    expect(pod.nodeSelector).toEqual({ "kubernetes.io/os": "linux" });
    expect(pod.containers[0].image).toMatch(/-rootless$/);
    expect(pod.containers[0].securityContext).toMatchObject({ runAsUser: 1000, runAsNonRoot: true });
    expect(pod.containers[0].args).toEqual(expect.arrayContaining(["--tlscacert", "--tlscert", "--tlskey"]));
    expect(statefulSet.spec.volumeClaimTemplates[0].metadata.name).toBe("cache");
  });

  it("build pods may reach only the dispatcher, buildkitd, DNS and the registry rule", () => {
    const policy = find("NetworkPolicy", "build-pods");
    expect(policy.spec.podSelector.matchLabels).toEqual({ "app.kubernetes.io/managed-by": "dockhand" });
    expect(policy.spec.policyTypes).toEqual(["Ingress", "Egress"]);
    const labels = (rule: any) => rule.to[0].podSelector?.matchLabels ?? {};
    const targets = policy.spec.egress.map((rule: any) => labels(rule)["app.kubernetes.io/name"] ?? labels(rule)["k8s-app"] ?? rule.to[0].ipBlock?.cidr);
    expect(targets).toEqual(["dockhand", "buildkitd", "kube-dns", "0.0.0.0/0"]);
  });
});
