// What body each route takes, and the sha256 of every byte received, in one
// place. A request signature covers that hash (protocol/request-signature.ts), so it
// must be of the bytes as they arrived, whatever their content type, and a
// body the route does not take must be refused before anything reads it:
// otherwise a body no parser hashes is "signed" over the empty string.
//
//   POST /v1/builds            application/json
//   PUT  /v1/contexts/{sha256} application/gzip, application/x-gzip, application/octet-stream
//   every other route          no body (its own check: POST /webhooks/github)

import { createHash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { sha256Hex } from "../protocol/request-signature.js";
import { RequestError } from "../protocol/errors.js";

declare module "fastify" {
  interface FastifyRequest {
    /** sha256 (hex) of the exact body bytes, set once the last byte was read; what a signature covers. */
    bodySha256?: string;
  }
}

/** What the Action sends is application/gzip; curl's --data-binary default and older clients send the others. */
export const contextContentTypes = ["application/gzip", "application/x-gzip", "application/octet-stream"] as const;
export const jsonContentTypes = ["application/json"] as const;

const emptySha256 = sha256Hex("");

/**
 * The media types a route's body may have; [] for a route that takes no body;
 * undefined for a route that checks its own body (GitHub's webhook, signed by
 * GitHub over its own bytes) or that does not exist (404 stays 404).
 */
export function acceptedBodies(method: string, route: string | undefined): readonly string[] | undefined {
  if (route === undefined || route === "/webhooks/github") return undefined;
  if (method === "POST" && route === "/v1/builds") return jsonContentTypes;
  if (method === "PUT" && route === "/v1/contexts/:sha256") return contextContentTypes;
  return [];
}

/** The media type alone, lowercased, without parameters (charset=utf-8); "" when there is none. */
export function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0]!.trim().toLowerCase();
}

/** Whether bytes follow the headers: a non-zero Content-Length, or any Transfer-Encoding (chunked). */
export function hasBody(headers: FastifyRequest["headers"]): boolean {
  if (headers["transfer-encoding"] !== undefined) return true;
  const length = headers["content-length"];
  return length !== undefined && length !== "0";
}

/** The 415 for a body a route does not take, naming what it takes; undefined when the body is acceptable. */
export function bodyRefusal(method: string, route: string | undefined, headers: FastifyRequest["headers"]): RequestError | undefined {
  const accepted = acceptedBodies(method, route);
  if (accepted === undefined || !hasBody(headers)) return undefined;
  const given = mediaTypeOf(headers["content-type"]);
  const path = route!.replace(/:(\w+)/g, "{$1}");
  if (accepted.length === 0) {
    return new RequestError({ error: `content-type: ${method} ${path} takes no body, and this request has one${given ? ` (${given})` : ""}`, field: "content-type", hint: "send the request without a body" }, 415);
  }
  if (accepted.includes(given)) return undefined;
  return new RequestError(
    {
      error: `content-type: ${given ? `"${given}"` : "none"} is not accepted by ${method} ${path}; it accepts ${accepted.join(", ")}`,
      field: "content-type",
      hint: `send the body with Content-Type: ${accepted[0]}`,
    },
    415,
  );
}

/**
 * Refuses a body the route does not take (onRequest: before any parser or
 * credential check), and hashes every byte of the rest as the parser reads
 * it (preParsing). A request without a body has the empty string's hash.
 */
export function requestBodies(app: FastifyInstance): void {
  app.decorateRequest("bodySha256", undefined);
  app.addHook("onRequest", async (request) => {
    const refusal = bodyRefusal(request.method, request.routeOptions.url, request.headers);
    if (refusal) throw refusal;
    if (!hasBody(request.headers)) request.bodySha256 = emptySha256;
  });
  app.addHook("preParsing", async (request, _reply, payload) => {
    if (!hasBody(request.headers)) return payload;
    const hashing = new HashingPassThrough((hex) => (request.bodySha256 = hex));
    payload.on("error", (error) => hashing.destroy(error));
    return payload.pipe(hashing);
  });
}

/** Passes bytes on unchanged; reports their sha256 when the last one went through. */
class HashingPassThrough extends Transform {
  private readonly hash = createHash("sha256");
  /** Fastify compares this with Content-Length; the wire bytes are ours, unchanged. */
  receivedEncodedLength = 0;

  constructor(private readonly onDone: (hex: string) => void) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.receivedEncodedLength += chunk.length;
    this.hash.update(chunk);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    this.onDone(this.hash.digest("hex"));
    done();
  }
}
