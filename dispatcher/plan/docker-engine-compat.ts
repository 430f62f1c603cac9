// Which docker CLI goes with which dockerd: the one place that pairs them.
//
// A Windows build on the dockerd pool is the docker CLI of the build pod's
// image talking to the node's dockerd over its named pipe. The two negotiate
// an API version, and either side can refuse the other:
// - Docker Engine 29 refuses clients older than API 1.44 ("client version 1.41
//   is too old. Minimum supported API version is 1.44"), i.e. CLIs before 25.
// - The docker CLI 29.0–29.2 client refuses daemons older than API 1.44
//   ("API version 1.41 is not supported by this client: the minimum supported
//   API version is 1.44"); 29.3 lowered that to 1.40 (moby/moby client
//   MinAPIVersion, v0.2.1 → v0.3.0).
// So the DaemonSets run dockhand's own dockerd image at a pinned Engine, the
// CLI images are pinned to the same major, and every build checks both
// versions before its first docker call (preflight, below).

/** The Engine the dockerd DaemonSets run (deploy/images/dockerd-hostprocess). */
export const pinnedEngine = {
  version: "29.8.2",
  image: "ghcr.io/dockhand-dev/dockerd-hostprocess:29.8.2",
} as const;

/** The CLI major that goes with pinnedEngine. */
export const pinnedCliMajor = 29;

/**
 * Docker Hub's `docker` image publishes its Windows CLI per Server Core
 * release under these variant names (windowsservercore-1809 is the 2019 one:
 * there is no windowsservercore-ltsc2019 tag).
 */
export const cliImageVariants = {
  ltsc2019: "windowsservercore-1809",
  ltsc2022: "windowsservercore-ltsc2022",
  ltsc2025: "windowsservercore-ltsc2025",
} as const;

export type CliVariantVersion = keyof typeof cliImageVariants;

/** The default CLI image per Windows version: the pinned major, for that Windows build. */
export const defaultCliImages: Readonly<Record<CliVariantVersion, string>> = {
  ltsc2019: `docker:${pinnedCliMajor}-${cliImageVariants.ltsc2019}`,
  ltsc2022: `docker:${pinnedCliMajor}-${cliImageVariants.ltsc2022}`,
  ltsc2025: `docker:${pinnedCliMajor}-${cliImageVariants.ltsc2025}`,
};

/**
 * The oldest daemon API a docker CLI release's client accepts (below it the
 * client cannot negotiate down and the daemon refuses its own API version as
 * "too new"). Majors dockhand knows; anything else is an unknown CLI the
 * config refuses rather than guesses about.
 */
interface CliRelease {
  readonly minDaemonApi: string;
}

const cliReleases: ReadonlyArray<{ readonly from: string; readonly release: CliRelease }> = [
  // Newest first; `from` is the first version with these numbers.
  { from: "29.3.0", release: { minDaemonApi: "1.40" } },
  { from: "29.0.0", release: { minDaemonApi: "1.44" } },
  { from: "25.0.0", release: { minDaemonApi: "1.24" } },
];
const oldestKnownMajor = 25;
const newestKnownMajor = 29;

export interface CliImageVersion {
  /** As the tag names it: "29", "29.8" or "29.8.2". */
  readonly version: string;
  /** The Windows variant the tag names, e.g. windowsservercore-ltsc2022. */
  readonly variant: string;
  readonly release: CliRelease;
}

/**
 * Reads the CLI version from an image tag shaped like Docker Hub's
 * (`docker:29-windowsservercore-ltsc2022`, a mirror of it, or a digest-pinned
 * form of it). Returns a problem in words when the tag names no version, an
 * unknown one, or another Windows release's variant.
 */
export function cliImageVersion(
  image: string,
  windowsVersion: CliVariantVersion,
): { ok: true; value: CliImageVersion } | { ok: false; problem: string } {
  const tag = /:([A-Za-z0-9_.-]+)(@sha256:[0-9a-f]{64})?$/.exec(image)?.[1];
  const expected = cliImageVariants[windowsVersion];
  const example = defaultCliImages[windowsVersion];
  const match = tag === undefined ? null : /^(\d+)(?:\.(\d+))?(?:\.(\d+))?-(windowsservercore-[a-z0-9]+)$/.exec(tag);
  if (!match) {
    return {
      ok: false,
      problem: `names no docker CLI version: use a tag like ${JSON.stringify(example)} (major-pinned, for this Windows release), so the CLI cannot drift away from the node's dockerd`,
    };
  }
  const [, major, minor, patch, variant] = match as unknown as [string, string, string | undefined, string | undefined, string];
  if (variant !== expected) {
    return {
      ok: false,
      problem: `is the ${variant} variant, which does not run on ${windowsVersion} nodes: use the ${expected} variant, e.g. ${JSON.stringify(example)}`,
    };
  }
  const majorNumber = Number(major);
  if (majorNumber < oldestKnownMajor || majorNumber > newestKnownMajor) {
    return {
      ok: false,
      problem: `names docker ${major}, which dockhand does not know: use docker ${oldestKnownMajor}–${newestKnownMajor} (the dockerd pool runs Engine ${pinnedEngine.version}; ${JSON.stringify(example)} matches it)`,
    };
  }
  // A tag without minor/patch follows the newest of that major.
  const version = [major, minor, patch].filter((part) => part !== undefined).join(".");
  const comparable = `${major}.${minor ?? "999"}.${patch ?? "999"}`;
  const release = cliReleases.find((entry) => compareVersions(comparable, entry.from) >= 0)!.release;
  return { ok: true, value: { version, variant, release } };
}

