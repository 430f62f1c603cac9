import { describe, expect, it } from "vitest";
import { parseChallenge } from "./auth-challenge.js";
import { credentialFor, credentialSourceFor } from "./docker-config.js";
import { imageIndex } from "./image-index.js";
import { checkImagePlatform } from "./platform-check.js";

const b64 = (text: string) => Buffer.from(text).toString("base64");

describe("credentialFor", () => {
  const config = JSON.stringify({
    auths: {
      "https://ghcr.io/v2/": { auth: b64("octo:ghp_secret:with:colons") },
      "127.0.0.1:15000": { username: "builder", password: "pw" },
      "https://index.docker.io/v1/": { auth: b64("hubuser:hubpw") },
      "myacr.azurecr.io": { auth: b64("00000000-0000-0000-0000-000000000000:"), identitytoken: "refresh-me" },
      "empty.example": {},
    },
  });
  const cases: [string, string, ReturnType<typeof credentialFor>][] = [
    ["a key with scheme and path", "ghcr.io", { kind: "basic", username: "octo", password: "ghp_secret:with:colons" }],
    ["username/password fields", "127.0.0.1:15000", { kind: "basic", username: "builder", password: "pw" }],
    ["Docker Hub under its v1 index URL", "docker.io", { kind: "basic", username: "hubuser", password: "hubpw" }],
    ["an identity token (OAuth2 refresh token)", "myacr.azurecr.io", { kind: "refresh-token", username: "00000000-0000-0000-0000-000000000000", refreshToken: "refresh-me" }],
    ["an entry without credentials", "empty.example", undefined],
    ["a registry not in the file", "quay.io", undefined],
  ];
  it.each(cases)("%s", (_name, host, expected) => {
    expect(credentialFor(config, host)).toEqual(expected);
  });

  it("says what is wrong with a file that is not a docker config", () => {
    expect(() => credentialFor("{", "ghcr.io")).toThrow(/not JSON/);
    expect(() => credentialFor(JSON.stringify({ auths: { "ghcr.io": { auth: b64("no-colon") } } }), "ghcr.io")).toThrow(/auths\["ghcr.io"\]\.auth/);
  });
});

describe("credentialSourceFor: docker's order of credHelpers, credsStore, auths", () => {
  const inline = { "127.0.0.1:15000": { auth: b64("builder:pw") } };
  const cases: [string, Record<string, unknown>, string, ReturnType<typeof credentialSourceFor>][] = [
    ["auths alone", { auths: inline }, "127.0.0.1:15000", { kind: "inline", credential: { kind: "basic", username: "builder", password: "pw" } }],
    [
      "credsStore holds every login; auths entries are only markers",
      { auths: { ...inline, "ghcr.io": {} }, credsStore: "desktop" },
      "ghcr.io",
      { kind: "helper", helper: "desktop", serverUrl: "ghcr.io", setting: "credsStore" },
    ],
    [
      "credsStore wins over an auths entry (docker asks the store)",
      { auths: inline, credsStore: "pass" },
      "127.0.0.1:15000",
      { kind: "helper", helper: "pass", serverUrl: "127.0.0.1:15000", setting: "credsStore" },
    ],
    [
      "credHelpers for this host win over credsStore",
      { credsStore: "desktop", credHelpers: { "123456789012.dkr.ecr.eu-west-1.amazonaws.com": "ecr-login" } },
      "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
      { kind: "helper", helper: "ecr-login", serverUrl: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", setting: "credHelpers" },
    ],
    [
      "credHelpers for another host leave this one to credsStore",
      { credsStore: "desktop", credHelpers: { "gcr.io": "gcloud" } },
      "ghcr.io",
      { kind: "helper", helper: "desktop", serverUrl: "ghcr.io", setting: "credsStore" },
    ],
    [
      "Docker Hub is asked for under its v1 index URL",
      { credsStore: "osxkeychain" },
      "docker.io",
      { kind: "helper", helper: "osxkeychain", serverUrl: "https://index.docker.io/v1/", setting: "credsStore" },
    ],
    ["an empty credsStore is no store", { credsStore: "", auths: inline }, "127.0.0.1:15000", { kind: "inline", credential: { kind: "basic", username: "builder", password: "pw" } }],
    ["nothing for this host", { auths: inline }, "quay.io", undefined],
  ];
  it.each(cases)("%s", (_name, config, host, expected) => {
    expect(credentialSourceFor(JSON.stringify(config), host)).toEqual(expected);
  });

  it("refuses a helper name that could be a path or an option, saying where it is", () => {
    expect(() => credentialSourceFor(JSON.stringify({ credsStore: "../../bin/sh" }), "ghcr.io")).toThrow(
      'docker config: credsStore must name a credential helper (docker-credential-<name> on PATH), got "../../bin/sh"',
    );
    expect(() => credentialSourceFor(JSON.stringify({ credHelpers: { "ghcr.io": "-x" } }), "ghcr.io")).toThrow(/credHelpers\["ghcr.io"\] must name/);
    expect(() => credentialSourceFor(JSON.stringify({ credHelpers: [] }), "ghcr.io")).not.toThrow();
    expect(() => credentialSourceFor("[]", "ghcr.io")).toThrow(/not a JSON object/);
  });

  it("credentialFor (a Secret's file, where no helper can run) reads auths only", () => {
    expect(credentialFor(JSON.stringify({ auths: inline, credsStore: "desktop" }), "127.0.0.1:15000")).toEqual({ kind: "basic", username: "builder", password: "pw" });
  });
});

describe("parseChallenge", () => {
  const cases: [string, string | null, ReturnType<typeof parseChallenge>][] = [
    [
      "Docker Hub's Bearer challenge",
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
      { scheme: "bearer", params: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:library/alpine:pull" } },
    ],
    ["a scope with two actions and an escaped quote", 'Bearer realm="https://a/t",scope="repository:a/b:pull,push",error="say \\"no\\""', { scheme: "bearer", params: { realm: "https://a/t", scope: "repository:a/b:pull,push", error: 'say "no"' } }],
    ["Basic", 'Basic realm="Registry Realm"', { scheme: "basic", params: { realm: "Registry Realm" } }],
    ["an unknown scheme", 'Negotiate abc', undefined],
    ["no header", null, undefined],
  ];
  it.each(cases)("%s", (_name, header, expected) => {
    expect(parseChallenge(header)).toEqual(expected);
  });
});

describe("imageIndex", () => {
  it("lists each platform with os.version only where there is one, and digests the exact bytes", () => {
    const index = imageIndex([
      { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: `sha256:${"a".repeat(64)}`, size: 480, platform: { os: "windows", architecture: "amd64", "os.version": "10.0.17763.6293" } },
      { mediaType: "application/vnd.docker.distribution.manifest.v2+json", digest: `sha256:${"b".repeat(64)}`, size: 525, platform: { os: "linux", architecture: "amd64" } },
    ]);
    expect(index.mediaType).toBe("application/vnd.oci.image.index.v1+json");
    expect(JSON.parse(index.bytes)).toEqual({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: `sha256:${"a".repeat(64)}`, size: 480, platform: { architecture: "amd64", os: "windows", "os.version": "10.0.17763.6293" } },
        { mediaType: "application/vnd.docker.distribution.manifest.v2+json", digest: `sha256:${"b".repeat(64)}`, size: 525, platform: { architecture: "amd64", os: "linux" } },
      ],
    });
    // The same document through sha256sum: the digest is of these exact bytes.
    expect(index.digest).toBe("sha256:ca539fc1379b56c58092f95e35fb5a4e52645fdb0c8f3ec690d4f3ae22b235d0");
  });

  it("refuses an empty index", () => {
    expect(() => imageIndex([])).toThrow(/at least one/);
  });
});

