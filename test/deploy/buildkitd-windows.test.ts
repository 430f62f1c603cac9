// deploy/components/buildkitd-windows-<version> (issue 16): off by default,
// enabled per Windows version by listing the component, accepted by the
// bed's real API server, and pinned to the BuildKit release dockhand's Linux
// pool uses. The DaemonSets are not run on the bed: its Windows nodes are
// emulated and have no containerd to drive (docs/deploy.md).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kubectl, type Manifest, render, repoRoot } from "./deployed.js";
import { ConfigSchema, defaultBuildctlWindowsImages } from "../../dispatcher/config/schema.js";
import { windowsBaseTags } from "../../dispatcher/plan/windows-base-tags.js";
import { windowsBuilds, windowsVersions } from "../../dispatcher/protocol/platforms.js";

let dir: string;
beforeAll(() => {
  // A server-side dry run does not create the Namespace: create it for real first (as manifests.test.ts does), so this file passes run alone.
  const namespace = render("deploy/base").find((m) => m.kind === "Namespace")!;
  const created = kubectl(["apply", "-f", "-"], JSON.stringify(namespace));
  expect(created.status, created.stderr).toBe(0);
  // kustomize takes only relative paths to bases and components, so the overlay enabling them lives in the tree for the test's length.
  dir = mkdtempSync(join(repoRoot, "test", "deploy", ".kustomize-"));
  const up = relative(dir, repoRoot);
  writeFileSync(
    join(dir, "kustomization.yaml"),
    [
      "apiVersion: kustomize.config.k8s.io/v1beta1",
      "kind: Kustomization",
      "resources:",
      `  - ${up}/deploy/base`,
      "components:",
      ...windowsVersions.map((version) => `  - ${up}/deploy/components/buildkitd-windows-${version}`),
      "",
    ].join("\n"),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pinnedBuildKit = /:(v\d+\.\d+\.\d+)$/.exec((ConfigSchema.properties.buildkit.properties.image as { default: string }).default)![1]!;

describe("buildkitd on the Windows nodes", () => {
  it("is not in the base: off until an overlay lists a version's component", () => {
    expect(render("deploy/base").filter((m) => (m.metadata.labels as Record<string, string> | undefined)?.["app.kubernetes.io/name"] === "buildkitd-windows")).toEqual([]);
  });

  it("each version's component adds one HostProcess DaemonSet on that version's nodes, serving \\\\.\\pipe\\buildkitd over the node's containerd", () => {
    const daemonSets = render(relative(repoRoot, dir)).filter((m: Manifest) => m.kind === "DaemonSet" && m.metadata.name.startsWith("buildkitd-"));
    expect(daemonSets.map((m) => m.metadata.name).sort()).toEqual(windowsVersions.map((v) => `buildkitd-${v}`));
    for (const version of windowsVersions) {
      const ds = daemonSets.find((m) => m.metadata.name === `buildkitd-${version}`)!;
      expect(ds.metadata.namespace).toBe("dockhand");
      const pod = ds.spec.template.spec;
      expect(pod.nodeSelector).toEqual({ "kubernetes.io/os": "windows", "node.kubernetes.io/windows-build": windowsBuilds[version] });
      expect(pod.securityContext.windowsOptions).toMatchObject({ hostProcess: true, runAsUserName: "NT AUTHORITY\\SYSTEM" });
      const container = pod.containers[0];
      expect(container.args).toEqual(expect.arrayContaining(["--addr=npipe:////./pipe/buildkitd", "--containerd-worker-addr=npipe:////./pipe/containerd-containerd", "--containerd-worker-namespace=buildkit"]));
      expect(container.image).toBe(`ghcr.io/dockhand-dev/buildkitd-windows:${pinnedBuildKit}`);
    }
  });

  it("the image's Dockerfile fetches the same BuildKit release", () => {
    const dockerfile = readFileSync(join(repoRoot, "deploy/images/buildkitd-windows/Dockerfile"), "utf8");
    expect(dockerfile).toContain(`ARG BUILDKIT_VERSION=${pinnedBuildKit}\n`);
  });

  it("the build Jobs' buildctl image: the same release, on the Nano Server tag MCR publishes for each version, one default per version", () => {
    const dockerfile = readFileSync(join(repoRoot, "deploy/images/buildctl-windows/Dockerfile"), "utf8");
    expect(dockerfile).toContain(`ARG BUILDKIT_VERSION=${pinnedBuildKit}\n`);
    expect(dockerfile).toContain("FROM mcr.microsoft.com/windows/nanoserver:${WINDOWS_VERSION}\n");
    // Each documented build names the tag MCR has for that version (nanoserver:1809, never :ltsc2019) and the tag the config defaults to.
    const builds = [...dockerfile.matchAll(/--build-arg WINDOWS_VERSION=(\S+) \\\n#\s+--push -t \S+\/buildctl-windows:(\S+) /g)].map((m) => [m[1], m[2]]);
    expect(builds).toEqual(windowsVersions.map((version) => [windowsBaseTags.nanoserver[version], `${pinnedBuildKit}-${version}`]));
    for (const version of windowsVersions) expect(defaultBuildctlWindowsImages[version]).toBe(`ghcr.io/dockhand-dev/buildctl-windows:${pinnedBuildKit}-${version}`);
  });

  it("the API server accepts base + every component (server-side dry run)", () => {
    const result = kubectl(["apply", "--dry-run=server", "--validate=strict", "-k", relative(repoRoot, dir)]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/daemonset.apps\/buildkitd-ltsc2022 created \(server dry run\)/);
  });
});
