// The reconciler's registry work, one step at a time and each recorded on the
// Jobs before the next (level-triggered like the rest):
// 1. read back what a finished platform pushed (manifest + config) and record
//    its platform, or why it does not fit (dockhand.dev/image-platform |
//    dockhand.dev/platform-mismatch);
// 2. when every platform of a multi-platform build has succeeded, push one
//    image index under each requested tag and record its digest on every Job
//    of the build (dockhand.dev/index);
// 3. report the build's `<prefix>/manifest` commit status and record it on
//    every Job (dockhand.dev/manifest-reported); until then each Job keeps
//    its report finalizer, so the build's Jobs (and what they record) stay.

import type { V1Job, V1Pod } from "@kubernetes/client-node";
import type { BuildJobs } from "../kube/build-jobs.js";
import type { BuildInformers } from "../kube/informers.js";
import { isNotFound } from "../kube/api-errors.js";
import { registrySecretOf } from "../kube/registry-credentials.js";
import { type ImageReference, parseImageReference, registryHost } from "../plan/image-reference.js";
import { annotationKeys, labelKeys } from "../plan/names.js";
import { type ImageReader, ImageReadError } from "../registry/image-reader.js";
import { type IndexEntry, imageIndex } from "../registry/image-index.js";
import { pushIndex } from "../registry/index-push.js";
import { checkImagePlatform } from "../registry/platform-check.js";
import { RegistryError, type RegistryHttp } from "../registry/registry-http.js";
import { parsePlatform } from "../plan/platforms.js";
import { type DeriveOptions, derivePlatformState, newestPodOf, digestAnnotation, type ImagePlatformRecord, parseImagePlatformRecord, type PlatformState } from "./build-state.js";
import { deriveManifestState, type IndexRecord, indexPlanOf, indexRecordOf, manifestCommitStatus } from "./image-index-state.js";
import type { CommitStatusWanted } from "./commit-status.js";
import type { StatusReporter } from "./reconciler.js";

export interface ImageIndexStepLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

const finalCommitStates = new Set(["success", "failure", "error"]);

/**
 * How long after a platform's Job completed a registry that keeps failing
 * (5xx, refused connections) is retried before the platform fails with the
 * last error: long enough to ride out a registry restart or a rollout, short
 * enough that a pull request is not left pending for good.
 */
export const readBackGiveUpMs = 10 * 60_000;

export class ImageIndexStep {
  /** Manifest states this process reported (by build) that the informer may not show yet; see Reconciler.reportedNotYetSeen. */
  private readonly reportedNotYetSeen = new Map<string, string>();
  /** Index records written (by build) that the informer may not show yet: saves a second identical PUT. */
  private readonly indexNotYetSeen = new Map<string, IndexRecord>();

  constructor(
    private readonly informers: BuildInformers,
    private readonly jobs: BuildJobs,
    /** The registry client with the credentials of one registry Secret (undefined: anonymous). */
    private readonly registryFor: (secretName: string | undefined) => { http: RegistryHttp; reader: ImageReader },
    private readonly report: StatusReporter,
    private readonly log: ImageIndexStepLog,
    private readonly now: () => number = Date.now,
  ) {}

  /** Drops what only covered the informer's lag (this replica stops reconciling). */
  forget(): void {
    this.reportedNotYetSeen.clear();
    this.indexNotYetSeen.clear();
  }

  /**
   * Step 1 for one Job. Returns true when it wrote an annotation: the update
   * event brings the Job back with it in place. Registry answers that will
   * not change (no such manifest, refused) are recorded as the platform's
   * failure; anything else throws and the reconciler retries.
   */
  async readBack(job: V1Job, platform: PlatformState): Promise<boolean> {
    if (platform.imageCheck !== "pending" || !platform.pushRef) return false;
    const name = job.metadata!.name!;
    const parsed = parseImageReference(platform.pushRef);
    if (!parsed.ok) throw new Error(`${name}: push ref ${platform.pushRef} does not parse: ${parsed.problem}`);
    const host = registryHost(parsed.reference);
    const repository = apiRepository(parsed.reference);
    const validate = job.metadata?.annotations?.[annotationKeys.validatePlatform] === "true";
    try {
      // The digest the build reported; failing that (a push log that lost
      // its line), what the platform's own tag points at now.
      const { reader } = this.registryFor(registrySecretOf(job));
      const digest = platform.digest ?? (await reader.manifest(host, repository, parsed.reference.tag ?? "latest")).descriptor.digest;
      const image = await reader.pushedImage(host, repository, digest);
      const check = validate ? checkImagePlatform(platform.platform, image.platform) : ({ ok: true } as const);
      const annotations: Record<string, string> = {};
      if (!platform.digest) annotations[digestAnnotation] = digest;
      if (check.ok) {
        const record: ImagePlatformRecord = { ...image.platform, ...image.manifest };
        annotations[annotationKeys.imagePlatform] = JSON.stringify(record);
      } else {
        annotations[annotationKeys.platformMismatch] = check.message;
      }
      await this.jobs.patchAnnotations(name, annotations);
      this.log.info({ job: name, image: image.platform, ...(check.ok ? {} : { mismatch: check.message }) }, "pushed image read back");
      return true;
    } catch (err) {
      const failure = readBackFailure(err, platform, this.now());
      if (failure === undefined) throw err;
      await this.jobs.patchAnnotations(name, { [annotationKeys.platformMismatch]: failure });
      return true;
    }
  }

