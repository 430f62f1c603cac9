// Image name prefixes a repository may tag and push to. A prefix is
// "host[/path…]": its first segment is always a registry host, so
// "ghcr.io/octo-org" covers ghcr.io/octo-org/app but not
// ghcr.io/octo-org-evil/app (whole path segments only), and Docker Hub's
// short names (alpine, octo/app) are compared in their full form
// (docker.io/library/alpine, docker.io/octo/app).

import { type ImageReference, parseImageReference } from "../protocol/image-reference.js";

const dockerHubAliases = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"]);

/** docker's own test for "the first segment is a registry": a dot, a port, localhost or an IPv6 literal. */
function looksLikeHost(segment: string): boolean {
  return segment === "localhost" || /[.:]/.test(segment) || /^\[[0-9A-Fa-f:]+\]/.test(segment);
}

/** `docker.io/library/alpine`, `ghcr.io/octo-org/app`, `127.0.0.1:15000/bed/app`. */
export function canonicalImageName(reference: ImageReference): string {
  if (reference.domain === undefined || dockerHubAliases.has(reference.domain.toLowerCase())) {
    const path = reference.path.includes("/") ? reference.path : `library/${reference.path}`;
    return `docker.io/${path}`;
  }
  return `${reference.domain.toLowerCase()}/${reference.path}`;
}

export type ImagePrefixResult = { ok: true; prefix: string } | { ok: false; problem: string };

/** Checks a configured prefix and returns it in canonical form ("*" stays "*"). */
export function parseImagePrefix(text: string): ImagePrefixResult {
  if (text === "*") return { ok: true, prefix: "*" };
  const trimmed = text.replace(/\/+$/, "");
  const [host = "", ...path] = trimmed.split("/");
  if (!looksLikeHost(host)) {
    return { ok: false, problem: 'does not start with a registry host (e.g. "ghcr.io/octo-org", "docker.io/octo")' };
  }
  const canonicalHost = dockerHubAliases.has(host.toLowerCase()) ? "docker.io" : host.toLowerCase();
  if (path.length === 0) return { ok: true, prefix: canonicalHost };
  const parsed = parseImageReference(`${host}/${path.join("/")}`);
  if (!parsed.ok) return { ok: false, problem: parsed.problem };
  if (parsed.reference.tag !== undefined || parsed.reference.digest !== undefined) {
    return { ok: false, problem: "names a tag or digest; give a registry/path prefix, e.g. ghcr.io/octo-org" };
  }
  return { ok: true, prefix: `${canonicalHost}/${path.join("/")}` };
}

/** Whether a tag (a validated image reference) is under one of the prefixes. */
export function imageUnderPrefix(tag: string, prefixes: readonly string[]): boolean {
  const parsed = parseImageReference(tag);
  if (!parsed.ok) return false;
  const name = canonicalImageName(parsed.reference);
  return prefixes.some((text) => {
    const prefix = parseImagePrefix(text);
    if (!prefix.ok) return false;
    return prefix.prefix === "*" || name === prefix.prefix || name.startsWith(`${prefix.prefix}/`);
  });
}
