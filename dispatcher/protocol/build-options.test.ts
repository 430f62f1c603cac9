import { describe, expect, it } from "vitest";
import { formatCacheEntry, parseAnnotation, parseCacheEntry, parseProvenance, parseSbom, secretIdProblem } from "./build-options.js";

describe("parseCacheEntry: build-push-action's cache-from / cache-to entries, registry only", () => {
  it.each([
    ["a bare reference is type=registry", "ghcr.io/o/app:cache", "from", "type=registry,ref=ghcr.io/o/app:cache"],
    ["type and ref", "type=registry,ref=ghcr.io/o/app:cache", "from", "type=registry,ref=ghcr.io/o/app:cache"],
    ["ref alone in CSV form", "ref=ghcr.io/o/app:cache", "from", "type=registry,ref=ghcr.io/o/app:cache"],
    ["cache-to keeps mode and its other attributes, in order", "type=registry,ref=r.example/app:c,mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true", "to", "type=registry,ref=r.example/app:c,mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true"],
    ["cache-from by digest", `r.example/app@sha256:${"a".repeat(64)}`, "from", `type=registry,ref=r.example/app@sha256:${"a".repeat(64)}`],
  ] as const)("%s", (_name, value, direction, buildctl) => {
    const parsed = parseCacheEntry(value, direction);
    expect(parsed.ok && formatCacheEntry(parsed.entry)).toBe(buildctl);
  });

  it.each([
    ["the runner's GitHub cache", "type=gha", "to", 'has type="gha"; dockhand\'s builders run in the cluster'],
    ["a runner directory", "type=local,src=/tmp/cache", "from", 'has "src", which dockhand does not pass on'],
    ["inline cache", "type=inline", "to", 'has type="inline"'],
    ["mode on cache-from", "type=registry,ref=r.example/a:c,mode=max", "from", 'has "mode", which dockhand does not pass on'],
    ["an unknown mode", "type=registry,ref=r.example/a:c,mode=all", "to", 'has mode="all"'],
    ["registry.insecure, the operator's to set", "type=registry,ref=r.example/a:c,registry.insecure=true", "to", "sets registry.insecure"],
    ["no ref", "type=registry,mode=max", "to", "names no ref"],
    ["a bad reference", "Upper/Case:x", "from", 'ref "Upper/Case:x"'],
    ["cache-to by digest", `r.example/app@sha256:${"a".repeat(64)}`, "to", "has a digest"],
    ["a field without =", "type=registry,ref=r.example/a:c,max", "to", 'has "max", which is not key=value'],
  ] as const)("refuses %s", (_name, value, direction, problem) => {
    const parsed = parseCacheEntry(value, direction);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.problem).toContain(problem);
      expect(parsed.hint).toMatch(/type=registry|leave it out|use |write it|give|remove/);
    }
  });
});

describe("parseAnnotation: docker/metadata-action's annotations output", () => {
  it.each([
    ["plain means manifest", "org.opencontainers.image.title=app", { level: "manifest", key: "org.opencontainers.image.title", value: "app" }],
    ["manifest:", "manifest:org.opencontainers.image.description=An app, with commas=and equals", { level: "manifest", key: "org.opencontainers.image.description", value: "An app, with commas=and equals" }],
    ["index:", "index:org.opencontainers.image.version=1.0", { level: "index", key: "org.opencontainers.image.version", value: "1.0" }],
    ["manifest-descriptor:", "manifest-descriptor:org.opencontainers.image.created=2026-01-01T00:00:00Z", { level: "manifest-descriptor", key: "org.opencontainers.image.created", value: "2026-01-01T00:00:00Z" }],
    ["a URL value keeps its colons", "org.opencontainers.image.source=https://github.com/o/app", { level: "manifest", key: "org.opencontainers.image.source", value: "https://github.com/o/app" }],
    ["an empty value", "index:org.opencontainers.image.licenses=", { level: "index", key: "org.opencontainers.image.licenses", value: "" }],
  ])("%s", (_name, value, annotation) => {
    expect(parseAnnotation(value)).toEqual({ ok: true, annotation });
  });

  it.each([
    ["no =", "org.opencontainers.image.title", "is not [type:]key=value"],
    ["an unknown type", "layer:k=v", 'has the type "layer"'],
    ["a platform-qualified type", "manifest[linux/amd64]:k=v", "names one type and no platform"],
    ["several types", "index,manifest:k=v", "names one type and no platform"],
    ["a key with a space", "manifest:my key=v", "is not an annotation key"],
    ["a line break in the value", "k=a\nb", "line break"],
  ])("refuses %s", (_name, value, problem) => {
    const parsed = parseAnnotation(value);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problem).toContain(problem);
  });
});

describe("attestations and secret ids", () => {
  it.each([
    ["", undefined], ["false", undefined], ["FALSE", undefined], ["true", "min"], ["mode=min", "min"], ["mode=max", "max"],
  ])("provenance %j → %j", (value, mode) => {
    expect(parseProvenance(value)).toEqual({ ok: true, value: mode });
  });
  it("refuses a provenance it cannot pass on", () => {
    expect(parseProvenance("mode=full")).toMatchObject({ ok: false, hint: "use true (mode=min), mode=max, or false" });
    expect(parseProvenance("builder-id=x")).toMatchObject({ ok: false });
  });
  it.each([
    ["", undefined], ["false", undefined], ["true", { generator: undefined }], ["generator=r.example/scanner:1", { generator: "r.example/scanner:1" }],
  ])("sbom %j → %j", (value, setting) => {
    expect(parseSbom(value)).toEqual({ ok: true, value: setting });
  });
  it("refuses an sbom setting it cannot pass on", () => {
    expect(parseSbom("generator=Not A Ref")).toMatchObject({ ok: false });
    expect(parseSbom("yes")).toMatchObject({ ok: false, hint: "use true, generator=<scanner image>, or false" });
  });
  it.each([
    ["GIT_AUTH_TOKEN", undefined], ["npmrc", undefined], ["a.b-c_d", undefined],
    ["", "is empty"], [".", "is not a secret id"], ["..", "is not a secret id"], ["a/b", "is not a secret id"], ["a b", "is not a secret id"], ["x".repeat(129), "is longer than 128 characters"],
  ])("secret id %j", (id, problem) => {
    const found = secretIdProblem(id);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toContain(problem);
  });
});
