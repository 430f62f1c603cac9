import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { Readable } from "node:stream";
import { signatureHeader } from "../../protocol/request-signature.js";
import type { ContextStore, SpooledUpload } from "../../contexts/context-store.js";
import { parseContextDigest } from "../../contexts/digest.js";
import { ContextError } from "../../contexts/errors.js";
import { verifyContextUrl } from "../../contexts/signed-url.js";
import type { Metrics } from "../../metrics.js";
import { contextContentTypes } from "../request-body.js";
import { ErrorSchema } from "../../protocol/error-body.js";

const digestPattern = /^(sha256:)?[0-9a-f]{64}$/;
const DigestParams = Type.Object({
  sha256: Type.String({ pattern: digestPattern.source, description: "The context's sha256 (64 lowercase hex digits)." }),
});

export interface ContextRoutesDeps {
  store: ContextStore;
  maxBytes: number;
  maxUnpackedBytes: number;
  signingKey: string;
  metrics: Metrics;
  /**
   * Whether the build a URL was signed for has ended (or is gone). Its URL
   * then opens nothing: BuildKit records the context URL, signature
   * included, in a provenance attestation that anyone who can pull the image
   * reads, so the URL must not outlive the build that needed it.
   */
  buildEnded?: (buildId: string) => Promise<boolean>;
}

/** Content-addressed build contexts: uploaded once per digest, fetched by build pods through signed URLs. */
export function contextRoutes(app: FastifyInstance, deps: ContextRoutesDeps): void {
  // The body is the tar.gz itself, never held in memory. A signed upload is
  // spooled to disk here, before the access hook, because its signature
  // covers every byte and nothing may read (gunzip, untar) bytes it has not
  // checked; an OIDC upload is checked first and streams to the store as it arrives.
  // request-body.ts lets these types reach only this route.
  app.addContentTypeParser([...contextContentTypes], (request, payload, done) => {
    if (request.headers[signatureHeader] === undefined) return done(null, payload);
    const declared = tooLargeDeclared(request.headers["content-length"], deps.maxBytes);
    if (declared) return done(declared, undefined);
    const { sha256 } = request.params as { sha256: string };
    // A malformed digest is refused by the route's schema next, unread.
    if (!digestPattern.test(sha256)) return done(null, payload);
    deps.store.spool(sha256, payload, deps.maxBytes).then(
      (spooled) => done(null, spooled),
      (error: Error) => done(error, undefined),
    );
  });

  // A spooled upload refused before its handler (401, 403) leaves no file behind.
  app.addHook("onResponse", async (request) => {
    const body = request.body as Readable | SpooledUpload | undefined;
    if (body && isSpooled(body)) await body.discard();
  });

  app.head(
    "/v1/contexts/:sha256",
    { schema: { summary: "Is this context uploaded already?", params: DigestParams, response: { 200: Type.Null(), 404: Type.Null() } } },
    async (request, reply) => {
      const digest = parseContextDigest((request.params as { sha256: string }).sha256);
      return reply.code((await deps.store.has(digest)) ? 200 : 404).send();
    },
  );

  app.put(
    "/v1/contexts/:sha256",
    {
      schema: {
        summary: "Upload a build context (tar.gz); rejected if its sha256 differs, it is too large packed or unpacked, or an entry would land outside the context",
        security: [{ oidc: [] }, { sharedSecret: [] }],
        params: DigestParams,
        consumes: [...contextContentTypes],
        response: { 201: Type.Object({ digest: Type.String(), size: Type.Integer() }), 200: Type.Object({ digest: Type.String(), size: Type.Integer() }), "4xx": ErrorSchema },
      },
    },
    async (request, reply) => {
      const digest = parseContextDigest((request.params as { sha256: string }).sha256);
      const declared = tooLargeDeclared(request.headers["content-length"], deps.maxBytes);
      if (declared) throw declared;
      const body = request.body as Readable | SpooledUpload;
      const spooled = isSpooled(body) ? body : undefined;
      const result = await deps.store
        .put(digest, spooled ? spooled.open() : (body as Readable), { maxBytes: deps.maxBytes, maxUnpackedBytes: deps.maxUnpackedBytes })
        .finally(() => spooled?.discard())
        .catch((error: unknown) => {
          // The rest of a refused upload (a bomb, gigabytes over the limit) is
          // not worth reading: close the connection after answering instead
          // of letting Node drain the body to keep the connection alive.
          void reply.header("connection", "close");
          // A client that hangs up mid-body is the client's failure, not a 500:
          // the store kept nothing, and the log should say why.
          if (!(error instanceof ContextError) && request.raw.readableAborted) {
            throw new ContextError("incomplete-upload", `context ${digest}: the client closed the connection before the whole body arrived`, "upload again; nothing was stored");
          }
          throw error;
        });
      if (result.created) deps.metrics.contextBytes.inc(result.size);
      return reply.code(result.created ? 201 : 200).send({ digest: result.digest, size: result.size });
    },
  );

  app.get(
    "/v1/contexts/:sha256/download",
    {
      schema: {
        summary: "Download a context through a signed URL (what build pods use)",
        params: DigestParams,
        querystring: Type.Object({ build: Type.Optional(Type.String()), expires: Type.Optional(Type.String()), sig: Type.Optional(Type.String()) }),
        produces: ["application/gzip"],
        response: { "4xx": ErrorSchema },
      },
    },
    async (request, reply) => {
      const { sha256 } = request.params as { sha256: string };
      const query = request.query as { build?: string; expires?: string; sig?: string };
      const verdict = verifyContextUrl({ digest: sha256, build: query.build, expires: query.expires, sig: query.sig, key: deps.signingKey });
      if (!verdict.valid) {
        return reply.code(403).send({ error: `context URL is ${verdict.reason}`, field: "sig", hint: "use the URL the dispatcher put in the build's Job; it expires with the build" });
      }
      // A context that is not stored answers 404 first, as it always did: the
      // doctor's probe signs a URL for no build and no context and expects that.
      if (query.build !== undefined && deps.buildEnded !== undefined && (await deps.store.has(verdict.digest)) && (await deps.buildEnded(query.build))) {
        return reply.code(403).send({ error: "context URL belongs to a build that has ended", field: "build", hint: "a context URL opens the context only while its build runs; start a new build" });
      }
      const stream = await deps.store.open(verdict.digest);
      return reply.type("application/gzip").send(stream);
    },
  );
}

function isSpooled(body: Readable | SpooledUpload): body is SpooledUpload {
  return typeof (body as SpooledUpload).discard === "function";
}

/** A Content-Length over the limit is refused before a byte is read. */
function tooLargeDeclared(contentLength: string | undefined, maxBytes: number): ContextError | undefined {
  const declared = Number(contentLength);
  if (!Number.isFinite(declared) || declared <= maxBytes) return undefined;
  return new ContextError(
    "too-large",
    `context: ${declared} bytes is more than the dispatcher's limit of ${maxBytes}`,
    "add large, unneeded files to .dockerignore, or raise contexts.maxBytes in the dispatcher's config",
  );
}
