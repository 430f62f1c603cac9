import { describe, expect, it } from "vitest";
import { sendAndRecord } from "./status-delivery.js";

async function steps(final: boolean, shown: boolean | undefined): Promise<string[]> {
  const done: string[] = [];
  await sendAndRecord(
    { state: final ? "success" : "pending", description: "d", final },
    async () => void done.push("send"),
    async () => void done.push("record"),
    shown === undefined ? undefined : async () => (done.push("ask"), shown),
  );
  return done;
}

describe("sendAndRecord", () => {
  it.each([
    ["a result, first try: sent, then recorded", true, undefined, ["send", "record"]],
    ["a result another process may have sent, not shown: asked, sent, recorded", true, false, ["ask", "send", "record"]],
    ["a result GitHub already shows (sent before a crash): only recorded", true, true, ["ask", "record"]],
    ["pending: recorded first, never asked", false, false, ["record", "send"]],
  ] as const)("%s", async (_name, final, shown, expected) => {
    expect(await steps(final, shown)).toEqual(expected);
  });
});
