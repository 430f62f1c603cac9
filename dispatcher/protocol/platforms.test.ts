import { describe, expect, it } from "vitest";
import { RequestError } from "./errors.js";
import { parsePlatform } from "./platforms.js";

describe("parsePlatform", () => {
  it.each([
    {
      input: "linux/amd64",
      expected: { os: "linux", arch: "amd64", request: "linux/amd64", ociPlatform: "linux/amd64", slug: "linux-amd64" },
    },
    {
      input: "windows/amd64:ltsc2019",
      expected: {
        os: "windows", arch: "amd64", request: "windows/amd64:ltsc2019", ociPlatform: "windows/amd64",
        slug: "win-ltsc2019", windowsVersion: "ltsc2019", windowsBuild: "10.0.17763",
      },
    },
    {
      input: "windows/amd64:ltsc2022",
      expected: {
        os: "windows", arch: "amd64", request: "windows/amd64:ltsc2022", ociPlatform: "windows/amd64",
        slug: "win-ltsc2022", windowsVersion: "ltsc2022", windowsBuild: "10.0.20348",
      },
    },
    {
      input: "windows/amd64:ltsc2025",
      expected: {
        os: "windows", arch: "amd64", request: "windows/amd64:ltsc2025", ociPlatform: "windows/amd64",
        slug: "win-ltsc2025", windowsVersion: "ltsc2025", windowsBuild: "10.0.26100",
      },
    },
  ])("parses $input", ({ input, expected }) => {
    expect(parsePlatform(input)).toEqual(expected);
  });

  it.each([
    { input: "windows/amd64:ltsc2016", error: 'platforms[1]: "windows/amd64:ltsc2016" is not supported', hint: "use ltsc2019, ltsc2022 or ltsc2025" },
    { input: "windows/amd64", error: 'platforms[1]: "windows/amd64" has no Windows version', hint: 'append the Windows Server version the image runs on: ":ltsc2019", ":ltsc2022" or ":ltsc2025"' },
    { input: "windows/amd64:", error: 'platforms[1]: "windows/amd64:" has no Windows version', hint: 'append the Windows Server version the image runs on: ":ltsc2019", ":ltsc2022" or ":ltsc2025"' },
    { input: "windows/amd64:1809", error: 'platforms[1]: "windows/amd64:1809" is not supported', hint: 'write it as "windows/amd64:ltsc2019"' },
    { input: "windows/amd64:10.0.20348", error: 'platforms[1]: "windows/amd64:10.0.20348" is not supported', hint: 'write it as "windows/amd64:ltsc2022"' },
    { input: "windows/arm64:ltsc2022", error: 'platforms[1]: "windows/arm64:ltsc2022" is not supported', hint: 'Windows images are built for amd64 only: use "windows/amd64:<version>" with ltsc2019, ltsc2022 or ltsc2025' },
    { input: "Windows/AMD64:LTSC2022", error: 'platforms[1]: "Windows/AMD64:LTSC2022" is not supported', hint: 'write it in lowercase, e.g. "windows/amd64:ltsc2022"' },
    { input: "linux/arm64", error: 'platforms[1]: "linux/arm64" is not supported', hint: "the BuildKit pool builds linux/amd64 only" },
    { input: "linux/amd64:ltsc2022", error: 'platforms[1]: "linux/amd64:ltsc2022" is not supported', hint: 'linux takes no version suffix: use "linux/amd64"' },
    { input: "darwin/amd64", error: 'platforms[1]: "darwin/amd64" is not supported', hint: 'use one of "linux/amd64", "windows/amd64:ltsc2019", "windows/amd64:ltsc2022", "windows/amd64:ltsc2025"' },
    { input: "amd64", error: 'platforms[1]: "amd64" is not a platform', hint: 'write os/arch, e.g. "linux/amd64" or "windows/amd64:ltsc2022"' },
    { input: "", error: 'platforms[1]: "" is not a platform', hint: 'write os/arch, e.g. "linux/amd64" or "windows/amd64:ltsc2022"' },
    { input: "linux/amd64/v2", error: 'platforms[1]: "linux/amd64/v2" is not a platform', hint: 'write os/arch, e.g. "linux/amd64" or "windows/amd64:ltsc2022"' },
  ])("rejects $input", ({ input, error, hint }) => {
    let thrown: unknown;
    try {
      parsePlatform(input, "platforms[1]");
    } catch (caught) {
      thrown = caught;
    }
    expect(thrown).toBeInstanceOf(RequestError);
    expect((thrown as RequestError).toBody()).toEqual({ error, field: "platforms[1]", hint });
  });
});
