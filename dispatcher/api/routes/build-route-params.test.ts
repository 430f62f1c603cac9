import { describe, expect, it } from "vitest";
import { notFound } from "./build-route-params.js";

describe("notFound", () => {
  // Issue 11: a cancelled build's Jobs are deleted once the cancel is
  // reported, so a 404 hint naming only ttlSecondsAfterFinished misled.
  it("says a cancelled build is gone once its cancellation is reported, not only the TTL", () => {
    const body = notFound("abcdefabcdef");
    expect(body).toMatchObject({ error: "build abcdefabcdef not found", field: "id" });
    expect(body.hint).toMatch(/cancelled/);
    expect(body.hint).toMatch(/limits\.ttlSecondsAfterFinished/);
  });
});
