import { describe, expect, it } from "vitest";
import { formatImageReference, parseImageReference, registryHost, repositoryName } from "./image-reference.js";

const sha = "a".repeat(64);

describe("parseImageReference", () => {
  it.each([
    { input: "app", domain: undefined, path: "app", tag: undefined, digest: undefined, registry: "docker.io" },
    { input: "owner/app:1.0", domain: undefined, path: "owner/app", tag: "1.0", digest: undefined, registry: "docker.io" },
    { input: "ghcr.io/owner/app:latest", domain: "ghcr.io", path: "owner/app", tag: "latest", digest: undefined, registry: "ghcr.io" },
    { input: "127.0.0.1:15000/team/app:v1_2-3", domain: "127.0.0.1:15000", path: "team/app", tag: "v1_2-3", digest: undefined, registry: "127.0.0.1:15000" },
    { input: "localhost/app", domain: "localhost", path: "app", tag: undefined, digest: undefined, registry: "localhost" },
    { input: "localhost:5000/app", domain: "localhost:5000", path: "app", tag: undefined, digest: undefined, registry: "localhost:5000" },
    { input: "[::1]:5000/app:x", domain: "[::1]:5000", path: "app", tag: "x", digest: undefined, registry: "[::1]:5000" },
    { input: "Registry.Example.com/app", domain: "Registry.Example.com", path: "app", tag: undefined, digest: undefined, registry: "Registry.Example.com" },
    { input: `mcr.microsoft.com/windows/nanoserver:ltsc2022@sha256:${sha}`, domain: "mcr.microsoft.com", path: "windows/nanoserver", tag: "ltsc2022", digest: `sha256:${sha}`, registry: "mcr.microsoft.com" },
    { input: `app@sha256:${sha}`, domain: undefined, path: "app", tag: undefined, digest: `sha256:${sha}`, registry: "docker.io" },
    { input: "a/b__c/d-e.f--g:T", domain: undefined, path: "a/b__c/d-e.f--g", tag: "T", digest: undefined, registry: "docker.io" },
  ])("accepts $input", ({ input, domain, path, tag, digest, registry }) => {
    const result = parseImageReference(input);
    expect(result).toEqual({ ok: true, reference: { domain, path, tag, digest } });
    if (!result.ok) return;
    expect(formatImageReference(result.reference)).toBe(input);
    expect(registryHost(result.reference)).toBe(registry);
    expect(repositoryName(result.reference)).toBe(domain === undefined ? path : `${domain}/${path}`);
  });

  it.each([
    { input: "", problem: "is empty" },
    { input: "app name", problem: "contains whitespace" },
    { input: "Owner/App", problem: "has a repository name that is not lowercase" },
    { input: "ghcr.io/Owner/app", problem: "has a repository name that is not lowercase" },
    { input: "app:", problem: 'has an invalid tag "" (letters, digits, "_", "." and "-", at most 128, not starting with "." or "-")' },
    { input: "app:.hidden", problem: 'has an invalid tag ".hidden" (letters, digits, "_", "." and "-", at most 128, not starting with "." or "-")' },
    { input: `app:${"t".repeat(129)}`, problem: `has an invalid tag "${"t".repeat(129)}" (letters, digits, "_", "." and "-", at most 128, not starting with "." or "-")` },
    { input: "app:a:b", problem: 'has an invalid tag "a:b" (letters, digits, "_", "." and "-", at most 128, not starting with "." or "-")' },
    { input: "ghcr.io/", problem: "has no repository path after the registry" },
    { input: ":tag", problem: "has no repository name" },
    { input: "a//b", problem: 'has an invalid repository path component "" (lowercase letters and digits, separated by ".", "_", "__" or "-")' },
    { input: "a/-b", problem: 'has an invalid repository path component "-b" (lowercase letters and digits, separated by ".", "_", "__" or "-")' },
    { input: "a/b___c", problem: 'has an invalid repository path component "b___c" (lowercase letters and digits, separated by ".", "_", "__" or "-")' },
    { input: "bad_host.io:x/app", problem: 'has an invalid registry host "bad_host.io"' },
    { input: "host.io:12ab/app", problem: 'has an invalid registry port "12ab"' },
    { input: "-host.io/app", problem: 'has an invalid registry host "-host.io"' },
    { input: `${"a".repeat(256)}`, problem: "has a repository name longer than 255 characters" },
    { input: "f".repeat(64), problem: "is a 64-character hex string, which docker reads as an image ID, not a repository" },
    { input: "app@sha256:abc", problem: 'has an invalid digest "sha256:abc" (expected sha256:<64 hex digits>)' },
    { input: `app@md5:${"a".repeat(32)}`, problem: 'uses an unsupported digest algorithm "md5"' },
    { input: `app@sha256:${"A".repeat(64)}`, problem: "has an invalid digest: sha256 needs 64 lowercase hex digits" },
    { input: `app@sha256:${"a".repeat(63)}`, problem: "has an invalid digest: sha256 needs 64 lowercase hex digits" },
  ])("rejects $input", ({ input, problem }) => {
    expect(parseImageReference(input)).toEqual({ ok: false, problem });
  });
});
