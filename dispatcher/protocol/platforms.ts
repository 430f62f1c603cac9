import { RequestError, quoteValue } from "./errors.js";

export const windowsVersions = ["ltsc2019", "ltsc2022", "ltsc2025"] as const;
export type WindowsVersion = (typeof windowsVersions)[number];

// Windows containers under process isolation only start on a host with the same
// build number, so a Windows image is built per version, on a node of that
// version. Kubernetes labels Windows nodes with node.kubernetes.io/windows-build
// (https://kubernetes.io/docs/reference/labels-annotations-taints/#nodekubernetesiowindows-build).
export const windowsBuildLabel = "node.kubernetes.io/windows-build";

export const windowsBuilds: Readonly<Record<WindowsVersion, string>> = {
  ltsc2019: "10.0.17763",
  ltsc2022: "10.0.20348",
  ltsc2025: "10.0.26100",
};

/** The request strings dockhand accepts, in the order documentation lists them. */
export const supportedPlatforms = [
  "linux/amd64",
  "windows/amd64:ltsc2019",
  "windows/amd64:ltsc2022",
  "windows/amd64:ltsc2025",
] as const;
export type PlatformString = (typeof supportedPlatforms)[number];

export type PlatformSlug = "linux-amd64" | `win-${WindowsVersion}`;

export interface LinuxPlatform {
  readonly os: "linux";
  readonly arch: "amd64";
  /** As written in the request: `linux/amd64`. */
  readonly request: PlatformString;
  /** What BuildKit and image indexes call it: `linux/amd64`. */
  readonly ociPlatform: string;
  readonly slug: PlatformSlug;
}

export interface WindowsPlatform {
  readonly os: "windows";
  readonly arch: "amd64";
  readonly request: PlatformString;
  readonly ociPlatform: string;
  readonly slug: PlatformSlug;
  readonly windowsVersion: WindowsVersion;
  /** `10.0.20348`: the node label value and the os.version of the image. */
  readonly windowsBuild: string;
}

export type Platform = LinuxPlatform | WindowsPlatform;

// Names people also use for the same Windows Server releases; recognised only to
// suggest the supported spelling, never accepted silently.
const windowsAliases: Readonly<Record<string, WindowsVersion>> = {
  "1809": "ltsc2019",
  "2019": "ltsc2019",
  "10.0.17763": "ltsc2019",
  "2022": "ltsc2022",
  "10.0.20348": "ltsc2022",
  "2025": "ltsc2025",
  "10.0.26100": "ltsc2025",
};

const versionList = "ltsc2019, ltsc2022 or ltsc2025";

/**
 * Parses a request platform string. `field` names it in the error
 * (`platforms[1]`).
 */
export function parsePlatform(value: string, field = "platform"): Platform {
  const fail = (what: string, hint: string): RequestError =>
    new RequestError({ error: `${field}: ${quoteValue(value)} ${what}`, field, hint });
  if (value !== value.toLowerCase()) {
    throw fail("is not supported", `write it in lowercase, e.g. ${quoteValue(value.toLowerCase())}`);
  }
  const match = /^([^/:]+)\/([^/:]+)(?::(.*))?$/.exec(value);
  if (!match) {
    throw fail("is not a platform", `write os/arch, e.g. "linux/amd64" or "windows/amd64:ltsc2022"`);
  }
  const [, os, arch, version] = match as unknown as [string, string, string, string | undefined];
  if (os === "linux") {
    if (arch !== "amd64") throw fail("is not supported", `the BuildKit pool builds linux/amd64 only`);
    if (version !== undefined) throw fail("is not supported", `linux takes no version suffix: use "linux/amd64"`);
    return { os: "linux", arch: "amd64", request: "linux/amd64", ociPlatform: "linux/amd64", slug: "linux-amd64" };
  }
  if (os === "windows") {
    if (arch !== "amd64") throw fail("is not supported", `Windows images are built for amd64 only: use "windows/amd64:<version>" with ${versionList}`);
    if (version === undefined || version === "") {
      throw fail(
        "has no Windows version",
        `append the Windows Server version the image runs on: ":ltsc2019", ":ltsc2022" or ":ltsc2025"`,
      );
    }
    if (isWindowsVersion(version)) return windowsPlatform(version);
    const alias = windowsAliases[version];
    if (alias) throw fail("is not supported", `write it as "windows/amd64:${alias}"`);
    throw fail("is not supported", `use ${versionList}`);
  }
  throw fail("is not supported", `use one of ${supportedPlatforms.map((p) => `"${p}"`).join(", ")}`);
}

export function windowsPlatform(version: WindowsVersion): WindowsPlatform {
  return {
    os: "windows",
    arch: "amd64",
    request: `windows/amd64:${version}`,
    ociPlatform: "windows/amd64",
    slug: `win-${version}`,
    windowsVersion: version,
    windowsBuild: windowsBuilds[version],
  };
}

export function isWindowsVersion(value: string): value is WindowsVersion {
  return (windowsVersions as readonly string[]).includes(value);
}
