import { describe, expect, it } from "vitest";
import type { Shown } from "../model/status-report.js";
import { sendAndRecord } from "./status-delivery.js";

async function steps(final: boolean, shown: Shown | undefined, cancelled = false, dropped = false): Promise<string[]> {
  const done: string[] = [];
  const outcome = await sendAndRecord(
    { state: final ? "success" : "pending", description: "d", final },
    {
      send: async () => (done.push("send"), dropped ? "dropped" : undefined),
      record: async () => void done.push("record"),
      shown: shown === undefined ? undefined : async () => (done.push("ask"), shown),
      sendPending: async () => void done.push("send pending"),
      withhold: cancelled ? async () => void done.push("withhold") : undefined,
    },
  );
  return [...done, outcome];
}

describe("sendAndRecord", () => {
  it.each([
    ["a result, first try: sent, then recorded", true, undefined, false, false, ["send", "record", "sent"]],
    ["a result GitHub already shows (sent before a crash): only recorded", true, "this", false, false, ["ask", "record", "recorded"]],
    ["a result after the build's pending is shown: asked, sent, recorded", true, "build", false, false, ["ask", "send", "record", "sent"]],
    ["a result whose pending was lost in a crash: pending first, then the result", true, "none", false, false, ["ask", "send pending", "send", "record", "sent"]],
    ["a cancelled build of which GitHub shows nothing (its pending lost in a crash): no status at all", true, "none", true, false, ["ask", "withhold", "withheld"]],
    ["a cancelled build whose pending GitHub shows: the result follows", true, "build", true, false, ["ask", "send", "record", "sent"]],
    ["pending: recorded first, never asked", false, "none", false, false, ["record", "send", "sent"]],
    ["pending dropped in the queue (its build cancelled while it waited): withheld", false, undefined, true, true, ["record", "send", "withhold", "withheld"]],
  ] as const)("%s", async (_name, final, shown, cancelled, dropped, expected) => {
    expect(await steps(final, shown, cancelled, dropped)).toEqual(expected);
  });
});
