import { describe, expect, it } from "vitest";
import { admitDockerdBuilds, type AdmissionInput } from "./dockerd-admission.js";

const t = (second: number) => new Date(Date.UTC(2026, 11, 4, 12, 0, second)).toISOString();
const node = (name: string, version: string, ready = true) => ({ node: name, version, ready });

describe("admitDockerdBuilds", () => {
  it.each<{ name: string; input: AdmissionInput; expected: Record<string, unknown> }>([
    {
      name: "limit 1, three builds, one node: the oldest runs, the others wait in line",
      input: {
        queued: [
          { job: "c", version: "ltsc2022", createdAt: t(3) },
          { job: "a", version: "ltsc2022", createdAt: t(1) },
          { job: "b", version: "ltsc2022", createdAt: t(2) },
        ],
        running: [],
        nodes: [node("win-ltsc2022-0", "ltsc2022")],
        maxBuildsPerNode: 1,
      },
      expected: {
        a: { admit: true, node: "win-ltsc2022-0" },
        b: { admit: false, reason: "waiting for a free build slot on the ltsc2022 pool (1 node × 1 build, all busy)" },
        c: { admit: false, reason: "waiting for a free build slot on the ltsc2022 pool (1 node × 1 build, all busy, 1 ahead)" },
      },
    },
    {
      name: "the least busy Ready node of the build's own version; a node not Ready gets nothing",
      input: {
        queued: [{ job: "a", version: "ltsc2022", createdAt: t(1) }, { job: "b", version: "ltsc2022", createdAt: t(2) }],
        running: [{ job: "r", node: "n1" }],
        nodes: [node("n1", "ltsc2022"), node("n2", "ltsc2022"), node("n3", "ltsc2022", false), node("w25", "ltsc2025")],
        maxBuildsPerNode: 2,
      },
      expected: { a: { admit: true, node: "n2" }, b: { admit: true, node: "n1" } },
    },
    {
      name: "a buildkit-windows build waits for a Ready buildkitd, not a dockerd, and a node's slots count both engines' builds",
      input: {
        queued: [
          { job: "k1", version: "ltsc2022", engine: "buildkitd", createdAt: t(1) },
          { job: "d1", version: "ltsc2022", createdAt: t(2) },
          { job: "k2", version: "ltsc2025", engine: "buildkitd", createdAt: t(3) },
          { job: "k3", version: "ltsc2022", engine: "buildkitd", createdAt: t(4) },
        ],
        running: [{ job: "r", node: "n1" }],
        nodes: [
          node("n1", "ltsc2022"),
          { node: "n1", version: "ltsc2022", engine: "buildkitd", ready: true },
          node("n2", "ltsc2022"),
          { node: "n2", version: "ltsc2022", engine: "buildkitd", ready: false },
          node("w25", "ltsc2025"),
        ],
        maxBuildsPerNode: 2,
      },
      expected: {
        k1: { admit: true, node: "n1" },
        d1: { admit: true, node: "n2" },
        k2: { admit: false, reason: "waiting for a ltsc2025 node with a buildkitd pod (no buildkitd-ltsc2025 pod is scheduled)" },
        k3: { admit: false, reason: "waiting for a free build slot on the ltsc2022 pool (1 node × 2 builds, all busy)" },
      },
    },
    {
      name: "a node that holds the docker CLI image before a less busy one still pulling it (a node just joined); without a free holder, the free one",
      input: {
        queued: [
          { job: "a", version: "ltsc2022", createdAt: t(1) },
          { job: "b", version: "ltsc2022", createdAt: t(2) },
          { job: "c", version: "ltsc2022", createdAt: t(3) },
        ],
        running: [{ job: "r", node: "old" }],
        nodes: [{ ...node("new", "ltsc2022"), holdsCliImage: false }, { ...node("old", "ltsc2022"), holdsCliImage: true }],
        maxBuildsPerNode: 2,
      },
      expected: { a: { admit: true, node: "old" }, b: { admit: true, node: "new" }, c: { admit: true, node: "new" } },
    },
    {
      name: "no Ready engine: waits and says so",
      input: {
        queued: [{ job: "a", version: "ltsc2025", createdAt: t(1) }],
        running: [],
        nodes: [node("w25", "ltsc2025", false), node("n1", "ltsc2022")],
        maxBuildsPerNode: 2,
      },
      expected: { a: { admit: false, reason: "waiting for a Ready dockerd on the ltsc2025 pool (1 node, none Ready)" } },
    },
    {
      name: "no dockerd pod of that version at all",
      input: { queued: [{ job: "a", version: "ltsc2019", createdAt: t(1) }], running: [], nodes: [node("n1", "ltsc2022")], maxBuildsPerNode: 2 },
      expected: { a: { admit: false, reason: "waiting for a ltsc2019 node with a dockerd pod (no dockerd-ltsc2019 pod is scheduled)" } },
    },
  ])("$name", ({ input, expected }) => {
    expect(Object.fromEntries(admitDockerdBuilds(input))).toEqual(expected);
  });
});
