// One page of builds for GET /v1/builds, from every build an executor knows:
// the caller's filters, only what its credentials cover, newest first, cut
// after the cursor. Pure, and the same for both executors.

import type { BuildState } from "../protocol/build-state.js";
import { type BuildListQuery, encodeCursor } from "../protocol/build-list.js";

export interface BuildPage {
  builds: BuildState[];
  next?: string;
}

/** When a build was created: its first platform's Job (or record). Builds without one sort last. */
export function createdAtOf(build: BuildState): string {
  return build.platforms.map((p) => p.createdAt ?? "").filter((t) => t !== "").sort()[0] ?? "";
}

export function selectBuilds(all: readonly BuildState[], query: BuildListQuery, covers: (repository: string) => boolean): BuildPage {
  const repository = query.repository?.toLowerCase();
  const matching = all.filter(
    (build) =>
      covers(build.repository) &&
      (repository === undefined || build.repository.toLowerCase() === repository) &&
      (query.sha === undefined || build.sha === query.sha) &&
      (query.state === undefined || build.state === query.state) &&
      (query.builder === undefined || build.platforms.some((p) => p.builder === query.builder)) &&
      (query.since === undefined || Date.parse(createdAtOf(build)) >= query.since),
  );
  const newestFirst = matching
    .map((build) => ({ build, createdAt: createdAtOf(build) }))
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.build.id.localeCompare(a.build.id));
  const cursor = query.cursor;
  const after = cursor
    ? newestFirst.filter(({ build, createdAt }) => createdAt < cursor.createdAt || (createdAt === cursor.createdAt && build.id < cursor.id))
    : newestFirst;
  const page = after.slice(0, query.limit);
  const last = page[page.length - 1];
  return {
    builds: page.map((entry) => entry.build),
    ...(after.length > page.length && last ? { next: encodeCursor({ createdAt: last.createdAt, id: last.build.id }) } : {}),
  };
}
