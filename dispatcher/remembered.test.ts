import { describe, expect, it } from "vitest";
import { rememberedFor } from "./remembered.js";

describe("rememberedFor", () => {
  it("remembers each key's answer, undefined included, until it is older than maxAgeMs", async () => {
    const loads: string[] = [];
    const get = rememberedFor(100, async (key) => {
      loads.push(key);
      return key === "none" ? undefined : `${key}-${loads.length}`;
    });
    expect(await get("a")).toBe("a-1");
    expect(await get("a")).toBe("a-1");
    expect(await get("none")).toBeUndefined();
    expect(await get("none")).toBeUndefined();
    expect(loads).toEqual(["a", "none"]);
    await new Promise((r) => setTimeout(r, 150));
    expect(await get("a")).toBe("a-3");
  });

  it("shares one load between calls made while it runs", async () => {
    let loads = 0;
    const get = rememberedFor(10_000, async () => {
      loads++;
      await new Promise((r) => setTimeout(r, 20));
      return loads;
    });
    expect(await Promise.all([get("k"), get("k"), get("k")])).toEqual([1, 1, 1]);
  });

  it("does not remember a failure: the next call loads again", async () => {
    let calls = 0;
    const get = rememberedFor(10_000, async () => {
      calls++;
      if (calls === 1) throw new Error("registry Secret unreadable");
      return "text";
    });
    await expect(get("k")).rejects.toThrow("registry Secret unreadable");
    expect(await get("k")).toBe("text");
  });

  it("refuses a maxAgeMs that would mean forever", () => {
    expect(() => rememberedFor(0, async () => 1)).toThrow("rememberedFor: maxAgeMs must be more than 0, got 0");
  });
});
