// Names, labels and annotations: the hand-off between planning, the executor,
// the reconciler and GitHub reporting. Jobs carry all build state, so these
// keys are the dispatcher's data model; change them only with a migration.

import { createHash, createHmac } from "node:crypto";
import type { PlatformSlug } from "../protocol/platforms.js";

/** Selectable Job/pod labels. Values must be valid label values (≤63, alphanumeric ends). */
export const labelKeys = {
  managedBy: "app.kubernetes.io/managed-by",
  buildId: "dockhand.dev/build-id",
  /** Platform slug: linux-amd64, win-ltsc2022. */
  platform: "dockhand.dev/platform",
  /** docker | buildkit | buildkit-windows */
  builder: "dockhand.dev/builder",
  /** First 16 hex digits of sha256(lowercased owner/name): selects one repository's builds. */
  repositoryHash: "dockhand.dev/repository-hash",
  sha: "dockhand.dev/sha",
  /** The pull request number, for builds of refs/pull/<n>/…: closing it cancels them. */
  pullRequest: "dockhand.dev/pull-request",
  /** GitHub Actions run id and attempt: a cancelled run cancels its builds. */
  runId: "dockhand.dev/run-id",
  runAttempt: "dockhand.dev/run-attempt",
} as const;

/** Where a build came from, as far as its credentials vouch; each becomes a label. */
export interface BuildOrigin {
  readonly pullRequest?: number;
  readonly runId?: string;
  readonly runAttempt?: string;
}

export const managedByValue = "dockhand";

/** Job/pod annotations: everything the reconciler and reporter need, unrestricted in length. */
export const annotationKeys = {
  repository: "dockhand.dev/repository",
  sha: "dockhand.dev/sha",
  ref: "dockhand.dev/ref",
  /** The request's platform string: windows/amd64:ltsc2022. */
  platform: "dockhand.dev/platform",
  statusContext: "dockhand.dev/status-context",
  targetUrl: "dockhand.dev/target-url",
  /** ≤140 characters, shown in logs and the commit status description. */
  builderReason: "dockhand.dev/builder-reason",
  /** JSON array of the requested tags. */
  tags: "dockhand.dev/tags",
  /** The first reference this platform pushes (absent when push is false); its digest is what gets reported. */
  pushRef: "dockhand.dev/push-ref",
  requestHash: "dockhand.dev/request-hash",
  idempotencyKey: "dockhand.dev/idempotency-key",
  /** Written by the reconciler only: what it already reported. */
  reported: "dockhand.dev/reported",
  /** Name of the Secret holding this build's GitHub token, when the request brought one. */
  githubTokenSecret: "dockhand.dev/github-token-secret",
  /** Name of the Secret holding this build's BuildKit secrets (never their values), when the request brought any. */
  buildSecret: "dockhand.dev/build-secret",
  /** JSON array of every platform string of the build: the index waits for all of them. */
  buildPlatforms: "dockhand.dev/build-platforms",
  /** JSON array of the tags an image index is pushed under (multi-platform builds that push). */
  indexTags: "dockhand.dev/index-tags",
  /** Commit status context of the index (`dockhand/manifest`), with indexTags. */
  manifestStatusContext: "dockhand.dev/manifest-status-context",
  /** "true" when the pushed image's os / os.version is checked against the platform (registry.validatePlatform). */
  validatePlatform: "dockhand.dev/validate-platform",
  /** Written by the reconciler: JSON {os, architecture, os.version?, mediaType, size} of the pushed image. */
  imagePlatform: "dockhand.dev/image-platform",
  /** Written by the reconciler: why the pushed image does not fit the platform (or could not be read). */
  platformMismatch: "dockhand.dev/platform-mismatch",
  /** Written by the reconciler on every Job of the build: JSON {digest, tags} of the pushed index, or {error}. */
  index: "dockhand.dev/index",
  /** Written by the reconciler on every Job of the build: the index commit state already reported. */
  manifestReported: "dockhand.dev/manifest-reported",
  /** Written by the dockerd admission on a queued (suspended) Job: why it still waits. */
  queued: "dockhand.dev/queued",
  /** Written by the dockerd admission: the node the Job was admitted to (its pod is pinned there). */
  admittedNode: "dockhand.dev/node",
  /** Written by the reconciler once it has found the pushed digest. */
  digest: "dockhand.dev/digest",
  /** Set (with a reason) on a cancelled build's Jobs, with the suspension that stops their pods. */
  cancelled: "dockhand.dev/cancelled",
  /** When the Job was cancelled: it is deleted ttlSecondsAfterFinished later, as a finished Job is. */
  cancelledAt: "dockhand.dev/cancelled-at",
  /** A Windows version built on a newer version's pool (isolation hyperv): that pool's version, e.g. ltsc2022; absent when the build runs on its own version's nodes. */
  hostWindowsVersion: "dockhand.dev/host-windows-version",
  /** "hyperv" when the build's RUN steps run Hyper-V isolated; absent for process isolation. */
  isolation: "dockhand.dev/isolation",
  /** Set by the reconciler on a Job it ended because no node could run it. */
  unschedulable: "dockhand.dev/unschedulable",
} as const;

/**
 * Set on every build Job at creation, removed by the reconciler once it has
 * reported the Job's final state. A Job can then never vanish (cancelled,
 * deleted by hand, or collected by the TTL controller) before GitHub has heard
 * how it ended, even when the dispatcher was down at the time.
 */
