// The body of POST /v1/builds, as the Action sends it and the dispatcher
// accepts it: its schema (TypeBox, so it is both the TS type and the JSON
// Schema docs/openapi.json shows), built from the rules in request-rules.ts,
// and the request as it stands once validated. The validation itself, with
// its messages, is in build-request-validation.ts. The Action
// imports the types only (`import type`), so its bundle carries no TypeBox.

import { type Static, Type } from "@sinclair/typebox";
import { type PlatformString, type WindowsVersion, supportedPlatforms, windowsVersions } from "./platforms.js";
import {
  type BuilderPreference,
  buildArgNamePattern,
  builderPreferences,
  githubTokenPattern,
  labelKeyPattern,
  maxBuildArgNameLength,
  maxLabelKeyLength,
  maxStatusContextLength,
  refPattern,
  repositoryPattern,
  stageNamePattern,
  statusContextPattern,
} from "./request-rules.js";
import {
  maxAnnotations,
  maxCacheEntries,
  maxSecretBytes,
  maxSecretIdLength,
  maxSecrets,
  type Annotation,
  type CacheEntry,
  type ProvenanceMode,
  type SbomSetting,
  secretIdPattern,
} from "./build-options.js";

const noControlCharacters = "^[^\\u0000-\\u001f\\u007f]*$";

const imageString = (description: string) => Type.String({ minLength: 1, maxLength: 512, description });

export const BuildRequestSchema = Type.Object(
  {
    repository: Type.String({
      pattern: repositoryPattern,
      maxLength: 140,
      description: 'GitHub repository "owner/name" the commit belongs to (github.repository).',
    }),
    sha: Type.String({ pattern: "^[0-9a-f]{40}$", description: "Commit SHA, 40 lowercase hex digits (github.sha)." }),
    ref: Type.String({
      pattern: refPattern,
      maxLength: 255,
      description: 'Git ref being built: "refs/heads/<branch>", "refs/tags/<tag>" or "refs/pull/<n>/merge".',
    }),
    context: Type.String({
      pattern: "^sha256:[0-9a-f]{64}$",
      description: "Digest of the build context uploaded beforehand to PUT /v1/contexts/{sha256}.",
    }),
    file: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 255,
        default: "Dockerfile",
        description: "Dockerfile path inside the context, relative, forward slashes.",
      }),
    ),
    target: Type.Optional(
      Type.String({ pattern: stageNamePattern, maxLength: 128, description: "Stage to build; default the last." }),
    ),
    tags: Type.Optional(
      Type.Array(imageString("Image reference to tag and push, e.g. ghcr.io/owner/app:1.0."), {
        maxItems: 16,
        default: [],
        description: "Image references to push; at least one when push is true. A missing tag means :latest.",
      }),
    ),
    buildArgs: Type.Optional(
      Type.Record(Type.String({ pattern: buildArgNamePattern, maxLength: maxBuildArgNameLength }), Type.String({ maxLength: 4096 }), {
        additionalProperties: false,
        maxProperties: 64,
        default: {},
        description: "Build arguments (--build-arg K=V).",
      }),
    ),
    labels: Type.Optional(
      Type.Record(Type.String({ pattern: labelKeyPattern, maxLength: maxLabelKeyLength }), Type.String({ maxLength: 4096 }), {
        additionalProperties: false,
        maxProperties: 64,
        default: {},
        description: "Image labels (--label K=V).",
      }),
    ),
    push: Type.Optional(Type.Boolean({ default: true, description: "Push the tags after building." })),
    platforms: Type.Array(Type.Union(supportedPlatforms.map((platform) => Type.Literal(platform))), {
      minItems: 1,
      maxItems: supportedPlatforms.length,
      description: 'Platforms to build, e.g. ["windows/amd64:ltsc2022", "linux/amd64"].',
    }),
    builder: Type.Optional(
      Type.Union(
        builderPreferences.map((builder) => Type.Literal(builder)),
        {
          default: "auto",
          description:
            'Which builder: "auto" (Windows RUN → BuildKit on the Windows pool where the operator enabled it, else the dockerd pool; otherwise BuildKit), "docker", "buildkit" or "buildkit-windows".',
        },
      ),
    ),
    statusContext: Type.Optional(
      Type.String({
        pattern: statusContextPattern,
        maxLength: maxStatusContextLength,
        description: "Commit status context prefix; default from the dispatcher config (dockhand).",
      }),
    ),
    idempotencyKey: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 512,
        pattern: noControlCharacters,
        description: 'Same key (per repository) → same build, e.g. "<runId>/<runAttempt>/<job>/<step>".',
      }),
    ),
    baseImages: Type.Optional(
      Type.Object(
        Object.fromEntries(windowsVersions.map((version) => [version, Type.Optional(imageString(`Base image for ${version}.`))])),
        {
          additionalProperties: false,
          description:
            "Per-Windows-version base image, passed to that platform's build as build-arg DOCKHAND_BASE_IMAGE.",
        },
      ),
    ),
    registrySecret: Type.Optional(
      Type.String({
        pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
        maxLength: 253,
        description: "Registry credentials Secret for push and pull, one the dispatcher's policy grants this repository; default the first it grants.",
      }),
    ),
    pull: Type.Optional(Type.Boolean({ default: false, description: "Always pull base images, even ones the builder has (docker build --pull; BuildKit image-resolve-mode=pull)." })),
    noCache: Type.Optional(Type.Boolean({ default: false, description: "Build every step anew, using no cache (--no-cache)." })),
    secrets: Type.Optional(
      Type.Record(Type.String({ pattern: secretIdPattern, maxLength: maxSecretIdLength }), Type.String({ maxLength: maxSecretBytes }), {
        additionalProperties: false,
        maxProperties: maxSecrets,
        description:
          "BuildKit secrets, id → value, for RUN --mount=type=secret,id=<id> (BuildKit only). Never stored with the context, logged, or written to a Job spec: kept in a Secret owned by the build's Jobs.",
      }),
    ),
    cacheFrom: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), {
        maxItems: maxCacheEntries,
        description: 'Registry cache to import (BuildKit only): "<image ref>" or "type=registry,ref=<image ref>". Several platforms: each reads "<ref>-<platform>".',
      }),
    ),
    cacheTo: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), {
        maxItems: maxCacheEntries,
        description:
          'Registry cache to export (BuildKit only): "<image ref>" or "type=registry,ref=<image ref>[,mode=min|max][,image-manifest=…][,oci-mediatypes=…][,ignore-error=…]". Several platforms: each writes "<ref>-<platform>".',
      }),
    ),
    annotations: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 4500 }), {
        maxItems: maxAnnotations,
        description: 'OCI annotations (BuildKit only), "[manifest:|index:|manifest-descriptor:|index-descriptor:]key=value" as docker/metadata-action outputs them; no type means manifest.',
      }),
    ),
    provenance: Type.Optional(
      Type.Union([Type.Literal("min"), Type.Literal("max")], { description: "SLSA provenance attestation of this mode (BuildKit only); absent: none." }),
    ),
    sbom: Type.Optional(
      Type.Object(
        { generator: Type.Optional(imageString("Scanner image; default BuildKit's (docker/buildkit-syft-scanner).")) },
        { additionalProperties: false, description: "SBOM attestation (BuildKit only); absent: none." },
      ),
    ),
    githubToken: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 2048,
        pattern: githubTokenPattern,
        description: "Token for this build's commit statuses only; never logged.",
      }),
    ),
  },
  { additionalProperties: false },
);

