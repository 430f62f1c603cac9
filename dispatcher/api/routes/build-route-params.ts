// What the /v1/builds/{id} routes (JSON API, logs, build page and its events)
// take from the URL: the id, checked before anything is looked up, the same
// 404 wherever it is missing, and the log resume cursor.

import { RequestError } from "../../protocol/errors.js";
import type { LogResume } from "../../executor.js";
import { resumeEntryPattern } from "../../protocol/build-logs.js";
import { isBuildId } from "../../plan/names.js";

export function buildIdParam(params: unknown): string {
  const id = (params as { id: string }).id;
  if (!isBuildId(id)) {
    throw new RequestError({ error: `id: ${JSON.stringify(id.slice(0, 40))} is not a build id`, field: "id", hint: "use the id POST /v1/builds returned (12 lowercase letters and digits)" });
  }
  return id;
}

export function notFound(id: string) {
  return { error: `build ${id} not found`, field: "id", hint: "a finished or cancelled build is kept for limits.ttlSecondsAfterFinished after it ends, then deleted; check the id, or whether it ended longer ago than that" };
}

/** `resume=<slug>/<step>:<n>,…`: how many lines of each step the client has already shown. */
export function parseResume(value: string | undefined): LogResume {
  const resume: Record<string, number> = {};
  for (const part of (value ?? "").split(",")) {
    const m = resumeEntryPattern.exec(part.trim());
    if (m) resume[m[1]!] = Number(m[2]);
    else if (part.trim()) {
      throw new RequestError({ error: `resume: ${JSON.stringify(part.slice(0, 60))} is not "<slug>/<step>:<n>"`, field: "resume", hint: "send e.g. resume=win-ltsc2022/build:120,linux-amd64/build:80" });
    }
  }
  return resume;
}
