import { describe, expect, it } from "vitest";
import type { Shown } from "../github/status-client.js";
import { sendAndRecord } from "./status-delivery.js";

async function steps(final: boolean, shown: Shown | undefined): Promise<string[]> {
  const done: string[] = [];
  await sendAndRecord(
    { state: final ? "success" : "pending", description: "d", final },
    async () => void done.push("send"),
    async () => void done.push("record"),
    shown === undefined ? undefined : async () => (done.push("ask"), shown),
    async () => void done.push("send pending"),
  );
  return done;
}

describe("sendAndRecord", () => {
  it.each([
    ["a result, first try: sent, then recorded", true, undefined, ["send", "record"]],
    ["a result GitHub already shows (sent before a crash): only recorded", true, "this", ["ask", "record"]],
    ["a result after the build's pending is shown: asked, sent, recorded", true, "build", ["ask", "send", "record"]],
    ["a result whose pending was lost in a crash: pending first, then the result", true, "none", ["ask", "send pending", "send", "record"]],
    ["pending: recorded first, never asked", false, "none", ["record", "send"]],
  ] as const)("%s", async (_name, final, shown, expected) => {
    expect(await steps(final, shown)).toEqual(expected);
  });
});