/** Compares dotted version strings numerically: "1.9" < "1.44". */
export function compareVersions(a: string, b: string): number {
  const left = a.split(".").map(Number);
  const right = b.split(".").map(Number);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const difference = (left[i] ?? 0) - (right[i] ?? 0);
    if (difference !== 0) return Math.sign(difference);
  }
  return 0;
}

// The preflight step: `docker version --format={{json .}}`, the build's first
// docker call. When CLI and daemon agree it prints both versions and exits 0;
// when either refuses the other it exits non-zero with the refusal, and the
// reconciler turns that into the message below instead of letting `docker
// build` fail with a raw daemon error reported as the user's build failure.

export const preflightCommand = ["docker", "version", "--format={{json .}}"];

export interface SkewContext {
  /** The CLI image the build pod ran. */
  readonly image: string;
  /** The config key that sets it: dockerPool.images.ltsc2022. */
  readonly configKey: string;
  readonly windowsVersion: string;
}

/**
 * Turns a failed preflight's output (the termination message: the log tail)
 * into what to fix. Recognises both refusals and a daemon that is not there.
 */
export function explainPreflightFailure(output: string, context: SkewContext): string {
  // The commit status keeps 140 characters: what to set comes before the details.
  const clientVersion = clientVersionIn(output);
  const cli = clientVersion === undefined || context.image.includes(`:${clientVersion}-`) ? context.image : `${context.image} (docker ${clientVersion})`;
  const needs = (daemonApi: string, needed: string) =>
    `the node's dockerd speaks API ${daemonApi}, the CLI image ${cli} needs ≥ ${needed}: set ${context.configKey} to a CLI that speaks ${daemonApi} (docs/deploy.md, "Docker CLI and dockerd versions")`;

  // The CLI refuses an old daemon while negotiating.
  const cliRefuses = /API version (\d+\.\d+) is not supported by this client: the minimum supported API version is (\d+\.\d+)/.exec(output);
  if (cliRefuses) return needs(cliRefuses[1]!, cliRefuses[2]!);
  // The CLI could not negotiate down to an old daemon, which then refuses the
  // CLI's own version: what docker 29.0–29.2 print against an Engine before 25.
  const tooNew = /client version (\d+\.\d+) is too new\. Maximum supported API version is (\d+\.\d+)/.exec(output);
  if (tooNew) {
    const known = cliImageVersion(context.image, context.windowsVersion as CliVariantVersion);
    return needs(tooNew[2]!, known.ok ? known.value.release.minDaemonApi : tooNew[1]!);
  }
  // The daemon refuses an old CLI.
  const daemonRefuses = /client version (\d+\.\d+) is too old\. Minimum supported API version is (\d+\.\d+)/.exec(output);
  if (daemonRefuses) {
    const [, cliApi, needed] = daemonRefuses;
    return `the node's dockerd needs API ≥ ${needed}, the CLI image ${cli} speaks ${cliApi}: set ${context.configKey} to docker ${pinnedCliMajor} (${defaultCliImageFor(context.windowsVersion)}) or newer`;
  }
  if (/docker_engine|pipe|Cannot connect to the Docker daemon|error during connect|no such file or directory|cannot find the file/i.test(output)) {
    return `the node's dockerd did not answer on \\\\.\\pipe\\docker_engine: is the dockerd-${context.windowsVersion} DaemonSet's pod Ready on that node? (${lastLine(output)})`;
  }
  return `the CLI image ${cli} could not talk to the node's dockerd: ${lastLine(output)}`;
}

/** The CLI's own version from `docker version --format={{json .}}`, printed even when the daemon part fails. */
function clientVersionIn(output: string): string | undefined {
  for (const line of output.split("\n")) {
    if (!line.startsWith('{"Client"')) continue;
    try {
      const version = (JSON.parse(line) as { Client?: { Version?: unknown } }).Client?.Version;
      if (typeof version === "string") return version;
    } catch {
      // a cut line (the termination message keeps the log's tail)
    }
  }
  return /"Client":\{"Version":"([^"]+)"/.exec(output)?.[1];
}

function defaultCliImageFor(windowsVersion: string): string {
  return (defaultCliImages as Record<string, string>)[windowsVersion] ?? defaultCliImages.ltsc2022;
}

function lastLine(text: string): string {
  const lines = text.trim().split("\n").filter((line) => line.trim() !== "");
  return (lines[lines.length - 1] ?? "no output").slice(0, 200);
}
