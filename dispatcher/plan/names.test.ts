import { describe, expect, it } from "vitest";
import {
  buildIdFromKey,
  buildIdFromRandom,
  githubTokenSecretName,
  isBuildId,
  isDnsLabel,
  isLabelValue,
  jobName,
  repositoryHash,
  requestHash,
} from "./names.js";
import type { PlatformSlug } from "../protocol/platforms.js";

describe("build IDs", () => {
  it.each([
    { repository: "octo-org/app", key: "123/1/build/push", expected: buildIdFromKey("Octo-Org/App", "123/1/build/push") },
    { repository: "octo-org/app", key: "123/2/build/push", expected: undefined },
  ])("derive from (repository, key), case-insensitively: $key", ({ repository, key, expected }) => {
    const id = buildIdFromKey(repository, key);
    expect(isBuildId(id)).toBe(true);
    if (expected !== undefined) expect(id).toBe(expected);
    else expect(id).not.toBe(buildIdFromKey(repository, "123/1/build/push"));
  });

  it.each([
    { bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0], expected: "aaaaaaaaaaaa" },
    { bytes: [25, 255, 255, 255, 255, 255, 255, 255, 255], expected: "z77777777777" },
    { bytes: [26, 0b00001000, 0b01000010, 0, 0, 0, 0, 0, 0], expected: "abbbaaaaaaaa" },
  ])("encode random bytes as 12 base32 characters starting with a letter: $expected", ({ bytes, expected }) => {
    expect(buildIdFromRandom(Uint8Array.from(bytes))).toBe(expected);
  });

  it("refuses too few random bytes", () => {
    expect(() => buildIdFromRandom(new Uint8Array(4))).toThrow("at least 8");
  });
});

describe("Kubernetes names", () => {
  it.each<{ buildId: string; slug: PlatformSlug; expected: string }>([
    { buildId: "abcdefghijkl", slug: "linux-amd64", expected: "dh-abcdefghijkl-linux-amd64" },
    { buildId: "z77777777777", slug: "win-ltsc2019", expected: "dh-z77777777777-win-ltsc2019" },
    { buildId: "mnopqrstuvwx", slug: "win-ltsc2025", expected: "dh-mnopqrstuvwx-win-ltsc2025" },
  ])("job $expected is a DNS label", ({ buildId, slug, expected }) => {
    expect(jobName(buildId, slug)).toBe(expected);
    expect(isDnsLabel(expected)).toBe(true);
    expect(isDnsLabel(githubTokenSecretName(buildId))).toBe(true);
  });

  it.each([
    { repository: "octo-org/app", expected: repositoryHash("OCTO-ORG/APP") },
    { repository: "a-very-long-organisation-name-here/" + "x".repeat(100), expected: undefined },
  ])("repository hash is 16 hex digits: $repository", ({ repository, expected }) => {
    const hash = repositoryHash(repository);
    expect(hash).toMatch(/^[0-9a-f]{16}$/);
    expect(isLabelValue(hash)).toBe(true);
    if (expected !== undefined) expect(hash).toBe(expected);
  });

  it.each([
    { value: "", expected: true },
    { value: "a", expected: true },
    { value: "x".repeat(63), expected: true },
    { value: "x".repeat(64), expected: false },
    { value: "-a", expected: false },
    { value: "a.b_c-d", expected: true },
    { value: "a/b", expected: false },
  ])("isLabelValue($value) = $expected", ({ value, expected }) => {
    expect(isLabelValue(value)).toBe(expected);
  });
});

describe("requestHash", () => {
  it("ignores key order, undefined fields and the GitHub token", () => {
    const a = requestHash({ sha: "1", tags: ["x"], buildArgs: { B: "2", A: "1" }, githubToken: "t1", target: undefined });
    const b = requestHash({ buildArgs: { A: "1", B: "2" }, tags: ["x"], sha: "1", githubToken: "t2" });
    expect(a).toBe(b);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    { name: "another tag", other: { sha: "1", tags: ["x", "y"] } },
    { name: "tag order", other: { sha: "1", tags: ["z", "x"] } },
  ])("changes with $name", ({ other }) => {
    expect(requestHash({ sha: "1", tags: ["x", "z"] })).not.toBe(requestHash(other));
  });
});