/** The body as sent: what the schema allows. */
export type BuildRequestBody = Static<typeof BuildRequestSchema>;

/** A validated request with defaults filled in and tags written out in full. */
export interface BuildRequest {
  readonly repository: string;
  readonly sha: string;
  readonly ref: string;
  readonly context: `sha256:${string}`;
  readonly file: string;
  readonly target: string | undefined;
  /** Each with an explicit tag (`app` became `app:latest`). */
  readonly tags: readonly string[];
  readonly buildArgs: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly push: boolean;
  readonly platforms: readonly PlatformString[];
  readonly builder: BuilderPreference;
  /** Undefined: use the config's statusContextPrefix. */
  readonly statusContext: string | undefined;
  readonly idempotencyKey: string | undefined;
  readonly baseImages: Readonly<Partial<Record<WindowsVersion, string>>>;
  /** Undefined: the policy's default for the repository. */
  readonly registrySecret: string | undefined;
  readonly githubToken: string | undefined;
  readonly pull: boolean;
  readonly noCache: boolean;
  /** id → value. Never part of a plan, a Job or a log: the executor stores it apart (a Secret, a 0600 file). */
  readonly secrets: Readonly<Record<string, string>>;
  readonly cacheFrom: readonly CacheEntry[];
  readonly cacheTo: readonly CacheEntry[];
  readonly annotations: readonly Annotation[];
  readonly provenance: ProvenanceMode | undefined;
  readonly sbom: SbomSetting | undefined;
}
