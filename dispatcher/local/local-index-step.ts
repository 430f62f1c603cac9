// What happens to a pushed image after its steps, as the Kubernetes
// reconciler finishes it (controller/image-index-step.ts), with the same
// registry client and pure parts (registry/registry-steps.ts,
// read-back-failure.ts, model/image-index-state.ts): read back and checked
// against its platform, and for a multi-platform build one image index pushed
// under each tag with its `<prefix>/manifest` status. Each result is in the
// record (imageRecord, indexResult, manifestReported) before the next step,
// where the reconciler writes Job annotations.

import { manifestAnnouncement, nextManifestStep } from "../model/image-index-state.js";
import { isFinalCommitState, withheldStatus } from "../model/commit-status.js";
import type { StatusReporter } from "../model/status-report.js";
import { readBackFailure } from "../registry/read-back-failure.js";
import { pushImageIndex, readPushedImage } from "../registry/registry-steps.js";
import type { ImageReader } from "../registry/image-reader.js";
import type { RegistryHttp } from "../registry/registry-http.js";
import { retryDelayMs } from "../retry-delay.js";
import { awaitingReadBack, manifestOf, type PlatformRecord, recordReadBack, recordReadBackFailure } from "./build-record.js";
import type { LocalBuild } from "./local-build.js";
import type { LocalContext } from "./local-context.js";
import type { LocalStatusDelivery } from "./local-status-delivery.js";

/** The key of a build's index status in LocalBuild.reporting (platform slugs have no parentheses). */
const manifestKey = "(manifest)";

export class LocalIndexStep {
  constructor(
    private readonly context: LocalContext,
    private readonly delivery: LocalStatusDelivery,
    private readonly report: StatusReporter,
    private readonly registry: { http: RegistryHttp; reader: ImageReader },
  ) {}

  /**
   * Reads the platform's pushed image back from the registry and records
   * whether it fits (registry.validatePlatform) and what its index entry is.
   * A registry that does not answer is asked again, backing off as the
   * reconciler does, until readBackFailure gives up on it.
   */
  async readBack(build: LocalBuild, platform: PlatformRecord): Promise<void> {
    for (let failures = 1; awaitingReadBack(platform) && !this.context.stopped.aborted; failures++) {
      try {
        const read = await readPushedImage(
          this.registry.reader,
          { platform: platform.platform, pushRef: platform.pushRef!, ...(platform.digest ? { digest: platform.digest } : {}) },
          build.record.validatePlatform === true,
        );
        if (!awaitingReadBack(platform)) return; // cancelled meanwhile
        recordReadBack(platform, read);
        this.context.log.info({ buildId: build.record.id, platform: platform.platform, image: platform.image, mismatch: read.mismatch }, "pushed image read back");
      } catch (err) {
        const failure = readBackFailure(err, platform, Date.now());
        if (failure === undefined) {
          const delayMs = retryDelayMs(failures);
          this.context.log.warn({ buildId: build.record.id, platform: platform.platform, err: (err as Error)?.message ?? String(err) }, `reading the pushed image failed; retrying in ${delayMs / 1000} s`);
          // Any change of the build (a cancel) ends the wait early; the loop then looks again.
          await build.nextChange(delayMs, this.context.stopped);
          continue;
        }
        if (!awaitingReadBack(platform)) return;
        recordReadBackFailure(platform, failure);
      }
      await this.context.save(build);
      this.delivery.reportStatus(build, platform);
      this.reconcileManifest(build);
    }
  }

  /**
   * The index of a multi-platform build and its `<prefix>/manifest` status,
   * level-triggered as reportStatus: from the record, the next step
   * (nextManifestStep), done and recorded before the one after. One at a time
   * per build; a failure is retried with the reconciler's back-off.
   */
  reconcileManifest(build: LocalBuild): void {
    if (build.record.index === undefined) return;
    this.delivery.inTurn(build, manifestKey, () => this.manifestSteps(build), { what: "image index step", fields: {}, delayMs: retryDelayMs });
  }

  private async manifestSteps(build: LocalBuild): Promise<void> {
    const { record } = build;
    for (;;) {
      const manifest = manifestOf(record);
      if (!manifest) return;
      const step = nextManifestStep(manifest, {
        reported: record.manifestReported,
        platformsFinal: record.platforms.every((platform) => isFinalCommitState(platform.reported)),
      });
      if (step.kind === "none") return;
      if (step.kind === "withhold") {
        record.manifestReported = withheldStatus;
        await this.context.save(build);
        return;
      }
      if (step.kind === "push") {
        const platforms = record.platforms.map((platform) => ({ platform: platform.platform, name: `${record.id} ${platform.platform}`, record: platform.imageRecord }));
        record.indexResult = await pushImageIndex(this.registry.http, manifest.tags, platforms);
        await this.context.save(build);
        if ("error" in record.indexResult) this.context.log.warn({ buildId: record.id, err: record.indexResult.error }, "index push refused");
        else this.context.log.info({ buildId: record.id, digest: record.indexResult.digest, tags: manifest.tags }, "image index pushed");
        continue;
      }
      const wanted = step.kind === "announce" ? manifestAnnouncement(manifest, record.platforms.map((platform) => platform.platform)) : step.wanted;
      await this.report({
        repository: record.repository,
        sha: record.sha,
        context: manifest.statusContext,
        targetUrl: record.targetUrl,
        state: wanted.state,
        description: wanted.description,
      });
      record.manifestReported = wanted.state;
      await this.context.save(build);
      this.context.log.info(
        { buildId: record.id, context: manifest.statusContext, state: wanted.state, description: wanted.description },
        "commit status reported",
      );
    }
  }
}
