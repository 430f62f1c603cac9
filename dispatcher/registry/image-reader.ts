// Reads what a platform pushed: its manifest (by digest, so a tag moved by a
// concurrent build cannot mislead) and the image config it names, whose
// os / architecture / os.version say which hosts can run it.

import { createHash } from "node:crypto";
import { type RegistryHttp, registryError } from "./registry-http.js";

export const mediaTypes = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
} as const;

const acceptManifests = Object.values(mediaTypes).join(", ");

export interface ManifestDescriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
}

export interface ImageConfigPlatform {
  readonly os: string;
  readonly architecture: string;
  readonly "os.version"?: string;
}

export interface PushedImage {
  /** The image manifest itself (an index pushed by the platform is followed to its one image). */
  readonly manifest: ManifestDescriptor;
  readonly platform: ImageConfigPlatform;
  /** The attestation manifests (provenance, SBOM) BuildKit pushed beside the image in the platform's index, if any. */
  readonly attestations?: readonly ManifestDescriptor[];
}

interface ManifestBody {
  mediaType?: string;
  config?: { digest?: string };
  manifests?: {
    mediaType?: string;
    digest?: string;
    size?: number;
    platform?: { os?: string; architecture?: string; "os.version"?: string };
    annotations?: Record<string, string>;
  }[];
}

/** What was read is not a usable image (wrong digest, not one image, no config): reading again will not help. */
export class ImageReadError extends Error {
  override readonly name = "ImageReadError";
}

function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    throw new ImageReadError(`${what} is not JSON: ${(err as Error).message}`);
  }
}

export class ImageReader {
  constructor(private readonly http: RegistryHttp) {}

  async manifest(host: string, repository: string, reference: string): Promise<{ descriptor: ManifestDescriptor; body: ManifestBody }> {
    const res = await this.http.request(host, repository, "pull", `${repository}/manifests/${reference}`, { headers: { accept: acceptManifests } });
    if (!res.ok) throw await registryError(res, `reading ${host}/${repository}@${reference}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    if (reference.startsWith("sha256:") && digest !== reference) {
      throw new ImageReadError(`${host}/${repository}@${reference}: the registry sent a manifest whose digest is ${digest}`);
    }
    const body = parseJson(bytes, `manifest ${host}/${repository}@${reference}`) as ManifestBody;
    const mediaType = body.mediaType ?? res.headers.get("content-type")?.split(";")[0] ?? mediaTypes.ociManifest;
    return { descriptor: { mediaType, digest, size: bytes.length }, body };
  }

  async blobJson(host: string, repository: string, digest: string): Promise<unknown> {
    const res = await this.http.request(host, repository, "pull", `${repository}/blobs/${digest}`);
    if (!res.ok) throw await registryError(res, `reading blob ${digest} of ${host}/${repository}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    const actual = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    if (actual !== digest) throw new ImageReadError(`${host}/${repository}: blob ${digest} arrived with digest ${actual}`);
    return parseJson(bytes, `blob ${digest} of ${host}/${repository}`);
  }

  /**
   * The image a platform pushed, by digest. BuildKit can push an index even
   * for one platform (attestations): then its one image entry is read
   * (attestation manifests carry vnd.docker.reference.type and platform unknown/unknown).
   */
  async pushedImage(host: string, repository: string, digest: string): Promise<PushedImage> {
    let { descriptor, body } = await this.manifest(host, repository, digest);
    let attestations: ManifestDescriptor[] = [];
    if (body.manifests) {
      const images = body.manifests.filter((m) => !m.annotations?.["vnd.docker.reference.type"] && m.platform?.os !== "unknown");
      if (images.length !== 1 || !images[0]!.digest) {
        throw new ImageReadError(`${host}/${repository}@${digest} is an index of ${images.length} images, not the one image a platform build pushes`);
      }
      const imageDigest = images[0]!.digest;
      // Kept so a multi-platform index can carry them too: without them it would drop the platform's provenance and SBOM.
      attestations = body.manifests
        .filter((m) => m.annotations?.["vnd.docker.reference.type"] === "attestation-manifest" && m.annotations["vnd.docker.reference.digest"] === imageDigest && m.digest && m.size !== undefined)
        .map((m) => ({ mediaType: m.mediaType ?? mediaTypes.ociManifest, digest: m.digest!, size: m.size! }));
      ({ descriptor, body } = await this.manifest(host, repository, imageDigest));
    }
    const configDigest = body.config?.digest;
    if (!configDigest) throw new ImageReadError(`${host}/${repository}@${descriptor.digest} (${descriptor.mediaType}) names no image config`);
    const config = (await this.blobJson(host, repository, configDigest)) as Record<string, unknown>;
    const platform: ImageConfigPlatform = {
      os: String(config.os ?? ""),
      architecture: String(config.architecture ?? ""),
      ...(typeof config["os.version"] === "string" ? { "os.version": config["os.version"] } : {}),
    };
    return { manifest: descriptor, platform, ...(attestations.length > 0 ? { attestations } : {}) };
  }
}
