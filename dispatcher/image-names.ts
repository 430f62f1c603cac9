// An image reference as a kubelet lists it: Docker Hub spelled out
// (docker.io/library/docker:29-…), the tag and the digest as separate names.
// node.status.images[].names holds an image's RepoDigests then its RepoTags
// in this form (k8s.io/kubernetes pkg/kubelet/nodestatus/setters.go, Images),
// and a pod's status.containerStatuses[].image is the tagged one.

import { parseImageReference } from "./protocol/image-reference.js";

export interface KubeletImageNames {
  /** host/repository:tag, or undefined when the reference pins a digest alone. */
  readonly tagged: string | undefined;
  /** host/repository@sha256:…, when the reference pins a digest. */
  readonly digested: string | undefined;
}

/** undefined for a reference that does not parse. An untagged reference means :latest, as docker and the kubelet read it. */
export function kubeletImageNames(reference: string): KubeletImageNames | undefined {
  const parsed = parseImageReference(reference);
  if (!parsed.ok) return undefined;
  const { domain, path, tag, digest } = parsed.reference;
  const host = domain === undefined || domain === "index.docker.io" ? "docker.io" : domain;
  const repository = host === "docker.io" && !path.includes("/") ? `library/${path}` : path;
  const name = `${host}/${repository}`;
  return {
    tagged: tag !== undefined ? `${name}:${tag}` : digest === undefined ? `${name}:latest` : undefined,
    digested: digest !== undefined ? `${name}@${digest}` : undefined,
  };
}

/**
 * Whether `listed` (names of one image on a node) include `wanted`: by digest
 * when `wanted` pins one (a tag can move; the digest is what was pulled),
 * else by name:tag.
 */
export function listsImage(listed: readonly string[], wanted: string): boolean {
  const want = kubeletImageNames(wanted);
  if (want === undefined) return false;
  const names = new Set(listed.flatMap((name) => {
    const n = kubeletImageNames(name);
    return n === undefined ? [] : [n.tagged, n.digested].filter((x): x is string => x !== undefined);
  }));
  return want.digested !== undefined ? names.has(want.digested) : names.has(want.tagged!);
}
