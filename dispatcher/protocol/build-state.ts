// The state of a build as the API answers it (GET /v1/builds/{id}, and the
// answers to POST /v1/builds and DELETE): per platform, plus the image index
// of a multi-platform push. The schema (TypeBox) is what the routes declare
// and docs/openapi.json shows; the types are derived from it. The Action
// imports the types only (`import type`), so its bundle carries no TypeBox.

import { type Static, Type } from "@sinclair/typebox";
import { type PlatformPhase, platformPhases } from "./phases.js";
import { builders } from "./request-rules.js";

export const PlatformStateSchema = Type.Object({
  platform: Type.String(),
  slug: Type.String(),
  job: Type.String(),
  builder: Type.Union(builders.map((builder) => Type.Literal(builder))),
  builderReason: Type.String(),
  statusContext: Type.String(),
  state: Type.Union(platformPhases.map((s) => Type.Literal(s))),
  node: Type.Optional(Type.String()),
  pod: Type.Optional(Type.String()),
  digest: Type.Optional(Type.String()),
  pushRef: Type.Optional(Type.String()),
  // Why it failed or errored, in words a user can act on.
  message: Type.Optional(Type.String()),
  // The step (container) that failed, and how.
  failedStep: Type.Optional(Type.Object({ name: Type.String(), exitCode: Type.Optional(Type.Integer()) })),
  createdAt: Type.Optional(Type.String({ format: "date-time" })),
  startedAt: Type.Optional(Type.String({ format: "date-time" })),
  finishedAt: Type.Optional(Type.String({ format: "date-time" })),
  // What the reconciler last reported for this platform (state:description hash), if anything.
  reported: Type.Optional(Type.String()),
  // Absent when there is nothing to read (no push) or nothing to check.
  imageCheck: Type.Optional(
    Type.Union((["pending", "passed", "failed"] as const).map((s) => Type.Literal(s)), {
      description: "The pushed image read back from the registry: pending (the platform shows running), passed, or failed (message says why).",
    }),
  ),
  image: Type.Optional(
    Type.Object(
      { os: Type.String(), architecture: Type.String(), "os.version": Type.Optional(Type.String()) },
      { description: "The pushed image's platform, from its config." },
    ),
  ),
});

export type PlatformState = Static<typeof PlatformStateSchema>;

export const ManifestStateSchema = Type.Object(
  {
    // pending: platforms still building, or all succeeded and the index not pushed yet.
    state: Type.Union((["pending", "succeeded", "failed", "error"] as const).map((s) => Type.Literal(s))),
    tags: Type.Array(Type.String(), { description: "The requested tags the index is pushed under." }),
    statusContext: Type.String({ description: "Its commit status context, e.g. dockhand/manifest." }),
    digest: Type.Optional(Type.String({ description: "The index digest: the build's digest." })),
    message: Type.Optional(Type.String({ description: "What it waits for, or why no index was pushed (naming the failed platforms)." })),
  },
  { description: "Multi-platform builds that push: the OCI image index joining the platforms under each tag." },
);

export type ManifestState = Static<typeof ManifestStateSchema>;

export const BuildStateSchema = Type.Object({
  id: Type.String(),
  repository: Type.String(),
  sha: Type.String(),
  ref: Type.String(),
  targetUrl: Type.String(),
  // A PlatformPhase (BuildState below), documented as a string as it always was.
  state: Type.String(),
  platforms: Type.Array(PlatformStateSchema),
  manifest: Type.Optional(ManifestStateSchema),
  url: Type.String({ description: "This build's page." }),
  logsUrl: Type.String({ description: "NDJSON log stream; add ?follow=1 to follow." }),
});

/** A build's state as the API sends it: what the Action reads. */
export type BuildStateBody = Static<typeof BuildStateSchema>;

/**
 * A build's state as an executor derives it: the body without the two URLs
 * the API adds (api/routes/builds.ts), its state the build's phase — as far
 * as its least advanced platform, failed if any failed (model/build-phase.ts).
 */
export interface BuildState extends Omit<BuildStateBody, "url" | "logsUrl" | "state"> {
  state: PlatformPhase;
}
