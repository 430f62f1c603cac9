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
});

export const BuildStateSchema = Type.Object({
  id: Type.String(),
  repository: Type.String(),
  sha: Type.String(),
  ref: Type.String(),
  targetUrl: Type.String(),
  state: Type.String(),
  platforms: Type.Array(PlatformStateSchema),
  url: Type.String({ description: "This build's page." }),
  logsUrl: Type.String({ description: "NDJSON log stream; add ?follow=1 to follow." }),
});
