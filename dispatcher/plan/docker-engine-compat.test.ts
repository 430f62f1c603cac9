import { describe, expect, it } from "vitest";
import { cliImageVersion, compareVersions, explainPreflightFailure } from "./docker-engine-compat.js";

const context = { image: "docker:29.1.0-windowsservercore-ltsc2022", configKey: "dockerPool.images.ltsc2022", windowsVersion: "ltsc2022" };

describe("explainPreflightFailure", () => {
  it.each([
    [
      "the CLI refuses an old daemon",
      '{"Client":{"Platform":{"Name":""},"Version":"29.1.0","ApiVersion":"1.52"},"Server":null}\nAPI version 1.41 is not supported by this client: the minimum supported API version is 1.44',
      "the node's dockerd speaks API 1.41, the CLI image docker:29.1.0-windowsservercore-ltsc2022 needs ≥ 1.44: set dockerPool.images.ltsc2022 to a CLI that speaks 1.41 (docs/deploy.md, \"Docker CLI and dockerd versions\")",
    ],
    [
      "the daemon refuses an old CLI",
      "Error response from daemon: client version 1.41 is too old. Minimum supported API version is 1.44, please upgrade your client to a newer version",
      "the node's dockerd needs API ≥ 1.44, the CLI image docker:29.1.0-windowsservercore-ltsc2022 speaks 1.41: set dockerPool.images.ltsc2022 to docker 29 (docker:29-windowsservercore-ltsc2022) or newer",
    ],
    [
      "no engine on the pipe",
      "error during connect: Get \"http://%2F%2F.%2Fpipe%2Fdocker_engine/v1.52/version\": open //./pipe/docker_engine: The system cannot find the file specified.",
      "the node's dockerd did not answer on \\\\.\\pipe\\docker_engine: is the dockerd-ltsc2022 DaemonSet's pod Ready on that node? (error during connect: Get \"http://%2F%2F.%2Fpipe%2Fdocker_engine/v1.52/version\": open //./pipe/docker_engine: The system cannot find the file specified.)",
    ],
    [
      "the CLI cannot negotiate down, the daemon refuses its version (docker 29.1.0 against Engine 20.10, as on the bed)",
      '{"Client":{"Version":"29.1.0","ApiVersion":"1.52","DefaultAPIVersion":"1.52","Os":"windows","Arch":"amd64","Context":"default"},"Server":null}\nError response from daemon: client version 1.52 is too new. Maximum supported API version is 1.41',
      "the node's dockerd speaks API 1.41, the CLI image docker:29.1.0-windowsservercore-ltsc2022 needs ≥ 1.44: set dockerPool.images.ltsc2022 to a CLI that speaks 1.41 (docs/deploy.md, \"Docker CLI and dockerd versions\")",
    ],
  ])("%s", (_name, output, expected) => {
    expect(explainPreflightFailure(output, context)).toBe(expected);
  });
});

describe("cliImageVersion", () => {
  it.each([
    ["docker:29-windowsservercore-ltsc2022", "ltsc2022", { version: "29", minDaemonApi: "1.40" }],
    ["docker:29.1.0-windowsservercore-ltsc2022", "ltsc2022", { version: "29.1.0", minDaemonApi: "1.44" }],
    ["mirror.example/docker:28.5.1-windowsservercore-1809", "ltsc2019", { version: "28.5.1", minDaemonApi: "1.24" }],
  ] as const)("%s on %s", (image, version, expected) => {
    const result = cliImageVersion(image, version);
    expect(result.ok && { version: result.value.version, minDaemonApi: result.value.release.minDaemonApi }).toEqual(expected);
  });

  it("compares API versions as numbers", () => {
    expect(compareVersions("1.9", "1.44")).toBe(-1);
    expect(compareVersions("1.44", "1.44.0")).toBe(0);
  });
});
