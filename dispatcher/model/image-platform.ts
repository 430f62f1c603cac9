// What the registry says a pushed image is (os, architecture, os.version),
// as both executors record it after reading the image back. Pure.

/** The dockhand.dev/image-platform record: the config's platform plus the manifest's descriptor. */
export interface ImagePlatformRecord {
  os: string;
  architecture: string;
  "os.version"?: string;
  digest: string;
  mediaType: string;
  size: number;
  /** Attestation manifests BuildKit pushed for the image (provenance, SBOM): the build's image index lists them too. */
  attestations?: { digest: string; mediaType: string; size: number }[];
}

export function parseImagePlatformRecord(text: string | undefined): ImagePlatformRecord | undefined {
  if (text === undefined) return undefined;
  try {
    const record = JSON.parse(text) as ImagePlatformRecord;
    return typeof record.os === "string" && typeof record.digest === "string" ? record : undefined;
  } catch {
    return undefined;
  }
}
