import { describe, expect, it } from "vitest";
import { ImageReadError } from "./image-reader.js";
import { RegistryError } from "./registry-http.js";
import { readBackFailure, readBackGiveUpMs } from "./read-back-failure.js";
import { retryDelayMs } from "../retry-delay.js";

const finishedAt = "2026-11-30T10:00:00Z";
const platform = { pushRef: "r.example/app:1-win-ltsc2022", finishedAt };
const at = (ms: number) => Date.parse(finishedAt) + ms;

describe("readBackFailure", () => {
  it("ends the platform at once on an answer that will not change", () => {
    expect(readBackFailure(new RegistryError("manifest unknown", 404, "MANIFEST_UNKNOWN"), platform, at(1_000))).toBe(
      "could not read the pushed image r.example/app:1-win-ltsc2022: manifest unknown",
    );
    expect(readBackFailure(new ImageReadError("config is not JSON"), platform, at(1_000))).toContain("config is not JSON");
  });

  it("retries a registry that is down, rate-limiting or unreachable until the give-up time, then names it", () => {
    for (const err of [new RegistryError("unavailable", 503, undefined), new RegistryError("slow down", 429, "TOOMANYREQUESTS"), new Error("connect ECONNREFUSED")]) {
      expect(readBackFailure(err, platform, at(readBackGiveUpMs - 1))).toBeUndefined();
      expect(readBackFailure(err, platform, at(readBackGiveUpMs + 1))).toBe(`could not read the pushed image r.example/app:1-win-ltsc2022 for 10 min: ${err.message}`);
    }
  });

  it("keeps retrying when the Job's completion time is unknown", () => {
    expect(readBackFailure(new RegistryError("unavailable", 503, undefined), { pushRef: "r.example/app:1" }, Date.now())).toBeUndefined();
  });
});

describe("retryDelayMs", () => {
  it("starts at 2 s, doubles per consecutive failure, and stops at a minute", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map(retryDelayMs)).toEqual([2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
  });
});
