// PUTs an image index under a tag. The registry checks that every entry
// exists in that repository (distribution answers MANIFEST_BLOB_UNKNOWN or
// MANIFEST_UNKNOWN otherwise), which is why each requested repository got its
// own per-platform pushes (protocol/push-refs.ts).

import { type RegistryHttp, registryError } from "./registry-http.js";
import type { ImageIndex } from "./image-index.js";

export async function pushIndex(http: RegistryHttp, host: string, repository: string, tag: string, index: ImageIndex): Promise<string> {
  const res = await http.request(host, repository, "pull,push", `${repository}/manifests/${tag}`, {
    method: "PUT",
    headers: { "content-type": index.mediaType },
    body: index.bytes,
  });
  if (!res.ok) throw await registryError(res, `pushing the index to ${host}/${repository}:${tag}`);
  await res.body?.cancel();
  const stored = res.headers.get("docker-content-digest");
  if (stored && stored !== index.digest) {
    throw new Error(`${host}/${repository}:${tag}: the registry stored the index as ${stored}, not ${index.digest}`);
  }
  return index.digest;
}