  private announced(buildId: string, buildJobs: readonly V1Job[]): boolean {
    return this.reportedNotYetSeen.has(buildId) || buildJobs.some((j) => j.metadata?.annotations?.[annotationKeys.manifestReported] !== undefined);
  }

  /**
   * The index status is pending before it is anything else, even when the
   * reconciler gets to the build only after every platform is through (it
   * can lag the builds: GitHub paces status writes to about one a second).
   */
  private async announce(job: V1Job): Promise<boolean> {
    const plan = indexPlanOf(job)!;
    const buildId = job.metadata!.labels![labelKeys.buildId]!;
    const buildJobs = this.informers.jobs.list(this.jobs.namespace).filter((j) => j.metadata?.labels?.[labelKeys.buildId] === buildId);
    const wanted = manifestCommitStatus({ state: "pending", tags: plan.tags, statusContext: plan.statusContext, message: `waiting for ${plan.platforms.length} platforms: ${plan.platforms.join(", ")}` });
    await this.reportAndRecord(job, buildId, plan.statusContext, wanted, buildJobs.length > 0 ? buildJobs : [job]);
    return true;
  }

  /** Whether this Job must keep its report finalizer: its build's manifest status is not out yet. */
  holdsFinalizer(job: V1Job): boolean {
    if (!indexPlanOf(job)) return false;
    const buildId = job.metadata?.labels?.[labelKeys.buildId];
    const buildJobs = this.informers.jobs.list(this.jobs.namespace).filter((j) => j.metadata?.labels?.[labelKeys.buildId] === buildId);
    const recorded = [job, ...buildJobs].map((j) => j.metadata?.annotations?.[annotationKeys.manifestReported]);
    const covered = buildId === undefined ? undefined : this.reportedNotYetSeen.get(buildId);
    return ![...recorded, covered].some((state) => state !== undefined && finalCommitStates.has(state));
  }

  /**
   * Steps 2 and 3 for the build `job` belongs to, from the informer's view of
   * all its Jobs and pods. Returns true when it acted.
   */
  async reconcileIndex(job: V1Job, options: DeriveOptions): Promise<boolean> {
    if (!indexPlanOf(job)) return false;
    const buildId = job.metadata!.labels![labelKeys.buildId]!;
    const namespace = this.jobs.namespace;
    const buildJobs = this.informers.jobs.list(namespace).filter((j) => j.metadata?.labels?.[labelKeys.buildId] === buildId);
    const pods = this.informers.pods.list(namespace);
    const platforms = buildJobs.map((j) => derivePlatformState(j, newestPodOf(j, pods), options));

    const pendingRecord = this.indexNotYetSeen.get(buildId);
    if (pendingRecord && indexRecordOf(buildJobs) !== undefined) this.indexNotYetSeen.delete(buildId);
    const withRecord = pendingRecord && !indexRecordOf(buildJobs)
      ? buildJobs.map((j) => ({ ...j, metadata: { ...j.metadata, annotations: { ...j.metadata?.annotations, [annotationKeys.index]: JSON.stringify(pendingRecord) } } }))
      : buildJobs;
    const manifest = deriveManifestState(withRecord, platforms);
    if (!manifest) return false;

    const seen = buildJobs.map((j) => j.metadata?.annotations?.[annotationKeys.manifestReported]).find((r) => r !== undefined && finalCommitStates.has(r))
      ?? job.metadata?.annotations?.[annotationKeys.manifestReported];
    if (this.reportedNotYetSeen.get(buildId) === seen) this.reportedNotYetSeen.delete(buildId);
    const reported = this.reportedNotYetSeen.get(buildId) ?? seen;
    if (reported !== undefined && finalCommitStates.has(reported)) {
      // Final is final. The Jobs let go after it are gone from the cache, so
      // what is derived now (a platform "waiting" for a Job that no longer
      // exists) must not take the status back to pending. Only finish the
      // record on Jobs a half-way patch missed; each patch brings its Job
      // back to let go of its finalizer.
      const missing = buildJobs.filter((j) => j.metadata?.annotations?.[annotationKeys.manifestReported] !== reported);
      if (missing.length > 0) await this.patchAll(missing, { [annotationKeys.manifestReported]: reported });
      return false;
    }

    if (manifest.ready && !this.announced(buildId, buildJobs)) return this.announce(job);
    if (manifest.ready) {
      const record = await this.push(buildId, manifest.tags, buildJobs);
      this.indexNotYetSeen.set(buildId, record);
      await this.patchAll(buildJobs, { [annotationKeys.index]: JSON.stringify(record) });
      return true;
    }

    const wanted = manifestCommitStatus(manifest);
    if (reported === wanted.state) return false;
    await this.reportAndRecord(job, buildId, manifest.statusContext, wanted, buildJobs);
    return true;
  }

