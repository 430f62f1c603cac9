// The build options docker/build-push-action users reach for — secrets,
// registry cache, annotations, attestations — as both sides parse them: the
// Action checks its inputs with these before it uploads anything, the
// dispatcher checks the request with the same functions. Plain values and
// pure functions, no TypeBox: the Action's bundle imports this.
//
// Formats are build-push-action's (its action.yml and buildx's parsers):
// cache entries `user/app:cache` or `type=registry,ref=…,mode=max`,
// annotations `[manifest:|index:|manifest-descriptor:|index-descriptor:]key=value`
// as docker/metadata-action outputs them, provenance `true|false|mode=min|mode=max`,
// sbom `true|false|generator=<image>`.

import { parseImageReference } from "./image-reference.js";

// BuildKit secret ids become file names in a Kubernetes Secret volume: the
// Secret key rule (`[-._a-zA-Z0-9]+`), without "." and "..".
export const secretIdPattern = "^[A-Za-z0-9_.-]+$";
export const maxSecretIdLength = 128;
export const maxSecrets = 32;
/** Per value, and all values together: the request body is at most 1 MiB, a Kubernetes Secret at most 1 MiB. */
export const maxSecretBytes = 64 * 1024;
export const maxSecretsTotalBytes = 256 * 1024;

export function secretIdProblem(id: string): string | undefined {
  if (id === "" ) return "is empty";
  if (id.length > maxSecretIdLength) return `is longer than ${maxSecretIdLength} characters`;
  if (!new RegExp(secretIdPattern).test(id) || id === "." || id === "..") return "is not a secret id: use letters, digits, _, . and - (the id RUN --mount=type=secret,id=… names)";
  return undefined;
}

/** UTF-8 byte length, without Buffer (the Action's bundle and the dispatcher both run this). */
export function utf8Length(value: string): number {
  return new TextEncoder().encode(value).length;
}

// ---- registry cache ----------------------------------------------------------

export type CacheDirection = "from" | "to";

/** One cache source or destination, as buildctl takes it (`type=registry,ref=…`). */
export interface CacheEntry {
  readonly ref: string;
  /** Attributes besides type and ref, in the order written (cache-to only: mode, image-manifest, oci-mediatypes, ignore-error). */
  readonly attrs: Readonly<Record<string, string>>;
}

export type CacheEntryResult = { readonly ok: true; readonly entry: CacheEntry } | { readonly ok: false; readonly problem: string; readonly hint: string };

const cacheToAttrs: Readonly<Record<string, readonly string[]>> = {
  mode: ["min", "max"],
  "image-manifest": ["true", "false"],
  "oci-mediatypes": ["true", "false"],
  "ignore-error": ["true", "false"],
};
export const maxCacheEntries = 8;

/**
 * `user/app:cache` (buildx's shorthand for type=registry,ref=user/app:cache)
 * or `type=registry,ref=…[,mode=min|max,…]`. Only the registry type: the
 * builders run in the cluster, so a runner's directory (local) or the
 * runner's cache service (gha) are out of their reach.
 */
