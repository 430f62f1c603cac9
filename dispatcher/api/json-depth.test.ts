import { describe, expect, it } from "vitest";
import { nestsDeeperThan } from "./json-depth.js";

const nested = (depth: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { k: value };
  return value;
};

describe("nestsDeeperThan", () => {
  it.each([
    ["a scalar", 1, 0, false],
    ["an empty object at the limit", {}, 1, false],
    ["labels.KEY at depth 2", { labels: { a: "b" } }, 2, false],
    ["labels.KEY past depth 1", { labels: { a: "b" } }, 1, true],
    ["32 levels at a limit of 32", nested(32), 32, false],
    ["33 levels at a limit of 32", nested(33), 32, true],
  ])("%s → %s", (_name, value, max, expected) => {
    expect(nestsDeeperThan(value, max as number)).toBe(expected);
  });

  it("walks 100 000 levels without overflowing the stack", () => {
    expect(nestsDeeperThan(JSON.parse(`${"[".repeat(100_000)}${"]".repeat(100_000)}`), 32)).toBe(true);
  });
});
