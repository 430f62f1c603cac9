// Assembles the OCI image index that joins a build's platforms under one tag.
// Pure. Windows entries carry platform.os.version: containerd and Docker on a
// Windows host pick the entry whose os.version matches their own build, which
// is what lets one tag serve ltsc2019 and ltsc2022 nodes
// (https://github.com/opencontainers/image-spec/blob/main/image-index.md).

import { createHash } from "node:crypto";
import { mediaTypes } from "./image-reader.js";

export interface IndexEntry {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform: { readonly os: string; readonly architecture: string; readonly "os.version"?: string };
  /** An attestation manifest's `vnd.docker.reference.*` (BuildKit's attestation storage). */
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface ImageIndex {
  readonly mediaType: string;
  /** The exact bytes pushed: the digest is of these. */
  readonly bytes: string;
  readonly digest: string;
}

export function imageIndex(entries: readonly IndexEntry[]): ImageIndex {
  if (entries.length === 0) throw new Error("an image index needs at least one entry");
  const document = {
    schemaVersion: 2,
    mediaType: mediaTypes.ociIndex,
    manifests: entries.map((entry) => ({
      mediaType: entry.mediaType,
      digest: entry.digest,
      size: entry.size,
      platform: {
        architecture: entry.platform.architecture,
        os: entry.platform.os,
        ...(entry.platform["os.version"] ? { "os.version": entry.platform["os.version"] } : {}),
      },
      ...(entry.annotations ? { annotations: { ...entry.annotations } } : {}),
    })),
  };
  const bytes = JSON.stringify(document);
  return { mediaType: mediaTypes.ociIndex, bytes, digest: `sha256:${createHash("sha256").update(bytes).digest("hex")}` };
}
