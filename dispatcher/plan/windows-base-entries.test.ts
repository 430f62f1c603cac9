import { describe, expect, it } from "vitest";
import { planBuild } from "./build-plan.js";
import { jobManifests } from "./job-manifests.js";
import { contextUrl, testConfig, testRequest } from "./test-fixtures.js";
import { entryReference, namedContextKey, pickWindowsEntry, withPinnedBases } from "./windows-base-entries.js";

const entries = [
  { digest: "sha256:" + "1".repeat(64), os: "windows", architecture: "amd64", osVersion: "10.0.17763.6293" },
  { digest: "sha256:" + "2".repeat(64), os: "windows", architecture: "amd64", osVersion: "10.0.20348.2700" },
];

describe("pickWindowsEntry", () => {
  it("takes the entry of the platform's build", () => {
    expect(pickWindowsEntry("mcr.microsoft.com/dotnet/runtime:8.0", entries, "10.0.20348", "platforms[0]")).toBe(entries[1]);
  });

  it("leaves an index without Windows versions to BuildKit", () => {
    expect(pickWindowsEntry("busybox", [{ digest: "sha256:" + "3".repeat(64), os: "linux", architecture: "amd64" }], "10.0.20348", "platforms[0]")).toBeUndefined();
  });

  it("refuses a version the base does not have, naming the ones it has", () => {
    expect(() => pickWindowsEntry("mcr.microsoft.com/dotnet/runtime:8.0", entries, "10.0.26100", "platforms[2]")).toThrow(
      expect.objectContaining({
        status: 422,
        field: "platforms[2]",
        error: "platforms[2]: the base image mcr.microsoft.com/dotnet/runtime:8.0 has no entry for Windows 10.0.26100 (it has 10.0.17763.6293, 10.0.20348.2700)",
      }),
    );
  });

  it("names an entry by digest, without the tag", () => {
    expect(entryReference("127.0.0.1:15000/dockhand-test/multiversion:latest", entries[0]!.digest)).toBe(`127.0.0.1:15000/dockhand-test/multiversion@${entries[0]!.digest}`);
  });
});

describe("namedContextKey", () => {
  it.each([
    ["mcr.microsoft.com/dotnet/runtime:8.0", "mcr.microsoft.com/dotnet/runtime:8.0"],
    ["127.0.0.1:15000/dockhand-test/multiversion:latest", "127.0.0.1:15000/dockhand-test/multiversion"],
    ["docker.io/library/busybox:1.36", "busybox:1.36"],
    ["docker.io/octo/app", "octo/app"],
  ])("%s → %s (the familiar name, as BuildKit looks it up)", (image, key) => {
    expect(namedContextKey(image)).toBe(key);
  });
});

describe("a plan whose Windows base is pinned", () => {
  it("records the bases BuildKit platforms are FROM, and passes each pin as a named context", () => {
    const config = testConfig();
    const dockerfile = "ARG BASE=mcr.microsoft.com/dotnet/runtime:8.0\nFROM --platform=$BUILDPLATFORM golang:1.22 AS build\nRUN go build\nFROM ${BASE}\nCOPY --from=build /app C:/app\n";
    const plan = planBuild({ request: testRequest({ platforms: ["windows/amd64:ltsc2022", "linux/amd64"] }), config, dockerfile, buildId: "abcdefghijkl", contextUrl });
    expect(plan.platforms.map((p) => p.windowsBaseImages)).toEqual([["mcr.microsoft.com/dotnet/runtime:8.0"], undefined]);
    const pinned = withPinnedBases(plan, new Map([["win-ltsc2022", { "mcr.microsoft.com/dotnet/runtime:8.0": `mcr.microsoft.com/dotnet/runtime@${entries[1]!.digest}` }]]));
    const command = jobManifests(pinned, config)[0]!.spec!.template.spec!.containers[0]!.command!;
    expect(command).toContain(`--opt=context:mcr.microsoft.com/dotnet/runtime:8.0=docker-image://mcr.microsoft.com/dotnet/runtime@${entries[1]!.digest}`);
    expect(command).toContain("--opt=platform=windows/amd64");
  });
});
