import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { Readable } from "node:stream";
import type { ContextStore } from "../../contexts/context-store.js";
import { parseContextDigest } from "../../contexts/digest.js";
import { ContextError } from "../../contexts/errors.js";
import { verifyContextUrl } from "../../contexts/signed-url.js";
import type { Metrics } from "../../metrics.js";
import { ErrorSchema } from "./schemas.js";

const DigestParams = Type.Object({
  sha256: Type.String({ pattern: "^(sha256:)?[0-9a-f]{64}$", description: "The context's sha256 (64 lowercase hex digits)." }),
});

export interface ContextRoutesDeps {
  store: ContextStore;
  maxBytes: number;
  maxUnpackedBytes: number;
  signingKey: string;
  metrics: Metrics;
}

/** Content-addressed build contexts: uploaded once per digest, fetched by build pods through signed URLs. */
export function contextRoutes(app: FastifyInstance, deps: ContextRoutesDeps): void {
  // The body is the tar.gz itself: hand the raw stream to the store, which
  // hashes and bounds it while writing, instead of buffering it in memory.
  app.addContentTypeParser(["application/gzip", "application/x-gzip", "application/octet-stream"], (_req, payload, done) => done(null, payload));

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
        consumes: ["application/gzip", "application/octet-stream"],
        response: { 201: Type.Object({ digest: Type.String(), size: Type.Integer() }), 200: Type.Object({ digest: Type.String(), size: Type.Integer() }), "4xx": ErrorSchema },
      },
    },
    async (request, reply) => {
      const digest = parseContextDigest((request.params as { sha256: string }).sha256);
      const declared = Number(request.headers["content-length"]);
      if (Number.isFinite(declared) && declared > deps.maxBytes) {
        return reply.code(413).header("connection", "close").send({
          error: `context: ${declared} bytes is more than the dispatcher's limit of ${deps.maxBytes}`,
          field: "context",
          hint: "add large, unneeded files to .dockerignore, or raise contexts.maxBytes in the dispatcher's config",
        });
      }
      const result = await deps.store
        .put(digest, request.body as Readable, { maxBytes: deps.maxBytes, maxUnpackedBytes: deps.maxUnpackedBytes })
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
      const stream = await deps.store.open(verdict.digest);
      return reply.type("application/gzip").send(stream);
    },
  );
}
