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

import type { V1Job } from "@kubernetes/client-node";
import type { BuildJobs } from "../kube/build-jobs.js";
import type { BuildInformers } from "../kube/informers.js";
import { isNotFound } from "../kube/api-errors.js";
import { registrySecretOf } from "../kube/registry-credentials.js";
import { annotationKeys, labelKeys } from "../plan/names.js";
import type { ImageReader } from "../registry/image-reader.js";
import type { RegistryHttp } from "../registry/registry-http.js";
import { type DeriveOptions, derivePlatformState, newestPodOf } from "./state-from-jobs.js";
import { parseImagePlatformRecord } from "../model/image-platform.js";
import { deriveManifestState, indexPlanOf, indexRecordOf } from "./index-from-jobs.js";
import type { PlatformState } from "../protocol/build-state.js";
import { type IndexRecord, manifestAnnouncement, type ManifestState, nextManifestStep } from "../model/image-index-state.js";
import { readBackFailure } from "../registry/read-back-failure.js";
import { pushImageIndex, readPushedImage } from "../registry/registry-steps.js";
import { type CommitStatusWanted, isFinalCommitState, withheldStatus } from "../model/commit-status.js";
import { sendAndRecord, statusReportFor } from "./status-delivery.js";
import type { StatusReporter } from "../model/status-report.js";

