import { afterEach, describe, expect, it } from "vitest";
import { mergeAsync } from "./merge-async.js";

const unhandled: unknown[] = [];
const record = (reason: unknown) => unhandled.push(reason);
afterEach(() => {
  process.off("unhandledRejection", record);
  unhandled.length = 0;
});

async function* ticking(name: string, every: number, failAfter?: number): AsyncGenerator<string> {
  for (let i = 1; ; i++) {
    await new Promise((r) => setTimeout(r, every));
    if (failAfter !== undefined && i > failAfter) throw new Error(`${name} lost its connection`);
    yield `${name}-${i}`;
  }
}

describe("mergeAsync", () => {
  it("interleaves sources in arrival order and ends when all do", async () => {
    async function* of(values: string[], every: number) {
      for (const v of values) {
        await new Promise((r) => setTimeout(r, every));
        yield v;
      }
    }
    const seen: string[] = [];
    for await (const v of mergeAsync([of(["slow-1", "slow-2"], 30), of(["fast-1", "fast-2", "fast-3"], 5)])) seen.push(v);
    expect(seen.slice(0, 3)).toEqual(["fast-1", "fast-2", "fast-3"]);
    expect(seen.sort()).toEqual(["fast-1", "fast-2", "fast-3", "slow-1", "slow-2"]);
  });

  it("passes the first error on", async () => {
    const run = async () => {
      for await (const _ of mergeAsync([ticking("a", 5, 2), ticking("b", 50)])) void _;
    };
    await expect(run()).rejects.toThrow("a lost its connection");
  });

  it("leaves no unhandled rejection when the consumer stops while a pull that will fail is in flight", async () => {
    process.on("unhandledRejection", record);
    // Source "a" fails on the pull that is in flight when the consumer stops after its first value.
    for await (const v of mergeAsync([ticking("a", 5, 1), ticking("b", 1000)])) {
      expect(v).toBe("a-1");
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(unhandled).toEqual([]);
  });
});
