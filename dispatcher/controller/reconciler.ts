import type { V1Job, V1Pod } from "@kubernetes/client-node";
import { annotationKeys, containerNames, labelKeys } from "../plan/names.js";
import { type BuildJobs, isFinished } from "../kube/build-jobs.js";
import type { BuildInformers } from "../kube/informers.js";
import { apiMessage, isConflict, isNotFound } from "../kube/api-errors.js";
import { builderOf, derivePlatformState, newestPodOf } from "./state-from-jobs.js";
import { windowsPoolBuilders } from "../protocol/request-rules.js";
import type { PlatformState } from "../protocol/build-state.js";
import { commitStatusFor, commitStatusToReport, type CommitStatusWanted, isWithheld, withheldStatus } from "../model/commit-status.js";
import { sendAndRecord, statusReportFor } from "./status-delivery.js";
import type { ImageIndexStep } from "./image-index-step.js";
import type { StatusReporter } from "../model/status-report.js";
import { retryDelayMs } from "../retry-delay.js";
import { DockerdAdmissionStep } from "./dockerd-admission-step.js";
import { waitsForEngine } from "./dockerd-admission.js";
import { buildIdOfJob, buildLogger, type FieldLogger } from "../logging.js";

/** Delivers commit statuses (GitHub, or the log when no GitHub credentials are configured). */
/** Structured logs; with child() (pino), each build's lines come from a child bound to its buildId. */
export type ReconcilerLog = FieldLogger;

export interface ReconcilerOptions {
  unschedulableAfterSeconds: number;
  now?: () => Date;
  /** Called with each platform state as it is reconciled (metrics, build page). */
  onState?: (platform: PlatformState, job: V1Job) => void;
  /** Called once a status is delivered and recorded (metrics). */
  onReported?: (platform: PlatformState, final: boolean) => void;
  /** Called when a reconcile triggered by a Job or pod event ends: seconds since the earliest event it covers (metrics). */
  onReconciled?: (lagSeconds: number, outcome: "ok" | "error") => void;
  /** Reads pushed images back and joins multi-platform builds in an image index (image-index-step.ts). */
  imageIndex?: ImageIndexStep;
  /** Admits queued dockerd-pool Jobs to nodes with a Ready engine and a free slot (dockerd-admission-step.ts). */
  admission?: DockerdAdmissionStep;
  /** Jobs reconciled at once (of different builds). Default defaultReconcileWorkers. */
  workers?: number;
}

/**
 * Enough for many credentials' status queues to move at once; few enough
 * that a burst of events cannot flood the API server with patches.
 */
export const defaultReconcileWorkers = 32;

/**
 * Level-triggered: every change to a build Job or its pod queues that Job;
 * reconciling it derives the platform's state from the cluster alone,
 * compares the commit status it calls for with the one recorded on the Job
 * (annotation dockhand.dev/reported), reports the difference, records it, and
 * lets the Job go (report finalizer) once its final state is out. Running it
 * again changes nothing, so a restarted dispatcher neither loses nor repeats
 * a status.
 */
export class Reconciler {
  private readonly queue = new Set<string>();
  /** When the oldest not yet reconciled Job/pod event for each queued Job arrived (Date.now()). */
  private readonly pendingSince = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Consecutive failed reconciles per Job: the retry backs off so a registry or API outage is not hammered. */
  private readonly failures = new Map<string, number>();
  /**
   * Commit states this process reported but the informer may not show yet:
   * the cache lags our own annotation write, and an event in between (the
   * pod starting) must not report the same state again. The annotation stays
   * the durable record; this only covers the lag.
   */
  private readonly reportedNotYetSeen = new Map<string, string>();
  /**
   * Jobs whose pending this process sent itself, and Jobs whose result it
   * tried to send. A result for a Job in the first set and not the second is
   * this process's first try, after a pending known to be out: nothing can
   * have sent the result yet. Any other (a new process or leader, a retry)
   * asks GitHub first, so a result sent just before a crash is recorded, not
   * sent again, and a pending recorded but lost in a crash goes out first.
   */
  private readonly pendingSentHere = new Set<string>();
  private readonly resultTried = new Set<string>();
  private running = false;
  private subscribed = false;
  /** Reconciles in progress, and the builds they belong to (one at a time per build). */
  private readonly inFlight = new Set<Promise<void>>();
  private readonly busyBuilds = new Set<string>();
  private readonly workers: number;
  private readonly now: () => Date;

  constructor(
    private readonly informers: BuildInformers,
    private readonly jobs: BuildJobs,
    private readonly report: StatusReporter,
    private readonly log: ReconcilerLog,
    private readonly options: ReconcilerOptions,
  ) {
    this.now = options.now ?? (() => new Date());
    this.workers = options.workers ?? defaultReconcileWorkers;
  }

