import { Type } from "@sinclair/typebox";

/** The body of every 4xx answer. */
export const ErrorSchema = Type.Object(
  {
    error: Type.String({ description: "What is wrong, starting with the field." }),
    field: Type.String({ description: "Path of the field at fault in the request, or empty." }),
    hint: Type.String({ description: "What to do about it." }),
    rule: Type.Optional(Type.String({ description: "For 403 and 429 from policy: the config rule that denied the request, e.g. policy.repositories[0].dockerPool." })),
  },
  { $id: "Error" },
);

const PlatformStateSchema = Type.Object({
  platform: Type.String(),
  slug: Type.String(),
  job: Type.String(),
  builder: Type.Union([Type.Literal("docker"), Type.Literal("buildkit")]),
  builderReason: Type.String(),
  statusContext: Type.String(),
  state: Type.Union(["queued", "running", "succeeded", "failed", "cancelled", "error"].map((s) => Type.Literal(s))),
  node: Type.Optional(Type.String()),
  pod: Type.Optional(Type.String()),
  digest: Type.Optional(Type.String()),
  pushRef: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
  failedStep: Type.Optional(Type.Object({ name: Type.String(), exitCode: Type.Optional(Type.Integer()) })),
  createdAt: Type.Optional(Type.String({ format: "date-time" })),
  startedAt: Type.Optional(Type.String({ format: "date-time" })),
  finishedAt: Type.Optional(Type.String({ format: "date-time" })),
  reported: Type.Optional(Type.String()),
  imageCheck: Type.Optional(
    Type.Union(["pending", "passed", "failed"].map((s) => Type.Literal(s)), {
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

const ManifestStateSchema = Type.Object(
  {
    state: Type.Union(["pending", "succeeded", "failed", "error"].map((s) => Type.Literal(s))),
    tags: Type.Array(Type.String(), { description: "The requested tags the index is pushed under." }),
    statusContext: Type.String({ description: "Its commit status context, e.g. dockhand/manifest." }),
    digest: Type.Optional(Type.String({ description: "The index digest: the build's digest." })),
    message: Type.Optional(Type.String({ description: "What it waits for, or why no index was pushed (naming the failed platforms)." })),
  },
  { description: "Multi-platform builds that push: the OCI image index joining the platforms under each tag." },
);

export const BuildStateSchema = Type.Object({
  id: Type.String(),
  repository: Type.String(),
  sha: Type.String(),
  ref: Type.String(),
  targetUrl: Type.String(),
  state: Type.String(),
  platforms: Type.Array(PlatformStateSchema),
  manifest: Type.Optional(ManifestStateSchema),
  url: Type.String({ description: "This build's page." }),
  logsUrl: Type.String({ description: "NDJSON log stream; add ?follow=1 to follow." }),
});
