// What the fields of a build request may hold: the patterns, limits and
// reserved names the Action checks its inputs against before it uploads
// anything (action/inputs.ts) and the request schema is built from
// (build-request.ts). Plain values, no TypeBox: the Action's bundle imports
// this.

/**
 * The builders a platform can be built by: "docker" the dockerd pool on the
 * Windows nodes, "buildkit" the Linux BuildKit pool, "buildkit-windows"
 * BuildKit on the Windows nodes over their own containerd.
 */
export const builders = ["docker", "buildkit", "buildkit-windows"] as const;
export type Builder = (typeof builders)[number];
export const builderPreferences = ["auto", ...builders] as const;
export type BuilderPreference = (typeof builderPreferences)[number];
/** The builders that run on the Windows nodes with host-level access: the repository policy's dockerPool grant covers both. */
export const windowsPoolBuilders: readonly Builder[] = ["docker", "buildkit-windows"];

// GitHub: owner 1–39 alphanumerics or single hyphens, not at either end;
// repository 1–100 of [A-Za-z0-9._-]. "." and ".." are checked separately.
export const repositoryPattern = "^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?/[A-Za-z0-9._-]{1,100}$";
export const refPattern = "^refs/(?:heads/.+|tags/.+|pull/[0-9]+/(?:merge|head))$";
// BuildKit's stage-name rule (dockerfile parser: `^[a-z][a-z0-9-_\.]*$`,
// compared case-insensitively).
export const stageNamePattern = "^[A-Za-z][A-Za-z0-9_.-]*$";
// Names a Dockerfile ARG can be referenced by ($NAME / ${NAME}).
export const buildArgNamePattern = "^[A-Za-z_][A-Za-z0-9_]*$";
// Reverse-DNS style keys (org.opencontainers.image.source); no "=" or spaces,
// which would change the meaning of `--label K=V`.
export const labelKeyPattern = "^[A-Za-z0-9][A-Za-z0-9._/-]*$";
export const statusContextPattern = "^[A-Za-z0-9][A-Za-z0-9._/ -]*$";
export const githubTokenPattern = "^[A-Za-z0-9_.-]+$";
// TypeBox checks a Record's key pattern but not its key length: the server's validation does.
export const maxBuildArgNameLength = 128;
export const maxLabelKeyLength = 255;
export const maxStatusContextLength = 100;

/**
 * Build args dockhand fills itself: the BuildKit platform args decide which
 * stages run where (overriding them would defeat the builder choice), and
 * WINDOWS_VERSION / DOCKHAND_* are set per platform.
 */
export const reservedBuildArgs: ReadonlySet<string> = new Set([
  "TARGETPLATFORM",
  "TARGETOS",
  "TARGETARCH",
  "TARGETVARIANT",
  "BUILDPLATFORM",
  "BUILDOS",
  "BUILDARCH",
  "BUILDVARIANT",
  "WINDOWS_VERSION",
]);
export const reservedBuildArgPrefix = "DOCKHAND_";

export function isReservedBuildArg(name: string): boolean {
  return reservedBuildArgs.has(name) || name.startsWith(reservedBuildArgPrefix);
}
