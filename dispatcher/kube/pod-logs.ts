import type { KubeConfig, V1Pod } from "@kubernetes/client-node";
import { request as httpsRequest, type RequestOptions } from "node:https";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { createInterface } from "node:readline";

/** The steps of a build pod in the order they run: init containers, then containers. */
export function stepsOf(pod: V1Pod): string[] {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c) => c.name);
}

export function stepStarted(pod: V1Pod, step: string): boolean {
  const status = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].find((s) => s.name === step);
  return Boolean(status?.state?.running || status?.state?.terminated);
}

/**
 * Lines of one container's log through the API server's pod log endpoint
 * (which proxies to the kubelet). With follow it ends when the container
 * exits; aborting the signal closes the connection.
 *
 * Not client-node's Log helper: it pipes the response into the caller's
 * stream and drops both its own done callback and the response's errors, so
 * a connection lost mid-build would leave the reader waiting forever. Node's
 * own https client with the kubeconfig's TLS and credentials reports both.
 */
export async function* containerLogLines(
  kc: KubeConfig,
  namespace: string,
  pod: string,
  container: string,
  follow: boolean,
  signal: AbortSignal,
): AsyncGenerator<string> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("the kubeconfig has no current cluster");
  const url = new URL(`${cluster.server}/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log`);
  url.searchParams.set("container", container);
  if (follow) url.searchParams.set("follow", "true");
  const options: RequestOptions = { method: "GET", signal };
  await kc.applyToHTTPSOptions(options);
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const req = send(url, options, resolve);
    req.on("error", reject);
    req.end();
  });
  if (response.statusCode !== 200) {
    let body = "";
    for await (const chunk of response) body += chunk;
    let message = body.slice(0, 500);
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? message;
    } catch {
      // not a Status object
    }
    throw Object.assign(new Error(`pod log ${pod}/${container}: HTTP ${response.statusCode}: ${message}`), { code: response.statusCode });
  }
  // The response outlives the line reader: a consumer that stops early
  // closes readline, which drops its error listener, and the abort that
  // follows then fails the response with "aborted". Unheard, that error
  // would be an uncaught exception and take the dispatcher down.
  let lost: Error | undefined;
  response.on("error", (err) => (lost ??= err));
  try {
    for await (const line of createInterface({ input: response, crlfDelay: Infinity })) yield line;
    if (lost && !signal.aborted) throw lost;
  } catch (err) {
    if (!signal.aborted) throw err;
  } finally {
    // A consumer that stops early must not leave the connection streaming.
    response.destroy();
  }
}
