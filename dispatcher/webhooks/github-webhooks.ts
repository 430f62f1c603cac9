// POST /webhooks/github: GitHub's events that end builds early. The
// signature (X-Hub-Signature-256, HMAC-SHA256 of the raw body with the
// webhook secret) is checked by @octokit/webhooks on the body exactly as
// received, before it is parsed; a delivery seen before is acknowledged and
// dropped; the answer goes out at once (GitHub waits 10 s at most) and the
// cancelling happens after, one delivery at a time. Events without a handler
// are acknowledged and ignored.

import { Webhooks } from "@octokit/webhooks";
import { Type } from "@sinclair/typebox";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import { createHash } from "node:crypto";
import type { LiveConfig } from "../config/live-config.js";
import { ruleFor } from "../policy/repository-policy.js";
import {
  type CancelOrder,
  onPullRequestClosed,
  onPullRequestSynchronize,
  onWorkflowJobCompleted,
  onWorkflowRunCompleted,
  type PullRequestEvent,
  type WorkflowJobEvent,
  type WorkflowRunEvent,
} from "./cancellations.js";
import { DeliveryCache } from "./delivery-cache.js";

/** Finds and cancels builds by their labels (the Kubernetes executor; the local executor has none). */
export interface BuildCanceller {
  /** Ids of builds with a Job carrying every label, not finished, created before `createdBefore`. */
  find(labels: Readonly<Record<string, string>>, createdBefore?: Date): Promise<string[]>;
  cancel(buildId: string, reason: string): Promise<unknown>;
}

export interface WebhookDeps {
  live: LiveConfig;
  canceller: BuildCanceller | undefined;
  log: FastifyBaseLogger;
  /** Called after each delivery's work is done (tests, metrics). */
  onProcessed?: (delivery: { id: string; event: string; cancelled: string[] }) => void;
}

const signatureHeader = "x-hub-signature-256";
// GitHub caps webhook payloads at 25 MB; the events handled here are far smaller.
const maxPayloadBytes = 5 << 20;

const Answer = Type.Object({ delivery: Type.String(), status: Type.Union([Type.Literal("accepted"), Type.Literal("duplicate"), Type.Literal("ignored")]) });
const Problem = Type.Object({ error: Type.String(), field: Type.String(), hint: Type.String() });