  /** Starts the informers and reconciles: a replica that is alone, or the leader from the start. */
  async start(): Promise<void> {
    await this.informers.start();
    this.resume();
  }

  async stop(): Promise<void> {
    await this.pause();
    await this.informers.stop();
  }

  /**
   * Starts reconciling on informers that are already running (this replica
   * just became leader). Everything in the cache is queued once, which is how
   * a restart or a new leader catches up.
   */
  resume(): void {
    if (this.running) return;
    this.running = true;
    if (!this.subscribed) {
      this.subscribed = true;
      // A Windows-pool Job that runs, ends or goes may free a slot, and an engine
      // that turns Ready (or not) changes where builds can go: the queue is
      // looked at again.
      const enqueueQueued = () => {
        for (const name of this.options.admission?.queuedJobs() ?? []) this.enqueue(name, Date.now());
      };
      const enqueueJob = (job: V1Job) => {
        this.enqueue(job.metadata?.name, Date.now());
        if (windowsPoolBuilders.includes(builderOf(job)) && !DockerdAdmissionStep.isQueued(job)) enqueueQueued();
      };
      const enqueuePod = (pod: V1Pod) => this.enqueue(pod.metadata?.labels?.["batch.kubernetes.io/job-name"], Date.now());
      for (const verb of ["add", "update", "delete"] as const) {
        this.informers.jobs.on(verb, enqueueJob);
        this.informers.pods.on(verb, enqueuePod);
        this.informers.dockerdPods.on(verb, enqueueQueued);
      }
    }
    for (const job of this.informers.jobs.list()) this.enqueue(job.metadata?.name);
  }

  /**
   * Stops reconciling and waits for the reconcile in flight; the informers
   * keep running for the API (this replica lost the leadership). What another
   * leader reports meanwhile is read back from the Jobs' annotations, so the
   * in-memory cover for the informer's lag is dropped.
   */
  async pause(): Promise<void> {
    this.running = false;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.queue.clear();
    this.pendingSince.clear();
    this.failures.clear();
    await this.idle();
    this.reportedNotYetSeen.clear();
    this.pendingSentHere.clear();
    this.resultTried.clear();
    this.options.imageIndex?.forget();
    this.options.admission?.forget();
  }

  /** Resolves when the queue is empty (tests and graceful shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** eventAt: when the Job/pod change that calls for this arrived; absent for timers and the start-up pass. */
  private enqueue(name: string | undefined, eventAt?: number): void {
    if (!name || !this.running) return;
    if (eventAt !== undefined && !this.pendingSince.has(name)) this.pendingSince.set(name, eventAt);
    this.queue.add(name);
    this.startWorkers();
  }

  /**
   * Reconciles queued Jobs, up to `workers` at once and never two of one
   * build at once (a build's Jobs share its index and its finalizers). A
   * reconcile mostly waits (on GitHub's pacing of one credential, on the
   * registry), so one build's wait must not hold up another's: each
   * credential is paced on its own (status-client.ts), and a worker count
   * well above the number of credentials keeps them all busy.
   */
  private startWorkers(): void {
    while (this.running && this.inFlight.size < this.workers) {
      const name = this.next();
      if (name === undefined) return;
      this.queue.delete(name);
      const build = this.buildOf(name);
      this.busyBuilds.add(build);
      const task = this.reconcileQueued(name).finally(() => {
        this.busyBuilds.delete(build);
        this.inFlight.delete(task);
        this.startWorkers();
      });
      this.inFlight.add(task);
    }
  }

  private async reconcileQueued(name: string): Promise<void> {
    // Events arriving while this runs are after the read below: they queue the Job again with their own time.
    const since = this.pendingSince.get(name);
    this.pendingSince.delete(name);
    let outcome: "ok" | "error" = "ok";
    try {
      await this.reconcile(name);
      this.failures.delete(name);
    } catch (err) {
      outcome = "error";
      const failures = (this.failures.get(name) ?? 0) + 1;
      this.failures.set(name, failures);
      const delayMs = retryDelayMs(failures);
      const log = buildLogger(this.log, buildIdOfJob(name));
      // A conflict means the cache was behind our own last write: the
      // update event that follows brings the Job back; the retry is a
      // safety net. Anything else is worth an operator's attention.
      const fields = { job: name, err: apiMessage(err), failures };
      if (isConflict(err)) log.info(fields, `Job changed since the cached copy; retrying in ${delayMs / 1000} s`);
      else log.error(fields, `reconcile failed; retrying in ${delayMs / 1000} s`);
      if (this.running) this.requeueAfter(name, delayMs);
    }
    if (since !== undefined) this.options.onReconciled?.((Date.now() - since) / 1000, outcome);
  }

