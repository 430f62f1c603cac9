import { Log, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { PassThrough } from "node:stream";
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
 */
export async function* containerLogLines(
  kc: KubeConfig,
  namespace: string,
  pod: string,
  container: string,
  follow: boolean,
  signal: AbortSignal,
): AsyncGenerator<string> {
  const stream = new PassThrough();
  const done = new Promise<void>((resolve, reject) => {
    new Log(kc)
      .log(namespace, pod, container, stream, (err) => {
        stream.end();
        if (err && !signal.aborted) reject(err);
        else resolve();
      }, { follow })
      .then((abort) => signal.addEventListener("abort", () => abort.abort(), { once: true }))
      .catch((err) => {
        stream.end();
        reject(err);
      });
  });
  done.catch(() => undefined); // surfaced below, after the lines already read
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  for await (const line of lines) yield line;
  await done;
}
