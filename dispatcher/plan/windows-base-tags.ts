// The tags Microsoft publishes for its Windows base images, per Windows
// Server release. They differ by family: Nano Server's 2019 image is only
// tagged 1809 (there is no nanoserver:ltsc2019), Server Core's is tagged both
// ltsc2019 and 1809. A Dockerfile that names a tag MCR does not publish fails
// at pull on every builder, so the planner refuses it up front and says which
// tag to use; build args give one Dockerfile the right tag per version.

import { RequestError } from "../protocol/errors.js";
import type { StageResolution } from "./dockerfile-analysis.js";
import { parseImageReference } from "../protocol/image-reference.js";
import type { WindowsVersion } from "../protocol/platforms.js";

const mcr = "mcr.microsoft.com";

/** The tag each family publishes for each release (the one dockhand passes in the build args). */
export const windowsBaseTags = {
  nanoserver: { ltsc2019: "1809", ltsc2022: "ltsc2022", ltsc2025: "ltsc2025" },
  servercore: { ltsc2019: "ltsc2019", ltsc2022: "ltsc2022", ltsc2025: "ltsc2025" },
  server: { ltsc2019: undefined, ltsc2022: "ltsc2022", ltsc2025: "ltsc2025" },
} as const satisfies Record<string, Record<WindowsVersion, string | undefined>>;

type Family = keyof typeof windowsBaseTags;

/** Every release tag MCR publishes per family (aliases included), for the refusal below. */
const publishedReleaseTags: Record<Family, ReadonlySet<string>> = {
  nanoserver: new Set(["1809", "ltsc2022", "ltsc2025"]),
  servercore: new Set(["ltsc2019", "1809", "ltsc2022", "ltsc2025"]),
  server: new Set(["ltsc2022", "ltsc2025"]),
};

/** Build args dockhand sets on every Windows platform: FROM mcr.microsoft.com/windows/nanoserver:${NANOSERVER_TAG}. */
export const windowsBaseTagArgs = { nanoserver: "NANOSERVER_TAG", servercore: "SERVERCORE_TAG" } as const;

export function windowsBaseTagBuildArgs(version: WindowsVersion): Record<string, string> {
  return {
    [windowsBaseTagArgs.nanoserver]: windowsBaseTags.nanoserver[version],
    [windowsBaseTagArgs.servercore]: windowsBaseTags.servercore[version],
  };
}

/**
 * Throws a 422 naming the line when a stage the build needs is FROM an MCR
 * Windows base under a release tag that family does not publish
 * (nanoserver:ltsc2019). Tags that are not release names (dated builds such
 * as ltsc2022-amd64 or 10.0.20348.2966) are left to the registry.
 */
export function checkWindowsBaseTags(resolution: StageResolution, version: WindowsVersion, field: string): void {
  for (const index of resolution.needed) {
    const stage = resolution.stages[index]!;
    const image = stage.resolvedImage;
    if (image === undefined) continue;
    const parsed = parseImageReference(image);
    if (!parsed.ok) continue;
    const { domain, path: repository, tag } = parsed.reference;
    if (domain !== mcr || tag === undefined) continue;
    const family = /^windows\/(nanoserver|servercore|server)$/.exec(repository)?.[1] as Family | undefined;
    if (family === undefined || !isReleaseTag(tag) || publishedReleaseTags[family].has(tag)) continue;
    const right = windowsBaseTags[family][version];
    const arg = family === "server" ? undefined : windowsBaseTagArgs[family];
    throw new RequestError(
      {
        error: `${field}: line ${stage.line}: ${mcr}/${repository} has no tag ${JSON.stringify(tag)} (published: ${[...publishedReleaseTags[family]].join(", ")})`,
        field,
        hint:
          right === undefined
            ? `${mcr}/${repository} has no ${version} image; use servercore for ${version}`
            : `use ${mcr}/${repository}:${right}${arg ? `, or FROM ${mcr}/${repository}:\${${arg}} (dockhand sets ${arg} per Windows version)` : ""}`,
        line: stage.line,
      },
      422,
    );
  }
}

function isReleaseTag(tag: string): boolean {
  return /^(ltsc20\d\d|1809|1903|1909|2004|20H2)$/.test(tag);
}
