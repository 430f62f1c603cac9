// Does the pushed image run where the platform asked for says? A Windows
// image starts only on a host of the same build (process isolation), and the
// build is fixed by the base image, not by the node that built it: a
// Dockerfile hard-coding nanoserver:1809 builds fine on an ltsc2022 node
// or through BuildKit and then fails on every ltsc2022 host. Pure.

import { baseImageArg } from "../plan/build-plan.js";
import { windowsBaseTagArgs, windowsBaseTagBuildArgs } from "../plan/windows-base-tags.js";
import { parsePlatform } from "../protocol/platforms.js";
import type { ImageConfigPlatform } from "./image-reader.js";

export type PlatformCheck = { readonly ok: true } | { readonly ok: false; readonly message: string };

export function checkImagePlatform(requested: string, image: ImageConfigPlatform): PlatformCheck {
  const platform = parsePlatform(requested);
  const pushed = describe(image);
  if (platform.os === "windows") {
    const tags = windowsBaseTagBuildArgs(platform.windowsVersion);
    const hint =
      `the base image must match — use ARG ${windowsBaseTagArgs.nanoserver} and FROM …/nanoserver:\${${windowsBaseTagArgs.nanoserver}} ` +
      `(dockhand sets it to ${tags[windowsBaseTagArgs.nanoserver]}; ${windowsBaseTagArgs.servercore} for servercore), or baseImages.${platform.windowsVersion} with FROM \${${baseImageArg}}`;
    if (image.os !== "windows") {
      return { ok: false, message: `pushed image is ${pushed} but ${requested} needs a windows image: ${hint}` };
    }
    if (image.architecture !== platform.arch) {
      return { ok: false, message: `pushed image is ${pushed} but ${requested} needs ${platform.arch}: ${hint}` };
    }
    const version = image["os.version"];
    if (version === undefined || !(version === platform.windowsBuild || version.startsWith(`${platform.windowsBuild}.`))) {
      return {
        ok: false,
        message: `pushed image is os.version ${version ?? "(none)"} but ${requested} needs ${platform.windowsBuild}.*: ${hint}`,
      };
    }
    return { ok: true };
  }
  if (image.os !== platform.os || image.architecture !== platform.arch) {
    return { ok: false, message: `pushed image is ${pushed} but ${requested} needs ${platform.os}/${platform.arch}: check the FROM of the final stage` };
  }
  return { ok: true };
}

function describe(image: ImageConfigPlatform): string {
  return `${image.os || "?"}/${image.architecture || "?"}${image["os.version"] ? ` ${image["os.version"]}` : ""}`;
}
