import type { V1ContainerImage, V1Node } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { evaluateCliImage, nodeStatusMaxImages } from "./cli-image.js";

const cli = "docker:29-windowsservercore-ltsc2022";
const cliOnNode: V1ContainerImage = {
  names: [`docker.io/library/docker@sha256:${"a".repeat(64)}`, "docker.io/library/docker:29-windowsservercore-ltsc2022"],
  sizeBytes: 5_400_000_000,
};
const other = (i: number): V1ContainerImage => ({ names: [`docker.io/library/other:${i}`], sizeBytes: 1000 + i });
const node = (name: string, images: V1ContainerImage[], ready = true): V1Node => ({
  metadata: { name },
  status: { conditions: [{ type: "Ready", status: ready ? "True" : "False" }], images },
});
const full = Array.from({ length: nodeStatusMaxImages }, (_, i) => other(i));

describe("evaluateCliImage", () => {
  const base = { version: "ltsc2022" as const, image: cli, daemonNamespace: "dockhand", podSelector: "app.kubernetes.io/name=docker-cli,dockhand.dev/windows-version=ltsc2022" };
  it.each([
    ["every Ready node holds it", [node("n1", [cliOnNode]), node("n2", [other(1), cliOnNode])], "ok", "docker:29-windowsservercore-ltsc2022 on every Ready node (n1, n2)"],
    ["a node without it: FAIL naming it", [node("n1", [cliOnNode]), node("n2", [other(1)])], "FAIL", "n2 does not hold docker:29-windowsservercore-ltsc2022"],
    ["a node not Ready is not asked", [node("n1", [cliOnNode]), node("n2", [], false)], "ok", "(n1)"],
    ["a full list without it: unknown, not FAIL", [node("n1", [cliOnNode]), node("n2", full)], "skip", "unknown on n2: its status lists 50 images"],
    ["one lacking and one full: FAIL names the first, says the second is unknown", [node("n1", []), node("n2", full)], "FAIL", "n1 does not hold"],
    ["49 images without it: it is not there", [node("n1", full.slice(1))], "FAIL", "n1 does not hold"],
    ["no Ready node", [node("n1", [], false)], "skip", "no Ready node"],
  ] as const)("%s", (_name, nodes, outcome, detail) => {
    const row = evaluateCliImage({ ...base, nodes: [...nodes] });
    expect(row.outcome).toBe(outcome);
    expect(row.detail).toContain(detail);
    if (outcome === "FAIL") expect(row.fix).toBeTruthy();
  });

  it("the fix names the DaemonSet, its namespace and how to see its pods", () => {
    const row = evaluateCliImage({ ...base, nodes: [node("n1", [])] });
    expect(row.fix).toContain("docker-cli-ltsc2022 DaemonSet (deploy/base/docker-cli-images.yaml) in dockhand");
    expect(row.fix).toContain("kubectl -n dockhand get pods -o wide -l app.kubernetes.io/name=docker-cli,dockhand.dev/windows-version=ltsc2022");
  });

  it("a pinned digest is matched by digest", () => {
    const pinned = `docker:29-windowsservercore-ltsc2022@sha256:${"a".repeat(64)}`;
    expect(evaluateCliImage({ ...base, image: pinned, nodes: [node("n1", [cliOnNode])] }).outcome).toBe("ok");
    const moved = `docker:29-windowsservercore-ltsc2022@sha256:${"f".repeat(64)}`;
    expect(evaluateCliImage({ ...base, image: moved, nodes: [node("n1", [cliOnNode])] }).outcome).toBe("FAIL");
  });

  it("without Node access: skip, with how to get the row", () => {
    const row = evaluateCliImage({ ...base, nodes: { unreadable: "this identity may not list Nodes" } });
    expect(row).toMatchObject({ outcome: "skip", detail: "not checked: this identity may not list Nodes" });
  });
});