export function parseCacheEntry(value: string, direction: CacheDirection): CacheEntryResult {
  const fail = (problem: string, hint: string): CacheEntryResult => ({ ok: false, problem, hint });
  const example = direction === "to" ? "type=registry,ref=ghcr.io/owner/app:buildcache,mode=max" : "type=registry,ref=ghcr.io/owner/app:buildcache";
  if (/[\u0000-\u001f\u007f"]/.test(value)) return fail("contains a quote or control character", `write it as ${example}`);
  let type = "registry";
  let ref: string | undefined;
  const attrs: Record<string, string> = {};
  if (!value.includes("=")) {
    ref = value;
  } else {
    let typeSeen = false;
    for (const field of value.split(",")) {
      const equals = field.indexOf("=");
      if (equals <= 0) return fail(`has ${JSON.stringify(field)}, which is not key=value`, `write it as ${example}`);
      const key = field.slice(0, equals).trim().toLowerCase();
      const fieldValue = field.slice(equals + 1).trim();
      if (key === "type") {
        type = fieldValue;
        typeSeen = true;
      } else if (key === "ref") {
        ref = fieldValue;
      } else if (direction === "to" && cacheToAttrs[key] !== undefined) {
        if (!cacheToAttrs[key]!.includes(fieldValue)) return fail(`has ${key}=${JSON.stringify(fieldValue)}`, `use ${key}=${cacheToAttrs[key]!.join(" or ")}`);
        attrs[key] = fieldValue;
      } else if (key === "registry.insecure") {
        return fail("sets registry.insecure", "leave it out: the dispatcher's operator lists plain-HTTP registries in registry.insecureRegistries, and the dispatcher adds it for those");
      } else {
        const known = direction === "to" ? ["type", "ref", ...Object.keys(cacheToAttrs)] : ["type", "ref"];
        return fail(`has ${JSON.stringify(key)}, which dockhand does not pass on`, `use only ${known.join(", ")}`);
      }
    }
    if (!typeSeen && ref === undefined) return fail("names no ref", `write it as ${example}`);
  }
  if (type !== "registry") {
    return fail(
      `has type=${JSON.stringify(type)}; dockhand's builders run in the cluster, where only a registry cache is in reach (a runner's directory, the runner's GitHub cache service or inline cache are not)`,
      `use ${example}`,
    );
  }
  if (ref === undefined || ref === "") return fail("names no ref", `write it as ${example}`);
  const parsed = parseImageReference(ref);
  if (!parsed.ok) return fail(`ref ${JSON.stringify(ref)} ${parsed.problem}`, `give an image reference, e.g. ${example}`);
  if (direction === "to" && parsed.reference.digest !== undefined) return fail(`ref ${JSON.stringify(ref)} has a digest`, "cache is written under a tag: remove the @sha256:… part");
  return { ok: true, entry: { ref, attrs } };
}

/** The buildctl value: `type=registry,ref=…,mode=max`. */
export function formatCacheEntry(entry: CacheEntry, extra: Readonly<Record<string, string>> = {}): string {
  return ["type=registry", `ref=${entry.ref}`, ...Object.entries({ ...entry.attrs, ...extra }).map(([key, value]) => `${key}=${value}`)].join(",");
}

// ---- annotations -------------------------------------------------------------

/** Where an OCI annotation goes (buildx's `--annotation` types; plain `key=value` means manifest). */
export const annotationLevels = ["manifest", "index", "manifest-descriptor", "index-descriptor"] as const;
export type AnnotationLevel = (typeof annotationLevels)[number];

export interface Annotation {
  readonly level: AnnotationLevel;
  readonly key: string;
  readonly value: string;
}

export type AnnotationResult = { readonly ok: true; readonly annotation: Annotation } | { readonly ok: false; readonly problem: string; readonly hint: string };

export const maxAnnotations = 64;
export const maxAnnotationValueLength = 4096;
// OCI annotation keys are reverse-domain names (org.opencontainers.image.source);
// "=" and "," would change the meaning of buildctl's output attribute.
const annotationKey = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$/;

/** `manifest:org.opencontainers.image.title=app`, `index:…`, or plain `key=value` (manifest). */
export function parseAnnotation(value: string): AnnotationResult {
  const fail = (problem: string, hint: string): AnnotationResult => ({ ok: false, problem, hint });
  const equals = value.indexOf("=");
  if (equals <= 0) return fail("is not [type:]key=value", "write one annotation per line, e.g. manifest:org.opencontainers.image.description=My app (docker/metadata-action's annotations output)");
  let name = value.slice(0, equals);
  const annotationValue = value.slice(equals + 1);
  let level: AnnotationLevel = "manifest";
  const colon = name.indexOf(":");
  if (colon !== -1) {
    const prefix = name.slice(0, colon);
    if (/[[\],]/.test(prefix)) {
      return fail(`has the type ${JSON.stringify(prefix)}; each platform is its own build here, so an annotation names one type and no platform`, `use one of ${annotationLevels.join(", ")}, e.g. manifest:${name.slice(colon + 1)}=…`);
    }
    if (!(annotationLevels as readonly string[]).includes(prefix)) return fail(`has the type ${JSON.stringify(prefix)}`, `use ${annotationLevels.join(", ")}, or no type (manifest)`);
    level = prefix as AnnotationLevel;
    name = name.slice(colon + 1);
  }
  if (!annotationKey.test(name)) return fail(`has the key ${JSON.stringify(name)}, which is not an annotation key`, "use letters, digits, ., _, / and -, e.g. org.opencontainers.image.description");
  if (annotationValue.length > maxAnnotationValueLength) return fail(`has a value longer than ${maxAnnotationValueLength} characters`, "shorten it");
  if (/[\u0000-\u001f\u007f]/.test(annotationValue)) return fail("has a control character or line break in its value", "annotation values are one line of text");
  return { ok: true, annotation: { level, key: name, value: annotationValue } };
}

// ---- attestations ------------------------------------------------------------

export type ProvenanceMode = "min" | "max";
export type AttestationResult<T> = { readonly ok: true; readonly value: T | undefined } | { readonly ok: false; readonly problem: string; readonly hint: string };

/**
 * build-push-action's `provenance`: "" or false (none; buildx's own default
 * does not apply, dockhand adds nothing unasked), true (mode=min, buildx's
 * default), mode=min, mode=max.
 */
export function parseProvenance(value: string): AttestationResult<ProvenanceMode> {
  const text = value.trim();
  if (text === "" || /^false$/i.test(text)) return { ok: true, value: undefined };
  if (/^true$/i.test(text)) return { ok: true, value: "min" };
  const match = /^mode=(min|max)$/.exec(text);
  if (match) return { ok: true, value: match[1] as ProvenanceMode };
  return { ok: false, problem: `${JSON.stringify(text)} is not a provenance setting`, hint: "use true (mode=min), mode=max, or false" };
}

/** SBOM attestation: true (BuildKit's default scanner image) or the scanner image to run. */
export interface SbomSetting {
  readonly generator: string | undefined;
}

/** build-push-action's `sbom`: "" or false (none), true, or generator=<image>. */
export function parseSbom(value: string): AttestationResult<SbomSetting> {
  const text = value.trim();
  if (text === "" || /^false$/i.test(text)) return { ok: true, value: undefined };
  if (/^true$/i.test(text)) return { ok: true, value: { generator: undefined } };
  const match = /^generator=(.+)$/.exec(text);
  if (match) {
    const parsed = parseImageReference(match[1]!);
    if (!parsed.ok) return { ok: false, problem: `generator ${JSON.stringify(match[1])} ${parsed.problem}`, hint: "give the scanner image, e.g. generator=docker/buildkit-syft-scanner:stable-1" };
    return { ok: true, value: { generator: match[1] } };
  }
  return { ok: false, problem: `${JSON.stringify(text)} is not an SBOM setting`, hint: "use true, generator=<scanner image>, or false" };
}