export const reportFinalizer = "dockhand.dev/report";

/**
 * The node label an operator puts on Windows nodes that can run Hyper-V
 * isolated containers (the Hyper-V feature installed, and nested
 * virtualization when the node is a VM): a Job of a version whose pool is
 * `isolation: hyperv` selects it. Nothing on the node sets it by itself, so
 * it is the operator's word (docs/deploy.md, "Hyper-V isolation").
 */
export const hypervNodeLabel = "dockhand.dev/hyperv";

/**
 * Labels of the dockerd DaemonSets' pods (deploy/base/dockerd-daemonsets.yaml)
 * and of the buildkitd-windows ones (deploy/components/buildkitd-windows-*):
 * the admission finds Ready engines by them.
 */
export const dockerdPodLabels = {
  name: "app.kubernetes.io/name",
  nameValue: "dockerd",
  buildkitdNameValue: "buildkitd-windows",
  windowsVersion: "dockhand.dev/windows-version",
} as const;

/** Container names inside build pods; the reconciler reads logs and termination messages by these. */
export const containerNames = {
  /** dockerd pool: docker version, CLI and daemon agree on an API (plan/docker-engine-compat.ts). */
  preflight: "preflight",
  build: "build",
  /** dockerd pool: takes the pushed names off the node's copy (the image itself is dockhand-node-gc's to remove). */
  untag: "untag",
  push: (index: number) => `push-${index}`,
} as const;

const base32 = "abcdefghijklmnopqrstuvwxyz234567";
const buildIdLength = 12;

/**
 * Deterministic build ID for (repository, idempotency key): the same key sent
 * twice names the same Jobs, so the API server's name uniqueness turns a
 * concurrent duplicate into a conflict instead of a second build.
 * 12 characters, lowercase, DNS-safe, starting with a letter.
 */
export function buildIdFromKey(repository: string, idempotencyKey: string, secret?: string | Buffer): string {
  const message = `${repository.toLowerCase()}\n${idempotencyKey}`;
  // Keyed with a dispatcher secret, the id cannot be computed from the (often
  // public) repository and run id, so it stays a capability to read the build.
  const digest =
    secret === undefined ? createHash("sha256").update(message).digest() : createHmac("sha256", secret).update(`dockhand-build-id-v1\n${message}`).digest();
  return encodeBuildId(digest);
}

/** Build ID for a request without an idempotency key, from caller-supplied random bytes (≥8). */
export function buildIdFromRandom(randomBytes: Uint8Array): string {
  if (randomBytes.length < 8) throw new Error("buildIdFromRandom needs at least 8 random bytes");
  return encodeBuildId(randomBytes);
}

export function isBuildId(value: string): boolean {
  return /^[a-z][a-z2-7]{11}$/.test(value);
}

// The first character is a letter so the ID (and names derived from it) also
// fit RFC 1035 labels, which Services and some tools require; the other 11 are
// base32 of the following bits: about 60 bits in all.
function encodeBuildId(bytes: Uint8Array): string {
  let id = base32[(bytes[0] as number) % 26] as string;
  let bits = 0;
  let value = 0;
  for (let index = 1; index < bytes.length && id.length < buildIdLength; index++) {
    value = (value << 8) | (bytes[index] as number);
    bits += 8;
    while (bits >= 5 && id.length < buildIdLength) {
      id += base32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return id;
}

/** `dh-<buildId>-<slug>`: at most 3 + 12 + 1 + 12 = 28 characters, always a DNS label. */
export function jobName(buildId: string, slug: PlatformSlug): string {
  return `dh-${buildId}-${slug}`;
}

/** The Secret holding a per-build GitHub token (created by the executor, owned by the build's first Job). */
export function githubTokenSecretName(buildId: string): string {
  return `dh-${buildId}-github-token`;
}

/** The Secret holding a build's BuildKit secrets, one key per secret id (created by the executor, owned by the build's Jobs). */
export function buildSecretName(buildId: string): string {
  return `dh-${buildId}-secrets`;
}

export function repositoryHash(repository: string): string {
  return createHash("sha256").update(repository.toLowerCase()).digest("hex").slice(0, 16);
}

/**
 * Hash of a request, to tell a retried request (same key, same hash) from a key
 * reused for a different build (409). Keys are sorted so property order does
 * not matter; the GitHub token is left out: a retry may carry a fresh one.
 * Secrets count by id only: the hash is stored in a Job annotation, and a
 * hash of a short secret (with the rest of the request known) can be guessed.
 */
export function requestHash(request: object): string {
  const { githubToken: _token, secrets, ...rest } = request as Record<string, unknown>;
  const secretIds = secrets !== null && typeof secrets === "object" ? Object.keys(secrets).sort() : undefined;
  return createHash("sha256").update(canonicalJson({ ...rest, ...(secretIds && secretIds.length > 0 ? { secretIds } : {}) })).digest("hex");
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, child]) => child !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, child]) => `${JSON.stringify(key)}:${canonicalJson(child)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** RFC 1123 label, as Kubernetes requires for Job and container names. */
export function isDnsLabel(value: string): boolean {
  return /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(value);
}

/** Kubernetes label value: empty, or ≤63 alphanumerics, '-', '_', '.' with alphanumeric ends. */
export function isLabelValue(value: string): boolean {
  return /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/.test(value);
}
