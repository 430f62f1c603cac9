import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { nodesHoldingCliImages } from "./docker-cli-pods.js";

const pod = (node: string, version: string, image: string, exitCode: number | undefined, deleting = false): V1Pod => ({
  metadata: { name: `docker-cli-${version}-${node}`, labels: { "app.kubernetes.io/name": "docker-cli", "dockhand.dev/windows-version": version }, ...(deleting ? { deletionTimestamp: new Date() } : {}) },
  spec: { nodeName: node, initContainers: [{ name: "docker-cli", image }], containers: [{ name: "pause", image: "registry.k8s.io/pause:3.10.2" }] },
  status: { initContainerStatuses: exitCode === undefined ? [] : [{ name: "docker-cli", ready: false, restartCount: 0, image, imageID: "", state: { terminated: { exitCode } } }] },
});

describe("nodesHoldingCliImages", () => {
  it("counts a node whose docker-cli pod ran the image the config names for its version, and only that", () => {
    const images = { ltsc2022: "docker:29-windowsservercore-ltsc2022", ltsc2025: "docker:29-windowsservercore-ltsc2025" };
    const held = nodesHoldingCliImages(
      [
        pod("n1", "ltsc2022", "docker:29-windowsservercore-ltsc2022", 0),
        pod("n2", "ltsc2022", "docker:29-windowsservercore-ltsc2022", undefined), // still pulling
        pod("n3", "ltsc2022", "docker:28-windowsservercore-ltsc2022", 0), // before an image change reached it
        pod("n4", "ltsc2022", "docker.io/library/docker:29-windowsservercore-ltsc2022", 0), // the same image, spelt in full
        pod("n5", "ltsc2022", "docker:29-windowsservercore-ltsc2022", 1), // the image does not run there
        pod("n6", "ltsc2022", "docker:29-windowsservercore-ltsc2022", 0, true), // going away
        pod("w1", "ltsc2025", "docker:29-windowsservercore-ltsc2025", 0),
        pod("x1", "ltsc2019", "docker:29-windowsservercore-1809", 0), // no image configured for it
      ],
      images,
    );
    expect(Object.fromEntries([...held].map(([version, nodes]) => [version, [...nodes].sort()]))).toEqual({ ltsc2022: ["n1", "n4"], ltsc2025: ["w1"] });
  });
});
