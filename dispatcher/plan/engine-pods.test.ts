import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { engineReady } from "./engine-pods.js";

const status = (name: string, ready: boolean, waiting?: string): V1ContainerStatus => ({
  name,
  ready,
  image: "ghcr.io/dockhand-dev/dockerd-hostprocess:29.8.2",
  imageID: "",
  restartCount: waiting ? 5 : 0,
  state: waiting ? { waiting: { reason: waiting } } : { running: {} },
});

const pod = (phase: string, statuses: V1ContainerStatus[], podReady = statuses.every((s) => s.ready)): V1Pod => ({
  metadata: { name: "dockerd-ltsc2022-x" },
  spec: { nodeName: "win-ltsc2022-0", containers: statuses.map(({ name }) => ({ name })) },
  status: { phase, containerStatuses: statuses, conditions: [{ type: "Ready", status: podReady ? "True" : "False" }] },
});

describe("engineReady", () => {
  it("takes builds while dockerd is Ready, even when node-gc crash-loops (the pod is not Ready then)", () => {
    expect(engineReady(pod("Running", [status("dockerd", true), status("node-gc", false, "CrashLoopBackOff")]))).toBe(true);
  });

  it("takes none while dockerd is not Ready, however node-gc is", () => {
    expect(engineReady(pod("Running", [status("dockerd", false), status("node-gc", true)]))).toBe(false);
  });

  it("takes none from a pod that is not Running (Pending, or Failed after a node reboot)", () => {
    expect(engineReady(pod("Pending", [status("dockerd", true)]))).toBe(false);
    expect(engineReady(pod("Failed", [status("dockerd", true)]))).toBe(false);
  });

  it("reads buildkitd-windows pods by their buildkitd container", () => {
    expect(engineReady(pod("Running", [status("buildkitd", true)]))).toBe(true);
    expect(engineReady(pod("Running", [status("buildkitd", false)]))).toBe(false);
  });

  it("falls back to the pod's Ready condition when an overlay renamed the engine container", () => {
    expect(engineReady(pod("Running", [status("engine", true)]))).toBe(true);
    expect(engineReady(pod("Running", [status("engine", false)]))).toBe(false);
  });
});