export function githubWebhookRoutes(app: FastifyInstance, deps: WebhookDeps): void {
  const deliveries = new DeliveryCache();
  let receiver: { secret: string; webhooks: Webhooks } | undefined;
  let work: Promise<void> = Promise.resolve();

  const webhooksFor = (secret: string): Webhooks => {
    if (receiver?.secret !== secret) receiver = { secret, webhooks: handlers(new Webhooks({ secret }), deps) };
    return receiver.webhooks;
  };

  void app.register(async (scope) => {
    // The raw text, not a parsed object: the signature is over the exact bytes.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("application/json", { parseAs: "string", bodyLimit: maxPayloadBytes }, (_request, body, done) => done(null, body));
    scope.addContentTypeParser("*", (_request, _payload, done) => done(null, undefined));

    scope.post(
      "/webhooks/github",
      {
        schema: {
          summary: "GitHub webhook: pull_request closed/synchronize and cancelled workflow runs/jobs cancel their builds",
          headers: Type.Object({
            "x-github-event": Type.Optional(Type.String()),
            "x-github-delivery": Type.Optional(Type.String()),
            [signatureHeader]: Type.Optional(Type.String()),
          }),
          response: { 200: Answer, 202: Answer, "4xx": Problem },
        },
        bodyLimit: maxPayloadBytes,
      },
      async (request, reply) => {
        const secret = deps.live.current.webhooks.secret;
        if (!secret) {
          return reply.code(404).send({ error: "webhooks are not enabled on this dispatcher", field: "", hint: "set webhooks.secret (DOCKHAND_WEBHOOK_SECRET) to the webhook's secret" });
        }
        const raw = request.body;
        if (typeof raw !== "string") {
          return reply.code(415).send({ error: "content type: the payload must be application/json", field: "content-type", hint: 'set the webhook\'s content type to "application/json"' });
        }
        const signature = one(request.headers[signatureHeader]);
        const webhooks = webhooksFor(secret);
        if (!signature || !(await webhooks.verify(raw, signature).catch(() => false))) {
          request.log.warn({ delivery: one(request.headers["x-github-delivery"]) }, "webhook with a missing or wrong signature refused");
          return reply.code(401).send({
            error: `${signatureHeader}: ${signature ? "does not match the payload" : "is missing"}`,
            field: signatureHeader,
            hint: "the webhook's secret must equal the dispatcher's webhooks.secret",
          });
        }
        const event = one(request.headers["x-github-event"]);
        const delivery = one(request.headers["x-github-delivery"]);
        if (!event || !delivery || !/^[A-Za-z0-9._-]{1,100}$/.test(delivery) || !/^[a-z_]{1,64}$/.test(event)) {
          return reply.code(400).send({ error: "x-github-event and x-github-delivery are required", field: event ? "x-github-delivery" : "x-github-event", hint: "send the headers GitHub sends with every delivery" });
        }
        let payload: unknown;
        try {
          payload = JSON.parse(raw);
        } catch {
          return reply.code(400).send({ error: "body: is not JSON", field: "body", hint: "send the payload GitHub sends" });
        }
        const digest = createHash("sha256").update(raw).digest("hex");
        if (!deliveries.firstTime(delivery, digest)) {
          request.log.info({ delivery, event }, "webhook delivery already received; ignored");
          return reply.code(200).send({ delivery, status: "duplicate" });
        }
        // Acknowledge first: the cancelling runs after the answer is sent.
        work = work.then(async () => {
          try {
            await webhooks.receive({ id: delivery, name: event as never, payload: payload as never });
          } catch (err) {
            deps.log.error({ delivery, event, err: String((err as Error)?.message ?? err) }, "webhook handling failed");
          }
        });
        return reply.code(202).send({ delivery, status: "accepted" });
      },
    );
  });

  function handlers(webhooks: Webhooks, deps: WebhookDeps): Webhooks {
    const run = async (id: string, event: string, orders: CancelOrder[]) => {
      const cancelled: string[] = [];
      if (orders.length > 0 && !deps.canceller) deps.log.warn({ delivery: id, event }, "webhook asks to cancel builds, but this executor cannot find builds by label");
      for (const order of orders) {
        if (!deps.canceller) break;
        for (const buildId of await deps.canceller.find(order.labels, order.createdBefore)) {
          if (cancelled.includes(buildId)) continue;
          await deps.canceller.cancel(buildId, order.reason);
          cancelled.push(buildId);
          deps.log.info({ delivery: id, event, buildId, reason: order.reason }, "build cancelled by webhook");
        }
      }
      deps.onProcessed?.({ id, event, cancelled });
    };
    webhooks.on("pull_request.closed", ({ id, payload }) => run(id, "pull_request.closed", onPullRequestClosed(payload as unknown as PullRequestEvent)));
    webhooks.on("pull_request.synchronize", ({ id, payload }) => {
      const event = payload as unknown as PullRequestEvent;
      const optedIn = ruleFor(deps.live.current.policy, event.repository.full_name)?.rule.cancelSupersededBuilds ?? false;
      return run(id, "pull_request.synchronize", onPullRequestSynchronize(event, optedIn));
    });
    webhooks.on("workflow_run.completed", ({ id, payload }) => run(id, "workflow_run.completed", onWorkflowRunCompleted(payload as unknown as WorkflowRunEvent)));
    webhooks.on("workflow_job.completed", ({ id, payload }) => run(id, "workflow_job.completed", onWorkflowJobCompleted(payload as unknown as WorkflowJobEvent)));
    return webhooks;
  }
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
