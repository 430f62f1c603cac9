// The local executor's commit statuses, as the Kubernetes reconciler reports
// them (controller/reconciler.ts with controller/status-delivery.ts):
// level-triggered from the record, one report at a time per platform, each
// recorded in build.json (`reported`) once delivered, so a restart neither
// repeats nor loses one. Failed work is retried with a back-off until the
// executor stops. The index step queues its work here too (inTurn), under
// its own key, so the index and its status follow the same rules.

import type { PlatformState } from "../protocol/build-state.js";
import { commitStatusFor, isWithheld, withheldStatus } from "../model/commit-status.js";
import type { StatusReporter } from "../model/status-report.js";
import { type PlatformRecord, platformStateOf } from "./build-record.js";
import type { LocalBuild } from "./local-build.js";
import type { LocalContext } from "./local-context.js";

const reportRetryMs = 2_000;

export interface LocalStatusDeliveryOptions {
  report: StatusReporter;
  /** Called once a status is delivered and recorded (metrics), as the Kubernetes reconciler's onReported. */
  onReported?: (platform: PlatformState, final: boolean) => void;
  /**
   * Asks the index step to look at the build again (LocalIndexStep.reconcileManifest):
   * the index's final status waits for every platform's own.
   */
  manifestDue: (build: LocalBuild) => void;
}

export class LocalStatusDelivery {
  private readonly retryTimers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly context: LocalContext,
    private readonly options: LocalStatusDeliveryOptions,
  ) {}

  /**
   * Level-triggered, as the reconciler: compares the commit status the
   * platform's state calls for with the one recorded as reported, reports the
   * difference, records it. Reports of one platform run one at a time, each
   * reading the latest state, so a quick build may skip "pending" but never
   * reports a state twice, even across restarts.
   */
  reportStatus(build: LocalBuild, platform: PlatformRecord): void {
    this.inTurn(build, platform.slug, () => this.reportOnce(build, platform), {
      what: "commit status report",
      fields: { platform: platform.platform },
      delayMs: () => reportRetryMs,
    });
  }

  /**
   * Runs `work` under `key` of the build (a platform's statuses, the index)
   * after the run before it, so each reads the latest record and none
   * overlap. A failure is logged and the run retried after
   * delayMs(consecutive failures), unless the executor is stopping: the next
   * start picks the work up from the record.
   */
  inTurn(build: LocalBuild, key: string, work: () => Promise<void>, failure: { what: string; fields: object; delayMs: (failures: number) => number }): void {
    const previous = build.reporting.get(key) ?? Promise.resolve();
    const next = previous
      .then(work)
      .then(() => {
        build.failures.delete(key);
      })
      .catch((err: unknown) => {
        const failures = (build.failures.get(key) ?? 0) + 1;
        build.failures.set(key, failures);
        const delayMs = failure.delayMs(failures);
        const stopping = this.context.stopped.aborted;
        this.context.log.error(
          { buildId: build.record.id, ...failure.fields, err: (err as Error)?.message ?? String(err) },
          stopping ? `${failure.what} failed; the next start retries it` : `${failure.what} failed; retrying in ${delayMs / 1000} s`,
        );
        if (stopping) return;
        const timer = setTimeout(() => {
          this.retryTimers.delete(timer);
          this.inTurn(build, key, work, failure);
        }, delayMs);
        this.retryTimers.add(timer);
      });
    build.reporting.set(key, next);
    void next.finally(() => {
      if (build.reporting.get(key) === next) build.reporting.delete(key);
    });
  }

  /** Drops the retries still waiting (stop(), once nothing is in flight): the next start retries from the record. */
  clearRetries(): void {
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
  }

  private async reportOnce(build: LocalBuild, platform: PlatformRecord): Promise<void> {
    if (platform.reported === withheldStatus) return;
    if (isWithheld(platform, platform.reported)) {
      platform.reported = withheldStatus;
      await this.context.save(build);
      this.options.manifestDue(build);
      return;
    }
    const wanted = commitStatusFor(platformStateOf(platform));
    if (platform.reported === wanted.state) return;
    await this.options.report({
      repository: build.record.repository,
      sha: build.record.sha,
      context: platform.statusContext,
      targetUrl: build.record.targetUrl,
      state: wanted.state,
      description: wanted.description,
    });
    platform.reported = wanted.state;
    await this.context.save(build);
    this.options.onReported?.(platformStateOf(platform), wanted.final);
    // The index's final status waits for every platform's own (nextManifestStep): look again.
    if (wanted.final) this.options.manifestDue(build);
    this.context.log.info(
      { buildId: build.record.id, platform: platform.platform, state: wanted.state, description: wanted.description },
      "commit status reported",
    );
  }
}
