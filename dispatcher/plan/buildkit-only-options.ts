// What the dockerd pool's classic builder cannot do. Windows dockerd has only
// the classic builder (no BuildKit on Windows Server), which has no build
// secrets, no registry cache import or export, no OCI annotations and no
// attestations (https://docs.docker.com/build/buildkit/#buildkit-on-windows).
// A request that needs one of them on a platform planned for the pool is
// refused with what to do instead, rather than built without it: an image
// built without its secret fails later, one without its attestations is
// published unverifiable. Pure.

import type { BuildRequest } from "../protocol/build-request.js";
import type { RequestProblem } from "../protocol/errors.js";

/** The first BuildKit-only option a platform built by the classic builder asks for, as a 422 problem; undefined when none. */
export function buildkitOnlyProblem(request: BuildRequest, index: number, platform: string, reason: string): RequestProblem | undefined {
  const where = `platforms[${index}] ${platform} builds on the dockerd pool (${reason})`;
  const buildkitInstead = "build that platform with BuildKit (builder: buildkit, possible when its Windows stages only COPY)";
  if (Object.keys(request.secrets).length > 0) {
    return {
      error: `secrets: ${where}, whose classic builder has no build secrets (RUN --mount=type=secret)`,
      field: "secrets",
      hint: `${buildkitInstead}, or make what needs the secret in a separate BuildKit build (a Linux stage or image) and COPY --from its result; build-args are no substitute, they stay in the image history`,
    };
  }
  if (request.cacheFrom.length > 0 || request.cacheTo.length > 0) {
    const field = request.cacheFrom.length > 0 ? "cacheFrom" : "cacheTo";
    return {
      error: `${field}: ${where}, whose classic builder can neither import nor export a registry cache`,
      field,
      hint: `leave cache-from and cache-to out for this platform: each pool node keeps its own layer cache between builds (up to the node-gc container's --keep-storage); or ${buildkitInstead}`,
    };
  }
  if (request.annotations.length > 0) {
    return { error: `annotations: ${where}, whose classic builder pushes no OCI annotations`, field: "annotations", hint: `leave annotations out for this platform (labels work on both builders), or ${buildkitInstead}` };
  }
  if (request.provenance !== undefined || request.sbom !== undefined) {
    const field = request.provenance !== undefined ? "provenance" : "sbom";
    return { error: `${field}: ${where}, whose classic builder makes no attestations`, field, hint: `leave provenance and sbom out for this platform, or ${buildkitInstead}` };
  }
  return undefined;
}
