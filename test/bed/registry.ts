/**
 * Reads images back from the bed's registry through the Distribution API,
 * which is how tests prove a push really landed.
 */
const manifestTypes = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

export interface ManifestRead {
  digest: string;
  mediaType: string;
  body: any;
}

export async function readManifest(registry: string, repository: string, reference: string): Promise<ManifestRead> {
  const res = await fetch(`http://${registry}/v2/${repository}/manifests/${reference}`, { headers: { accept: manifestTypes } });
  if (!res.ok) throw new Error(`GET manifest ${repository}@${reference}: HTTP ${res.status} ${await res.text()}`);
  return {
    digest: res.headers.get("docker-content-digest") ?? "",
    mediaType: res.headers.get("content-type") ?? "",
    body: await res.json(),
  };
}

export async function readConfig(registry: string, repository: string, reference: string): Promise<any> {
  const manifest = await readManifest(registry, repository, reference);
  const res = await fetch(`http://${registry}/v2/${repository}/blobs/${manifest.body.config.digest}`);
  if (!res.ok) throw new Error(`GET config blob of ${repository}@${reference}: HTTP ${res.status}`);
  return res.json();
}
