import { describe, expect, it } from "vitest";
import { acceptedBodies, bodyRefusal, hasBody, mediaTypeOf } from "./request-body.js";

describe("acceptedBodies: what each route's body may be", () => {
  it.each([
    ["POST", "/v1/builds", ["application/json"]],
    ["PUT", "/v1/contexts/:sha256", ["application/gzip", "application/x-gzip", "application/octet-stream"]],
    ["DELETE", "/v1/builds/:id", []],
    ["GET", "/v1/builds/:id", []],
    ["HEAD", "/v1/contexts/:sha256", []],
    ["POST", "/v1/something-new", []],
    ["POST", "/webhooks/github", undefined],
    ["POST", undefined, undefined],
  ] as const)("%s %s", (method, route, accepted) => {
    expect(acceptedBodies(method, route)).toEqual(accepted);
  });
});

describe("bodyRefusal", () => {
  const json = (contentType?: string) => ({ "content-length": "2", ...(contentType ? { "content-type": contentType } : {}) });

  it("accepts the route's own type, with parameters and in any case", () => {
    expect(bodyRefusal("POST", "/v1/builds", json("Application/JSON; charset=utf-8"))).toBeUndefined();
    expect(bodyRefusal("PUT", "/v1/contexts/:sha256", json("application/x-gzip"))).toBeUndefined();
  });

  it("refuses another type with 415 naming what the route accepts", () => {
    const refusal = bodyRefusal("POST", "/v1/builds", json("text/plain"));
    expect(refusal?.status).toBe(415);
    expect(refusal?.toBody()).toMatchObject({
      error: 'content-type: "text/plain" is not accepted by POST /v1/builds; it accepts application/json',
      field: "content-type",
      hint: "send the body with Content-Type: application/json",
    });
    expect(bodyRefusal("PUT", "/v1/contexts/:sha256", json())?.error).toBe(
      "content-type: none is not accepted by PUT /v1/contexts/{sha256}; it accepts application/gzip, application/x-gzip, application/octet-stream",
    );
  });

  it("refuses any body on a route that takes none, chunked too", () => {
    expect(bodyRefusal("DELETE", "/v1/builds/:id", json("application/json"))?.error).toBe("content-type: DELETE /v1/builds/{id} takes no body, and this request has one (application/json)");
    expect(bodyRefusal("DELETE", "/v1/builds/:id", { "transfer-encoding": "chunked" })?.status).toBe(415);
  });

  it("lets requests without a body through, whatever they say their type is", () => {
    expect(bodyRefusal("DELETE", "/v1/builds/:id", { "content-type": "application/json", "content-length": "0" })).toBeUndefined();
    expect(bodyRefusal("GET", "/v1/builds/:id", {})).toBeUndefined();
  });
});

describe("hasBody and mediaTypeOf", () => {
  it("reads them as HTTP does", () => {
    expect(hasBody({})).toBe(false);
    expect(hasBody({ "content-length": "0" })).toBe(false);
    expect(hasBody({ "content-length": "1" })).toBe(true);
    expect(hasBody({ "transfer-encoding": "chunked" })).toBe(true);
    expect(mediaTypeOf(" Application/Gzip ; q=1")).toBe("application/gzip");
    expect(mediaTypeOf(undefined)).toBe("");
  });
});