  /** The build a queued Job belongs to (its own name once the Job is gone from the cache). */
  private buildOf(name: string): string {
    return this.informers.jobs.get(name, this.jobs.namespace)?.metadata?.labels?.[labelKeys.buildId] ?? name;
  }

  /**
   * The queued Job to reconcile next, of a build no worker has: one that has
   * reported nothing yet, if any, else the longest-queued. GitHub paces a
   * credential's status writes to about one a second, so first come, first
   * served let a Job's own pod events put it back ahead of its build's other
   * platforms, and a quick platform could finish before its pending status
   * was ever sent.
   */
  private next(): string | undefined {
    let oldest: string | undefined;
    for (const name of this.queue) {
      if (this.busyBuilds.has(this.buildOf(name))) continue;
      const job = this.informers.jobs.get(name, this.jobs.namespace);
      if (job && job.metadata?.annotations?.[annotationKeys.reported] === undefined && !this.reportedNotYetSeen.has(name)) return name;
      oldest ??= name;
    }
    return oldest;
  }

  private requeueAfter(name: string, ms: number): void {
    clearTimeout(this.timers.get(name));
    this.timers.set(
      name,
      setTimeout(() => {
        this.timers.delete(name);
        this.enqueue(name);
      }, ms).unref(),
    );
  }

  private async reconcile(name: string): Promise<void> {
    const job = this.informers.jobs.get(name, this.jobs.namespace);
    if (!job?.metadata?.labels?.[labelKeys.buildId]) {
      this.reportedNotYetSeen.delete(name);
      this.pendingSentHere.delete(name);
      this.resultTried.delete(name);
      this.failures.delete(name);
      return;
    }
    const log = buildLogger(this.log, job.metadata.labels[labelKeys.buildId]);
    const pod = newestPodOf(job, this.informers.pods.list(this.jobs.namespace));

    let platform = derivePlatformState(job, pod, { now: this.now(), unschedulableAfterSeconds: this.options.unschedulableAfterSeconds });
    const ended = job.metadata.annotations?.[annotationKeys.unschedulable];
    if (ended !== undefined) platform = { ...platform, state: "error", message: ended };
    this.options.onState?.(platform, job);
    if (this.options.admission && (await this.options.admission.reconcile(job))) return; // the update brings it back

    // Unscheduled, or a container the kubelet cannot start (image pull): both end the build once the limit passes.
    if (pod && (platform.state === "queued" || platform.state === "running") && (!pod.spec?.nodeName || hasWaitingContainer(pod))) {
      this.scheduleUnschedulableCheck(name, pod.metadata?.creationTimestamp);
    }
    // A queued dockerd Job waiting for an engine is bounded the same way.
    if (platform.state === "queued" && job.spec?.suspend === true && waitsForEngine(job.metadata.annotations?.[annotationKeys.queued])) {
      this.scheduleUnschedulableCheck(name, job.metadata.creationTimestamp);
    }
    if ((platform.state === "succeeded" || platform.imageCheck === "pending") && !platform.digest && platform.pushRef && pod) {
      // docker push prints the digest; BuildKit leaves it in the termination message (read by derivePlatformState).
      const digest = await this.digestFromPushLog(pod, log);
      if (digest) {
        await this.jobs.patchAnnotations(name, { [annotationKeys.digest]: digest });
        return; // the update event brings us back with the digest in place
      }
    }
    // The pushed image is read back before the platform can succeed; the annotation it writes brings us back.
    if (this.options.imageIndex && (await this.options.imageIndex.readBack(job, platform))) return;

    const annotations = job.metadata.annotations ?? {};
    const seen = annotations[annotationKeys.reported];
    if (this.reportedNotYetSeen.get(name) === seen) this.reportedNotYetSeen.delete(name);
    const reported = this.reportedNotYetSeen.get(name) ?? seen;
    if (isWithheld(platform, reported)) {
      await this.record(name, withheldStatus);
      log.info({ platform: platform.platform }, "cancelled before its first status: none sent");
      return;
    }
    const wanted = reported === withheldStatus ? undefined : commitStatusToReport(platform, reported);
    if (wanted !== undefined && reported !== wanted.state) {
      // A pending waits its turn in its credential's queue: if the build is
      // cancelled meanwhile, it is dropped there and the platform withheld.
      const report = { ...statusReportFor(job, platform.statusContext, wanted), ...(wanted.final ? {} : { dropIf: () => this.cancelledNow(name) }) };
      const firstTry = this.pendingSentHere.has(name) && !this.resultTried.has(name);
      if (wanted.final) this.resultTried.add(name);
      const outcome = await sendAndRecord(wanted, {
        send: () => this.report(report),
        record: () => this.record(name, wanted.state),
        shown: firstTry ? undefined : async () => (await this.report.shown?.(report)) ?? "this",
        // A pending recorded and then lost in a crash before it went out: the pull request still shows pending first.
        sendPending: () => this.report(statusReportFor(job, platform.statusContext, commitStatusFor({ ...platform, state: "queued" }))),
        withhold: wanted.final ? (platform.state === "cancelled" ? () => this.record(name, withheldStatus) : undefined) : () => this.record(name, withheldStatus),
      });
      if (outcome === "withheld") {
        log.info({ platform: platform.platform }, "cancelled before its first status went out: none sent");
        return;
      }
      if (!wanted.final) this.pendingSentHere.add(name);
      this.options.onReported?.(platform, wanted.final);
      log.info(
        { platform: platform.platform, state: wanted.state, description: wanted.description },
        "commit status reported",
      );
      return; // the annotation update brings us back for the next step
    }

    // The build's index and its own commit status, once this platform's status is out.
    const deriveOptions = { now: this.now(), unschedulableAfterSeconds: this.options.unschedulableAfterSeconds };
    if (this.options.imageIndex && (await this.options.imageIndex.reconcileIndex(job, deriveOptions))) return;

    if (wanted !== undefined && !wanted.final) return;
    if (platform.state === "error" && ended === undefined && !isFinished(job) && !job.metadata.deletionTimestamp) {
      // Unschedulable past the limit: record why before deleting, so the
      // deleted Job still explains itself to GET /v1/builds/{id}.
      await this.jobs.patchAnnotations(name, { [annotationKeys.unschedulable]: platform.message ?? "no node can run this build" });
      await this.jobs.delete(name);
      return;
    }
    // Every Job of a multi-platform build stays until the index status is out too.
    if (this.options.imageIndex?.holdsFinalizer(job)) return;
    await this.jobs.releaseFinalizer(job);
    await this.expireCancelled(name, job);
  }