describe("checkImagePlatform", () => {
  const win = (version: string) => ({ os: "windows", architecture: "amd64", "os.version": version });
  const cases: [string, string, Parameters<typeof checkImagePlatform>[1], RegExp | undefined][] = [
    ["ltsc2019 image for ltsc2019", "windows/amd64:ltsc2019", win("10.0.17763.6293"), undefined],
    ["ltsc2022 image for ltsc2022", "windows/amd64:ltsc2022", win("10.0.20348.2700"), undefined],
    ["ltsc2025 image for ltsc2025", "windows/amd64:ltsc2025", win("10.0.26100.1742"), undefined],
    [
      "ltsc2019 image asked as ltsc2022",
      "windows/amd64:ltsc2022",
      win("10.0.17763.6293"),
      /^pushed image is os\.version 10\.0\.17763\.6293 but windows\/amd64:ltsc2022 needs 10\.0\.20348\.\*: the base image must match — use ARG NANOSERVER_TAG/,
    ],
    ["a prefix that is not the build", "windows/amd64:ltsc2019", win("10.0.177630"), /needs 10\.0\.17763\.\*/],
    ["a Linux image for Windows", "windows/amd64:ltsc2022", { os: "linux", architecture: "amd64" }, /^pushed image is linux\/amd64 but windows\/amd64:ltsc2022 needs a windows image/],
    ["a Windows image without os.version", "windows/amd64:ltsc2022", { os: "windows", architecture: "amd64" }, /os\.version \(none\)/],
    ["a Linux image for Linux", "linux/amd64", { os: "linux", architecture: "amd64" }, undefined],
    ["an arm64 image for linux/amd64", "linux/amd64", { os: "linux", architecture: "arm64" }, /pushed image is linux\/arm64 but linux\/amd64 needs linux\/amd64/],
    ["a Windows image for Linux", "linux/amd64", win("10.0.20348.2700"), /pushed image is windows\/amd64 10\.0\.20348\.2700 but linux\/amd64/],
  ];
  it.each(cases)("%s", (_name, requested, image, problem) => {
    const check = checkImagePlatform(requested, image);
    if (problem === undefined) expect(check).toEqual({ ok: true });
    else expect(check.ok === false && check.message).toMatch(problem);
  });
});
