import { describe, expect, it } from "vitest";
import { parseImageReference } from "../protocol/image-reference.js";
import { apiRepository, entryPlatform, indexEntries } from "./index-entries.js";

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const imageRecord = (os: string, version?: string, c = "a") => ({
  os,
  architecture: "amd64",
  ...(version ? { "os.version": version } : {}),
  digest: digest(c),
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  size: 480,
});

describe("entryPlatform", () => {
  const cases: [string, string, ReturnType<typeof imageRecord>, object][] = [
    ["a Windows image: its full os.version", "windows/amd64:ltsc2022", imageRecord("windows", "10.0.20348.2700"), { os: "windows", architecture: "amd64", "os.version": "10.0.20348.2700" }],
    ["a Linux image: no os.version", "linux/amd64", imageRecord("linux"), { os: "linux", architecture: "amd64" }],
    // validatePlatform off and a Linux image pushed for Windows (the bed's emulated dockerd): the platform asked for.
    ["a mismatch accepted: the platform asked for, with its build", "windows/amd64:ltsc2019", imageRecord("linux"), { os: "windows", architecture: "amd64", "os.version": "10.0.17763" }],
  ];
  it.each(cases)("%s", (_name, requested, record, expected) => {
    expect(entryPlatform(requested, record)).toEqual(expected);
  });
});

describe("indexEntries", () => {
  it("lists the platforms in platform order, whatever order they finished in", () => {
    const entries = indexEntries([
      { platform: "windows/amd64:ltsc2022", name: "b win", record: imageRecord("windows", "10.0.20348.2700", "2") },
      { platform: "linux/amd64", name: "b linux", record: imageRecord("linux", undefined, "1") },
    ]);
    expect(entries.map((e) => [e.digest, e.platform.os])).toEqual([
      [digest("1"), "linux"],
      [digest("2"), "windows"],
    ]);
  });

  it("follows each image with the attestation manifests BuildKit pushed for it, as its attestation storage lays them out", () => {
    const attestation = { digest: digest("3"), mediaType: "application/vnd.oci.image.manifest.v1+json", size: 840 };
    const entries = indexEntries([
      { platform: "linux/amd64", name: "b linux", record: { ...imageRecord("linux", undefined, "1"), attestations: [attestation] } },
      { platform: "windows/amd64:ltsc2022", name: "b win", record: imageRecord("windows", "10.0.20348.2700", "2") },
    ]);
    expect(entries).toEqual([
      { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: digest("1"), size: 480, platform: { os: "linux", architecture: "amd64" } },
      {
        ...attestation,
        platform: { os: "unknown", architecture: "unknown" },
        annotations: { "vnd.docker.reference.digest": digest("1"), "vnd.docker.reference.type": "attestation-manifest" },
      },
      { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: digest("2"), size: 480, platform: { os: "windows", architecture: "amd64", "os.version": "10.0.20348.2700" } },
    ]);
  });

  it("refuses a platform with no image record, naming it", () => {
    expect(() => indexEntries([{ platform: "linux/amd64", name: "dh-x-linux-amd64", record: undefined }])).toThrow("dh-x-linux-amd64: succeeded without an image record");
  });
});

describe("apiRepository", () => {
  const cases: [string, string][] = [
    ["127.0.0.1:15000/team/app:1", "team/app"],
    ["alpine:3", "library/alpine"],
    ["ghcr.io/octo/app:1", "octo/app"],
  ];
  it.each(cases)("%s → %s", (reference, expected) => {
    const parsed = parseImageReference(reference);
    if (!parsed.ok) throw new Error(parsed.problem);
    expect(apiRepository(parsed.reference)).toBe(expected);
  });
});
