// How the reconciler delivers a commit status it has decided on, for a
// platform or for a build's image index alike: the request, built from what
// the plan recorded on the Job, and the order of sending and recording.

import type { V1Job } from "@kubernetes/client-node";
import { annotationKeys } from "../plan/names.js";
import type { CommitStatusWanted } from "../model/commit-status.js";
import type { Shown, StatusReport } from "../model/status-report.js";

/** The status for `context`, addressed by the repository, commit, target URL and token the Job carries. */
export function statusReportFor(job: V1Job, context: string, wanted: CommitStatusWanted): StatusReport {
  const annotations = job.metadata?.annotations ?? {};
  return {
    repository: annotations[annotationKeys.repository] ?? "",
    sha: annotations[annotationKeys.sha] ?? "",
    context,
    targetUrl: annotations[annotationKeys.targetUrl] ?? "",
    state: wanted.state,
    description: wanted.description,
    tokenSecret: annotations[annotationKeys.githubTokenSecret],
  };
}

/** How one status goes out and is recorded (see sendAndRecord). */
export interface Delivery {
  /** Sends the status; "dropped" when its dropIf dropped it unsent. */
  send: () => Promise<void | "dropped">;
  /** Records the status as reported. */
  record: () => Promise<void>;
  /** What GitHub shows of the build's context; absent: this process is the first to try, nothing to ask. */
  shown?: () => Promise<Shown>;
  /** Sends the context's pending (for a result whose pending was recorded, then lost in a crash). */
  sendPending?: () => Promise<void | "dropped">;
  /**
   * Given when the build was cancelled: records that the context gets no
   * status. Used instead of sending when nothing of it is on GitHub (a
   * pending dropped in the queue, or never sent before a crash).
   */
  withhold?: () => Promise<void>;
}

/**
 * A crash between sending and recording would repeat the status after a
 * restart; between recording and sending, it would lose it. A result must
 * never be lost, so it is sent first, and when the one sending it may not be
 * the first to try (a new process or leader, or a retry after an error),
 * GitHub is asked first what it shows: the result itself (sent just before a
 * crash) is only recorded; nothing at all of this build (its pending was
 * recorded, then lost in a crash before it went out) gets the pending sent
 * first, or, for a cancelled build, no status at all. Pending only informs,
 * and is recorded first, so a restart never shows it twice; one still
 * waiting for its turn when its build is cancelled is dropped and the
 * context withheld.
 */
export async function sendAndRecord(wanted: CommitStatusWanted, delivery: Delivery): Promise<"sent" | "recorded" | "withheld"> {
  if (wanted.final) {
    const seen = delivery.shown ? await delivery.shown() : "build";
    if (seen === "this") {
      await delivery.record();
      return "recorded";
    }
    if (seen === "none" && delivery.withhold) {
      await delivery.withhold();
      return "withheld";
    }
    if (seen === "none" && delivery.sendPending) await delivery.sendPending();
    await delivery.send();
    await delivery.record();
    return "sent";
  }
  await delivery.record();
  if ((await delivery.send()) === "dropped" && delivery.withhold) {
    await delivery.withhold();
    return "withheld";
  }
  return "sent";
}