  /**
   * A cancelled Job is suspended, not finished, so the TTL controller never
   * collects it: it is deleted here, as long after its cancellation as a
   * finished Job is kept. The timer is rebuilt from the Job after a restart.
   */
  private async expireCancelled(name: string, job: V1Job): Promise<void> {
    const cancelledAt = Date.parse(job.metadata?.annotations?.[annotationKeys.cancelledAt] ?? "");
    if (!Number.isFinite(cancelledAt) || job.metadata?.deletionTimestamp) return;
    const due = cancelledAt + (job.spec?.ttlSecondsAfterFinished ?? 0) * 1000 - this.now().getTime();
    if (due <= 0) await this.jobs.delete(name);
    else this.requeueAfter(name, due + 50);
  }

  /** Whether the Job was cancelled or deleted, as the informer shows it now. */
  private cancelledNow(name: string): boolean {
    const job = this.informers.jobs.get(name, this.jobs.namespace);
    return job === undefined || job.metadata?.annotations?.[annotationKeys.cancelled] !== undefined || job.metadata?.deletionTimestamp !== undefined;
  }

  /** Records on the Job what was reported for it (dockhand.dev/reported). */
  private async record(name: string, state: string): Promise<void> {
    // Covered only once written: a failed write (the API server away) is
    // retried, and must not look done to the retry.
    try {
      await this.jobs.patchAnnotations(name, { [annotationKeys.reported]: state });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    this.reportedNotYetSeen.set(name, state);
  }

  private scheduleUnschedulableCheck(name: string, createdAt: Date | string | undefined): void {
    const created = new Date(createdAt ?? this.now()).getTime();
    const due = created + this.options.unschedulableAfterSeconds * 1000 - this.now().getTime();
    if (due < -1_000) return; // the check has run: what it found stands until the next event
    if (!this.timers.has(name)) this.requeueAfter(name, Math.max(due, 0) + 50);
  }

  private async digestFromPushLog(pod: V1Pod, log: ReconcilerLog): Promise<string | undefined> {
    const push = containerNames.push(0);
    if (![...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].some((c) => c.name === push)) return undefined;
    try {
      const text = await this.jobs.readLog(pod.metadata!.name!, push, 50);
      return /digest: (sha256:[0-9a-f]{64})/.exec(text)?.[1];
    } catch (err) {
      log.warn({ pod: pod.metadata?.name, err: apiMessage(err) }, "could not read the push log for the digest");
      return undefined;
    }
  }
}

function hasWaitingContainer(pod: V1Pod): boolean {
  return [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].some((s) => s.state?.waiting?.reason !== undefined && s.state.waiting.reason !== "PodInitializing");
}