  private async reportAndRecord(job: V1Job, buildId: string, context: string, wanted: CommitStatusWanted, buildJobs: readonly V1Job[]): Promise<void> {
    const annotations = job.metadata?.annotations ?? {};
    await this.report({
      repository: annotations[annotationKeys.repository] ?? "",
      sha: annotations[annotationKeys.sha] ?? "",
      context,
      targetUrl: annotations[annotationKeys.targetUrl] ?? "",
      state: wanted.state,
      description: wanted.description,
      tokenSecret: annotations[annotationKeys.githubTokenSecret],
    });
    this.reportedNotYetSeen.set(buildId, wanted.state);
    await this.patchAll(buildJobs, { [annotationKeys.manifestReported]: wanted.state });
    this.log.info({ buildId, context, state: wanted.state, description: wanted.description }, "commit status reported");
  }

  /**
   * Pushes the index under every requested tag. Entries come from what each
   * platform recorded on its Job (digest, media type and size of the image
   * manifest, and the config's platform): never from the per-platform tags,
   * which a concurrent build may have moved.
   */
  private async push(buildId: string, tags: readonly string[], buildJobs: readonly V1Job[]): Promise<IndexRecord> {
    const entries: IndexEntry[] = buildJobs
      .map((j) => ({ job: j, record: parseImagePlatformRecord(j.metadata?.annotations?.[annotationKeys.imagePlatform]) }))
      .sort((a, b) => String(a.job.metadata?.annotations?.[annotationKeys.platform]).localeCompare(String(b.job.metadata?.annotations?.[annotationKeys.platform])))
      .map(({ job, record }) => {
        if (!record) throw new Error(`${job.metadata?.name}: succeeded without an image record`);
        return { mediaType: record.mediaType, digest: record.digest, size: record.size, platform: entryPlatform(job, record) };
      });
    const index = imageIndex(entries);
    const { http } = this.registryFor(registrySecretOf(buildJobs[0]!));
    try {
      for (const tag of tags) {
        const parsed = parseImageReference(tag);
        if (!parsed.ok) throw new Error(`tag ${tag} does not parse: ${parsed.problem}`);
        await pushIndex(http, registryHost(parsed.reference), apiRepository(parsed.reference), parsed.reference.tag ?? "latest", index);
      }
    } catch (err) {
      if (err instanceof RegistryError && !err.permanent) throw err;
      if (!(err instanceof RegistryError)) throw err;
      this.log.warn({ buildId, err: err.message }, "index push refused");
      return { error: `no index pushed: ${err.message}` };
    }
    this.log.info({ buildId, digest: index.digest, tags }, "image index pushed");
    return { digest: index.digest, tags: [...tags] };
  }

  private async patchAll(jobs: readonly V1Job[], annotations: Record<string, string>): Promise<void> {
    for (const job of jobs) {
      try {
        await this.jobs.patchAnnotations(job.metadata!.name!, annotations);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }
}

/**
 * Whether a failed read-back ends the platform, and with what message:
 * answers that will not change (no such manifest, refused) at once; anything
 * else (5xx, a refused connection) only after readBackGiveUpMs past the Job's
 * completion. undefined: retry.
 */
export function readBackFailure(err: unknown, platform: Pick<PlatformState, "pushRef" | "finishedAt">, now: number): string | undefined {
  const permanent = (err instanceof RegistryError && err.permanent) || err instanceof ImageReadError;
  const finishedAt = Date.parse(platform.finishedAt ?? "");
  const givenUp = Number.isFinite(finishedAt) && now - finishedAt > readBackGiveUpMs;
  if (!permanent && !givenUp) return undefined;
  const message = err instanceof Error ? err.message : String(err);
  return `could not read the pushed image ${platform.pushRef}${permanent ? "" : ` for ${readBackGiveUpMs / 60_000} min`}: ${message}`;
}

/**
 * The index entry's platform: the image config's when it is of the OS asked
 * for (its full os.version, as `docker manifest annotate` would write);
 * otherwise — validatePlatform off and a mismatch the user accepted — the
 * platform asked for, with the Windows build number.
 */
function entryPlatform(job: V1Job, record: ImagePlatformRecord): IndexEntry["platform"] {
  const requested = parsePlatform(job.metadata?.annotations?.[annotationKeys.platform] ?? "");
  if (record.os === requested.os && record.architecture === requested.arch) {
    return { os: record.os, architecture: record.architecture, ...(record["os.version"] ? { "os.version": record["os.version"] } : {}) };
  }
  return {
    os: requested.os,
    architecture: requested.arch,
    ...(requested.os === "windows" ? { "os.version": requested.windowsBuild } : {}),
  };
}

/** The repository as the /v2/ API names it: no host, and Docker Hub's official images under library/. */
function apiRepository(reference: ImageReference): string {
  return reference.domain === undefined && !reference.path.includes("/") ? `library/${reference.path}` : reference.path;
}