export interface ImageIndexStepLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}


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
    const validate = job.metadata?.annotations?.[annotationKeys.validatePlatform] === "true";
    try {
      const { reader } = this.registryFor(registrySecretOf(job));
      const read = await readPushedImage(reader, { platform: platform.platform, pushRef: platform.pushRef, ...(platform.digest ? { digest: platform.digest } : {}) }, validate);
      const annotations: Record<string, string> = {};
      if (!platform.digest) annotations[annotationKeys.digest] = read.digest;
      if (read.record) annotations[annotationKeys.imagePlatform] = JSON.stringify(read.record);
      else annotations[annotationKeys.platformMismatch] = read.mismatch!;
      await this.jobs.patchAnnotations(name, annotations);
      this.log.info({ job: name, image: read.record, ...(read.mismatch ? { mismatch: read.mismatch } : {}) }, "pushed image read back");
      return true;
    } catch (err) {
      const failure = readBackFailure(err, platform, Date.now());
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
  private async announce(job: V1Job, manifest: ManifestState, buildJobs: readonly V1Job[]): Promise<boolean> {
    const plan = indexPlanOf(job)!;
    const buildId = job.metadata!.labels![labelKeys.buildId]!;
    await this.reportAndRecord(job, buildId, plan.statusContext, manifestAnnouncement(manifest, plan.platforms), buildJobs.length > 0 ? buildJobs : [job]);
    return true;
  }

  /** Whether this Job must keep its report finalizer: its build's manifest status is not out yet. */
  holdsFinalizer(job: V1Job): boolean {
    if (!indexPlanOf(job)) return false;
    const buildId = job.metadata?.labels?.[labelKeys.buildId];
    const buildJobs = this.informers.jobs.list(this.jobs.namespace).filter((j) => j.metadata?.labels?.[labelKeys.buildId] === buildId);
    const recorded = [job, ...buildJobs].map((j) => j.metadata?.annotations?.[annotationKeys.manifestReported]);
    const covered = buildId === undefined ? undefined : this.reportedNotYetSeen.get(buildId);
    return ![...recorded, covered].some(isFinalCommitState);
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

    const seen = buildJobs.map((j) => j.metadata?.annotations?.[annotationKeys.manifestReported]).find(isFinalCommitState)
      ?? job.metadata?.annotations?.[annotationKeys.manifestReported];
    if (this.reportedNotYetSeen.get(buildId) === seen) this.reportedNotYetSeen.delete(buildId);
    const reported = this.reportedNotYetSeen.get(buildId) ?? seen;
    if (isFinalCommitState(reported)) {
      // Final is final. The Jobs let go after it are gone from the cache, so
      // what is derived now (a platform "waiting" for a Job that no longer
      // exists) must not take the status back to pending. Only finish the
      // record on Jobs a half-way patch missed; each patch brings its Job
      // back to let go of its finalizer.
      const missing = buildJobs.filter((j) => j.metadata?.annotations?.[annotationKeys.manifestReported] !== reported);
      if (missing.length > 0) await this.patchAll(missing, { [annotationKeys.manifestReported]: reported });
      return false;
    }

    const step = nextManifestStep(manifest, {
      reported,
      announced: this.announced(buildId, buildJobs),
      // A platform whose own final status is not out yet reports it first,
      // and its reconcile, coming back here, sends the index's.
      platformsFinal: buildJobs.every((j) => isFinalCommitState(j.metadata?.annotations?.[annotationKeys.reported])),
    });
    switch (step.kind) {
      case "none":
        return false;
      case "announce":
        return this.announce(job, manifest, buildJobs);
      case "withhold":
        this.reportedNotYetSeen.set(buildId, withheldStatus);
        await this.patchAll(buildJobs, { [annotationKeys.manifestReported]: withheldStatus });
        this.log.info({ buildId, context: manifest.statusContext }, "cancelled before its index was announced: no status sent");
        return true;
      case "push": {
        const record = await this.push(buildId, manifest.tags, buildJobs);
        this.indexNotYetSeen.set(buildId, record);
        await this.patchAll(buildJobs, { [annotationKeys.index]: JSON.stringify(record) });
        return true;
      }
      case "report":
        await this.reportAndRecord(job, buildId, manifest.statusContext, step.wanted, buildJobs, {
          cancelled: manifest.cancelled === true,
          // Its pending recorded, then lost in a crash before it went out: the pull request still shows pending first.
          pending: manifestAnnouncement(manifest, indexPlanOf(job)?.platforms ?? []),
        });
        return true;
    }
  }

  private async reportAndRecord(
    job: V1Job,
    buildId: string,
    context: string,
    wanted: CommitStatusWanted,
    buildJobs: readonly V1Job[],
    { cancelled = false, pending }: { cancelled?: boolean; pending?: CommitStatusWanted } = {},
  ): Promise<void> {
    // A pending waiting its turn is dropped if the build is cancelled meanwhile.
    const report = { ...statusReportFor(job, context, wanted), ...(wanted.final ? {} : { dropIf: () => this.cancelledNow(buildId) }) };
    const recordAs = async (state: string) => {
      await this.patchAll(buildJobs, { [annotationKeys.manifestReported]: state });
      this.reportedNotYetSeen.set(buildId, state);
    };
    const outcome = await sendAndRecord(wanted, {
      send: () => this.report(report),
      record: () => recordAs(wanted.state),
      // One index status per build: asking GitHub each time is cheap, and covers a crash after it answered.
      shown: async () => (await this.report.shown?.(report)) ?? "this",
      sendPending: pending === undefined ? undefined : () => this.report(statusReportFor(job, context, pending)),
      withhold: !wanted.final || cancelled ? () => recordAs(withheldStatus) : undefined,
    });
    if (outcome === "withheld") this.log.info({ buildId, context }, "cancelled before its index status went out: none sent");
    else this.log.info({ buildId, context, state: wanted.state, description: wanted.description }, "commit status reported");
  }

  /** Whether any Job of the build is cancelled or being deleted, as the informer shows it now. */
  private cancelledNow(buildId: string): boolean {
    return this.informers.jobs
      .list(this.jobs.namespace)
      .some((j) => j.metadata?.labels?.[labelKeys.buildId] === buildId && (j.metadata.annotations?.[annotationKeys.cancelled] !== undefined || j.metadata.deletionTimestamp !== undefined));
  }

  /**
   * Pushes the index under every requested tag. Entries come from what each
   * platform recorded on its Job (digest, media type and size of the image
   * manifest, and the config's platform): never from the per-platform tags,
   * which a concurrent build may have moved.
   */
  private async push(buildId: string, tags: readonly string[], buildJobs: readonly V1Job[]): Promise<IndexRecord> {
    const platforms = buildJobs.map((j) => ({
      platform: String(j.metadata?.annotations?.[annotationKeys.platform]),
      name: j.metadata?.name ?? "",
      record: parseImagePlatformRecord(j.metadata?.annotations?.[annotationKeys.imagePlatform]),
    }));
    const { http } = this.registryFor(registrySecretOf(buildJobs[0]!));
    const record = await pushImageIndex(http, tags, platforms);
    if ("error" in record) this.log.warn({ buildId, err: record.error }, "index push refused");
    else this.log.info({ buildId, digest: record.digest, tags }, "image index pushed");
    return record;
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
