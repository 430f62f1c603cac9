// How the reconciler delivers a commit status it has decided on, for a
// platform or for a build's image index alike: the request, built from what
// the plan recorded on the Job, and the order of sending and recording.

import type { V1Job } from "@kubernetes/client-node";
import { annotationKeys } from "../plan/names.js";
import type { CommitStatusWanted } from "./commit-status.js";
import type { StatusReport } from "./reconciler.js";
import type { Shown } from "../github/status-client.js";

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

/**
 * A crash between sending and recording would repeat the status after a
 * restart; between recording and sending, it would lose it. A result must
 * never be lost, so it is sent first, and when the one sending it may not be
 * the first to try (a new process or leader, or a retry after an error),
 * GitHub is asked first what it shows: the result itself (sent just before a
 * crash) is only recorded; nothing at all of this build (its pending was
 * recorded, then lost in a crash before it went out) gets the pending sent
 * first. Pending only informs, and is recorded first, so a restart never
 * shows it twice.
 */
export async function sendAndRecord(
  wanted: CommitStatusWanted,
  send: () => Promise<void>,
  record: () => Promise<void>,
  shown?: () => Promise<Shown>,
  sendPending?: () => Promise<void>,
): Promise<void> {
  if (wanted.final) {
    const seen = shown ? await shown() : "build";
    if (seen !== "this") {
      if (seen === "none" && sendPending) await sendPending();
      await send();
    }
    await record();
  } else {
    await record();
    await send();
  }
}
