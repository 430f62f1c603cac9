import type { V1Node, V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { evaluatePool, toleratesTaint, untoleratedTaints } from "./pools.js";
import { exitCode } from "./report.js";

const gke = { key: "node.kubernetes.io/os", value: "windows", effect: "NoSchedule" };

describe("toleratesTaint (the scheduler's rule, k8s.io/api/core/v1 toleration.go)", () => {
  it.each([
    ["Equal, same key, value and effect", { key: "node.kubernetes.io/os", operator: "Equal", value: "windows", effect: "NoSchedule" }, true],
    ["operator defaults to Equal", { key: "node.kubernetes.io/os", value: "windows", effect: "NoSchedule" }, true],
    ["Equal, other value", { key: "node.kubernetes.io/os", operator: "Equal", value: "linux", effect: "NoSchedule" }, false],
    ["other key", { key: "os", operator: "Equal", value: "windows", effect: "NoSchedule" }, false],
    ["Exists on the key, any value", { key: "node.kubernetes.io/os", operator: "Exists" }, true],
    ["empty effect matches every effect", { key: "node.kubernetes.io/os", operator: "Equal", value: "windows" }, true],
    ["other effect", { key: "node.kubernetes.io/os", operator: "Equal", value: "windows", effect: "NoExecute" }, false],
    ["empty key with Exists tolerates everything", { operator: "Exists" }, true],
  ])("%s", (_name, toleration, expected) => {
    expect(toleratesTaint(toleration, gke)).toBe(expected);
  });

  it("PreferNoSchedule keeps no pod off a node", () => {
    expect(untoleratedTaints([{ key: "a", effect: "PreferNoSchedule" }, { key: "b", effect: "NoExecute" }], [])).toEqual([{ key: "b", effect: "NoExecute" }]);
  });
});

const node = (name: string, ready: boolean, taints = [gke]): V1Node => ({
  metadata: { name },
  spec: { taints },
  status: { conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
});
const running = (name: string, ready: boolean) => ({ name, ready, image: "", imageID: "", restartCount: 0, state: { running: {} } });
const dockerd = (name: string, nodeName: string, ready: boolean, nodeGc: "running" | "crashing" | "absent" = "running"): V1Pod => ({
  metadata: { name },
  spec: { nodeName, containers: [{ name: "dockerd" }, ...(nodeGc === "absent" ? [] : [{ name: "node-gc" }])] },
  status: {
    phase: "Running",
    conditions: [{ type: "Ready", status: ready && nodeGc === "running" ? "True" : "False" }],
    containerStatuses: [
      running("dockerd", ready),
      ...(nodeGc === "running" ? [running("node-gc", true)] : []),
      ...(nodeGc === "crashing" ? [{ name: "node-gc", ready: false, image: "", imageID: "", restartCount: 4, state: { waiting: { reason: "CrashLoopBackOff" } } }] : []),
    ],
  },
});

describe("evaluatePool", () => {
  const base = { version: "ltsc2022" as const, selector: { agentpool: "win22" }, tolerations: [gke], daemonNamespace: "dockhand" };
  it.each([
    ["healthy", [node("n1", true)], [dockerd("d1", "n1", true)], ["ok", "ok", "ok"]],
    ["no nodes", [], [], ["FAIL", "FAIL", "skip"]],
    ["a Ready node without dockerd", [node("n1", true), node("n2", true)], [dockerd("d1", "n1", true)], ["ok", "FAIL", "ok"]],
    ["dockerd not Ready", [node("n1", true)], [dockerd("d1", "n1", false)], ["ok", "FAIL", "ok"]],
    ["untolerated taint", [node("n1", true, [{ key: "os", value: "windows", effect: "NoSchedule" }])], [dockerd("d1", "n1", true)], ["FAIL", "ok", "ok"]],
    ["no node Ready", [node("n1", false)], [], ["FAIL", "FAIL", "skip"]],
    ["node-gc crash-looping: dockerd still takes builds", [node("n1", true)], [dockerd("d1", "n1", true, "crashing")], ["ok", "ok", "FAIL"]],
    ["a dockerd DaemonSet without node-gc", [node("n1", true)], [dockerd("d1", "n1", true, "absent")], ["ok", "ok", "FAIL"]],
  ] as const)("%s", (_name, nodes, pods, outcomes) => {
    const rows = evaluatePool({ ...base, nodes: [...nodes], dockerdPods: [...pods] });
    expect(rows.map((row) => row.outcome)).toEqual(outcomes);
    for (const row of rows) if (row.outcome === "FAIL") expect(row.fix).toBeTruthy();
  });

  it("where BuildKit runs on the pool too: a row for its buildkitd pods, FAIL naming the node without one and the component to list", () => {
    const healthy = evaluatePool({ ...base, nodes: [node("n1", true)], dockerdPods: [dockerd("d1", "n1", true)], buildkitdPods: [dockerd("b1", "n1", true)] });
    expect(healthy.map((row) => [row.name, row.outcome])).toEqual([
      ["pool ltsc2022: nodes", "ok"],
      ["pool ltsc2022: dockerd", "ok"],
      ["pool ltsc2022: node-gc", "ok"],
      ["pool ltsc2022: buildkitd", "ok"],
    ]);
    const missing = evaluatePool({ ...base, nodes: [node("n1", true), node("n2", true)], dockerdPods: [dockerd("d1", "n1", true), dockerd("d2", "n2", true)], buildkitdPods: [dockerd("b1", "n1", true)] });
    expect(missing[3]).toMatchObject({
      name: "pool ltsc2022: buildkitd",
      outcome: "FAIL",
      detail: expect.stringContaining("no buildkitd pod on n2 (namespace dockhand, labels app.kubernetes.io/name=buildkitd-windows,dockhand.dev/windows-version=ltsc2022)"),
      fix: expect.stringContaining("kubectl -n dockhand describe ds buildkitd-ltsc2022"),
    });
    const none = evaluatePool({ ...base, nodes: [node("n1", true)], dockerdPods: [dockerd("d1", "n1", true)], buildkitdPods: [] });
    expect(none[3]).toMatchObject({ outcome: "FAIL", fix: expect.stringContaining("list deploy/components/buildkitd-windows-ltsc2022 in your overlay") });
  });

  it("a crash-looping node-gc: its own row says so and where its refusal is, while the dockerd row stays ok", () => {
    const rows = evaluatePool({ ...base, nodes: [node("n1", true)], dockerdPods: [dockerd("d1", "n1", true, "crashing")] });
    expect(rows[2]).toEqual({
      name: "pool ltsc2022: node-gc",
      outcome: "FAIL",
      detail: "d1 on n1: CrashLoopBackOff, 4 restarts; builds still go there, but nothing frees the node's disk",
      fix: "kubectl -n dockhand logs d1 -c node-gc --previous: it names the flag it refused or the error it met",
    });
  });

  it("without Node access: nodes not checked, dockerd judged on its pods", () => {
    const rows = evaluatePool({ ...base, nodes: { unreadable: "this identity may not list Nodes" }, dockerdPods: [dockerd("d1", "n1", true)] });
    expect(rows.map((row) => row.outcome)).toEqual(["skip", "ok", "ok"]);
    expect(exitCode(rows)).toBe(2);
  });
});

describe("exitCode", () => {
  it.each([
    [[], 0],
    [["ok", "ok"], 0],
    [["ok", "skip"], 2],
    [["skip", "FAIL"], 1],
  ] as const)("%j → %i", (outcomes, code) => {
    expect(exitCode(outcomes.map((outcome) => ({ name: "x", outcome, detail: "" })))).toBe(code);
  });
});
