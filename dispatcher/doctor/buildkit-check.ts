// BuildKit answers buildctl's first call, with the client certificate build
// pods present: a gRPC ListWorkers over HTTP/2 (what `buildctl debug workers`
// sends), over mTLS with buildkit.tlsSecret's ca.crt, tls.crt and tls.key
// when it is set, else plain h2c. gRPC's framing is five bytes and an empty
// ListWorkersRequest is zero bytes, so no gRPC library is needed for it.

import { connect, constants } from "node:http2";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Config } from "../config/schema.js";
import { type CheckResult, fail, ok } from "./check.js";

const name = "buildkit: reachable";

interface Tls {
  ca: string;
  cert: string;
  key: string;
}

export async function checkBuildkit(kc: KubeConfig, config: Config, signal: AbortSignal): Promise<CheckResult[]> {
  const address = config.buildkit.address;
  if (address.startsWith("unix://")) {
    return [fail(name, `buildkit.address ${address} is a socket on the dispatcher's own host, which build pods cannot reach`, "set buildkit.address to tcp://buildkitd.<namespace>.svc.cluster.local:1234 (deploy/base's Service)")];
  }
  let tls: Tls | undefined;
  const secretName = config.buildkit.tlsSecret;
  if (secretName) {
    const namespace = config.kubernetes.namespace;
    const secret = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace, name: secretName });
    const field = (key: string) => {
      const value = secret.data?.[key];
      if (!value) throw new Error(`Secret ${namespace}/${secretName} (buildkit.tlsSecret) has no ${key}: create it as docs/deploy.md "BuildKit certificates" shows`);
      return Buffer.from(value, "base64").toString("utf8");
    };
    tls = { ca: field("ca.crt"), cert: field("tls.crt"), key: field("tls.key") };
  }
  const { hostname: host, port } = new URL(address.replace(/^tcp:/, "http:"));
  try {
    const workers = await listWorkers(host, Number(port || 1234), tls, signal);
    return [ok(name, `${address} answered ListWorkers (${workers} bytes of workers)${tls ? ` over mTLS with ${secretName}'s client certificate` : " over plain TCP (buildkit.tlsSecret unset)"}`)];
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return [
      fail(
        name,
        `${address}: ${message}`,
        /certificate|SSL|TLS|alert/i.test(message)
          ? `buildkit.tlsSecret's certificate must be signed by the CA buildkitd trusts, and buildkitd's must name the host in buildkit.address (docs/deploy.md "BuildKit certificates")`
          : `is buildkitd running (kubectl -n ${config.kubernetes.namespace} get pods -l app.kubernetes.io/name=buildkitd) and is buildkit.address its Service's address and port?`,
      ),
    ];
  }
}

function listWorkers(host: string, port: number, tls: Tls | undefined, signal: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const session = connect(
      `${tls ? "https" : "http"}://${host}:${port}`,
      tls ? { ca: tls.ca, cert: tls.cert, key: tls.key, ALPNProtocols: ["h2"] } : {},
    );
    const done = (error?: Error, bytes = 0) => {
      session.close();
      session.destroy();
      if (error) reject(error);
      else resolve(bytes);
    };
    signal.addEventListener("abort", () => done(new Error("no answer in time")), { once: true });
    session.on("error", (error) => done(error));
    const stream = session.request({
      [constants.HTTP2_HEADER_METHOD]: "POST",
      [constants.HTTP2_HEADER_PATH]: "/moby.buildkit.v1.Control/ListWorkers",
      [constants.HTTP2_HEADER_CONTENT_TYPE]: "application/grpc",
      te: "trailers",
    });
    let bytes = 0;
    let contentType = "";
    stream.on("response", (headers) => (contentType = String(headers[constants.HTTP2_HEADER_CONTENT_TYPE] ?? "")));
    stream.on("data", (chunk: Buffer) => (bytes += chunk.length));
    stream.on("trailers", (trailers) => {
      const status = String(trailers["grpc-status"] ?? "");
      if (status !== "0") done(new Error(`gRPC status ${status}: ${decodeURIComponent(String(trailers["grpc-message"] ?? ""))}`));
      else done(undefined, bytes);
    });
    stream.on("end", () => {
      if (!contentType.startsWith("application/grpc")) done(new Error(`answered ${contentType || "without a content type"}, not gRPC: is this buildkitd?`));
    });
    stream.on("error", (error) => done(error));
    // One message: uncompressed flag 0, length 0 (an empty ListWorkersRequest).
    stream.end(Buffer.alloc(5));
  });
}
