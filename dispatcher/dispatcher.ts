// The composition root: config in, a running dispatcher out. main.ts calls
// it for `npm start`; tests call it to run the real thing in-process.

import type { V1Pod } from "@kubernetes/client-node";
import type { FastifyInstance } from "fastify";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import pino, { type Logger } from "pino";
import { authConfigured, securityFor } from "./api/security.js";
import { buildServer } from "./api/server.js";
import { LiveConfig, type ReloadResult } from "./config/live-config.js";
import { isEnded } from "./kube/build-jobs.js";
import { dockerdPodLabels, labelKeys, repositoryHash } from "./plan/names.js";
import type { BuildCanceller } from "./webhooks/github-webhooks.js";
import type { Config } from "./config/schema.js";
import { ContextStore } from "./contexts/context-store.js";
import type { Executor } from "./executor.js";
import { githubStatusReporter } from "./github/status-reporter.js";
import { findKubeConfig } from "./kube/kubeconfig.js";
import { dockerCliPodInformer, nodesHoldingCliImages } from "./kube/docker-cli-pods.js";
import { engineReady } from "./plan/engine-pods.js";
import { KubernetesExecutor } from "./controller/kubernetes-executor.js";
import { LeaderElector, type LeaseTiming } from "./kube/leader-election.js";
import { LocalExecutor } from "./local/local-executor.js";
import { buildIdOfUrl, tagBuildIds } from "./logging.js";
import { startMetricsServer } from "./api/metrics-server.js";
import { createMetrics, type DockerdPoolView, recordReported, type Metrics } from "./metrics.js";
import type { PlatformState } from "./protocol/build-state.js";
import type { PlatformPhase } from "./protocol/phases.js";
import type { StatusReporter } from "./model/status-report.js";

export interface Dispatcher {
  app: FastifyInstance;
  executor: Executor;
  metrics: Metrics;
  config: Config;
  /** Where the API answers, e.g. http://127.0.0.1:8080. */
  url: string;
  /** Where /metrics answers: metrics.port's own server, or `${url}/metrics`. */
  metricsUrl: string;
  /** The Kubernetes executor's leader election (undefined for the local executor). */
  leaderElector?: LeaderElector;
  /** The policy and secrets in force; reload() replaces them. */
  live: LiveConfig;
  /** Re-reads the config (StartOptions.reloadConfig) and applies its reloadable keys; SIGHUP does the same. */
  reload(): Promise<ReloadResult>;
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** Replaces GitHub reporting (the bench measures the API alone). */
  report?: StatusReporter;
  /**
   * Leader election among replicas (Kubernetes executor only): this replica's
   * identity (default $POD_NAME, set from the downward API, else host and
   * pid) and the Lease timing (default client-go's 15/10/2 s).
   */
  leaderElection?: { identity?: string; timing?: LeaseTiming };
  /** Reads the config again (main.ts: the file and environment); enables reload() and SIGHUP. */
  reloadConfig?: () => Promise<Config>;
}

/** What the concurrency limit and webhooks need from the cluster: counts and cancellation by label. */
function kubernetesSecurity(kubernetes: KubernetesExecutor): { activeJobs: (repository: string) => Promise<number>; canceller: BuildCanceller } {
  return {
    activeJobs: (repository) => kubernetes.jobs.activeJobsOf(repositoryHash(repository)),
    canceller: {
      async find(labels, createdBefore) {
        const jobs = await kubernetes.jobs.jobsLabelled(labels);
        const ids = jobs
          .filter((job) => !isEnded(job))
          .filter((job) => !createdBefore || new Date(job.metadata?.creationTimestamp ?? 0).getTime() < createdBefore.getTime())
          .map((job) => job.metadata?.labels?.[labelKeys.buildId])
          .filter((id): id is string => Boolean(id));
        return [...new Set(ids)];
      },
      cancel: (buildId, reason) => kubernetes.cancel(buildId, reason),
    },
  };
}

/**
 * The dockerd pool as the executor's informer sees it, for the pool gauges;
 * with the docker-cli pods, which of its nodes hold their version's CLI image
 * (the one this config names: a pod that ran another counts for nothing).
 */
function dockerdPoolOf(kubernetes: KubernetesExecutor, config: Config, dockerCliPods: readonly V1Pod[] | undefined): DockerdPoolView {
  const pods = kubernetes.dockerdPods();
  const cliImageHeldOn = dockerCliPods ? nodesHoldingCliImages(dockerCliPods, config.dockerPool.images) : undefined;
  return {
    configured: Object.keys(config.dockerPool.pools),
    daemons: pods
      .filter((pod) => pod.spec?.nodeName && !pod.metadata?.deletionTimestamp)
      .map((pod) => ({
        windowsVersion: pod.metadata?.labels?.[dockerdPodLabels.windowsVersion] ?? "unlabelled",
        ready: engineReady(pod),
        node: pod.spec?.nodeName,
      })),
    ...(cliImageHeldOn ? { cliImageHeldOn } : {}),
  };
}

export async function startDispatcher(config: Config, options: StartOptions = {}): Promise<Dispatcher> {
  const log = options.logger ?? pino({ level: process.env.DOCKHAND_LOG_LEVEL ?? "info" });
  // Bound once the executor exists; the gauge reads it at each scrape.
  let platformPhases: () => Iterable<PlatformPhase> = () => [];
  let dockerdPool: () => DockerdPoolView | undefined = () => undefined;
  let dockerCliPodWatch: { start(): Promise<void>; stop(): Promise<void> } | undefined;
  const metrics = createMetrics({ platformPhases: () => platformPhases(), dockerdPool: () => dockerdPool(), revision: process.env.DOCKHAND_REVISION });
  const store = await ContextStore.create({ dir: config.contexts.dir, ttlSeconds: config.contexts.ttlSeconds });

  const kube = config.executor === "local" ? undefined : findKubeConfig(config.kubernetes.kubeconfig);
  if (config.executor === "kubernetes" && !kube) {
    throw new Error("executor: kubernetes, but no kubeconfig was found (kubernetes.kubeconfig, $KUBECONFIG, in-cluster, ~/.kube/config); set one, or use executor: local");
  }
  // The build's own token lives in a Secret the Kubernetes executor reads; the local executor keeps it in memory only.
  let readBuildToken: (secret: string) => Promise<string | undefined> = async () => undefined;
  const report =
    options.report ??
    githubStatusReporter({
      config: config.github,
      readBuildToken: (secret) => readBuildToken(secret),
      onApiError: (event) => metrics.githubErrors.inc({ kind: event.kind }),
      onReported: (r) => metrics.statusesReported.inc({ state: r.state }),
      logUnsent: (r) =>
        log.info(
          { buildId: buildIdOfUrl(URL.canParse(r.targetUrl) ? new URL(r.targetUrl).pathname : ""), repository: r.repository, sha: r.sha, context: r.context, state: r.state, description: r.description },
          "commit status (no GitHub credentials configured: not sent)",
        ),
    });
  // The reconciler and the executors log through pino children bound to each build's id.
  const reconcilerLog = tagBuildIds(log);
  const onReported = (platform: PlatformState, final: boolean) => recordReported(metrics, platform, final);

  let executor: Executor;
  if (kube) {
    // Beside the executor's informers: the pool gauges and the admission's
    // preference for nodes that hold the CLI image read these pods.
    const cliPods = dockerCliPodInformer(kube.kc, config.dockerPool.daemonNamespace ?? config.kubernetes.namespace, (err) =>
      log.warn({ err: String((err as Error)?.message ?? err) }, "watching the docker-cli pods failed; retrying"),
    );
    dockerCliPodWatch = cliPods;
    const kubernetes = new KubernetesExecutor({
      kc: kube.kc,
      source: kube.source,
      config,
      report,
      log: reconcilerLog,
      // Only the replica holding the Lease reconciles and reports (see leaderElector below).
      reconcile: false,
      onReported,
      onReconciled: (lagSeconds, outcome) => metrics.reconcileLag.observe({ outcome }, lagSeconds),
      cliImageHeldOn: () => nodesHoldingCliImages(cliPods.list(), config.dockerPool.images),
    });
    readBuildToken = (secret) => kubernetes.jobs.readGitHubToken(secret);
    dockerdPool = () => dockerdPoolOf(kubernetes, config, cliPods.list());
    executor = kubernetes;
  } else {
    executor = new LocalExecutor({ config, report, log: reconcilerLog, onReported });
    metrics.leader.set(1); // one process, no Lease: it always reports
  }

  platformPhases = () => executor.platformPhases();

  const live = new LiveConfig(config);
  const security = securityFor(config, {
    live,
    ...(executor instanceof KubernetesExecutor ? kubernetesSecurity(executor) : {}),
  });
  if (!authConfigured(config)) {
    log.warn({}, "no authentication configured (auth.oidc.audience, auth.sharedSecrets): every upload, build and cancel will be refused with 401");
  } else if (config.auth.disabled) {
    log.warn({ listen: config.listen.host }, "auth.disabled: anyone who reaches this dispatcher may build; development only");
  }
  const app = await buildServer({ config, store, executor, metrics, logger: log, security });
  const reload = async (): Promise<ReloadResult> => {
    if (!options.reloadConfig) throw new Error("this dispatcher was started without a way to re-read its config");
    const result = live.replace(await options.reloadConfig());
    log.info(result, result.needRestart.length > 0 ? "config reloaded; some changes apply only after a restart" : "config reloaded");
    return result;
  };
  const onHangup = () => {
    reload().catch((err) => log.error({ err: String((err as Error)?.message ?? err) }, "config reload failed; the previous config stays in force"));
  };
  if (options.reloadConfig) process.on("SIGHUP", onHangup);
  // Before the executor and the Lease: a metrics port already taken stops start-up while nothing else runs yet.
  const metricsServer = config.metrics.port === undefined ? undefined : await startMetricsServer(metrics, config.listen.host, config.metrics.port);
  await executor.start();
  // Not awaited: a cluster without the docker-cli DaemonSets (or a slow list) must not hold up start-up; the gauge counts every node missing until the list is in.
  dockerCliPodWatch?.start().catch((err: unknown) => log.warn({ err: String((err as Error)?.message ?? err) }, "watching the docker-cli pods failed; retrying"));
  // Every replica serves the API from its own informers; the Lease decides
  // which one reconciles, so each status goes out once however many run.
  const leaderElector =
    executor instanceof KubernetesExecutor && kube
      ? new LeaderElector({
          kc: kube.kc,
          namespace: config.kubernetes.namespace,
          identity: options.leaderElection?.identity ?? process.env.POD_NAME ?? `${hostname()}-${process.pid}`,
          timing: options.leaderElection?.timing ?? config.kubernetes.leaderElection,
          log: { info: (fields, message) => log.info(fields, message), warn: (fields, message) => log.warn(fields, message) },
          onStartedLeading: () => {
            metrics.leader.set(1);
            return (executor as KubernetesExecutor).setReconciling(true);
          },
          onStoppedLeading: () => {
            metrics.leader.set(0);
            return (executor as KubernetesExecutor).setReconciling(false);
          },
        })
      : undefined;
  leaderElector?.start();
  await app.listen({ host: config.listen.host, port: config.listen.port });
  const address = app.server.address() as AddressInfo;
  const url = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
  const metricsUrl = metricsServer ? `${metricsServer.url}/metrics` : `${url}/metrics`;
  log.info({ executor: executor.kind, where: executor.where, listen: url, metrics: metricsUrl, publicUrl: config.publicUrl }, `dispatcher ready: ${executor.kind} executor, ${executor.where}`);

  const sweeper = setInterval(() => {
    store.sweep().then(
      ({ removed }) => removed.length > 0 && log.info({ removed: removed.length }, "expired build contexts removed"),
      (err) => log.warn({ err: String(err) }, "context sweep failed"),
    );
  }, 60_000);
  sweeper.unref();

  return {
    app,
    executor,
    metrics,
    config,
    url,
    metricsUrl,
    leaderElector,
    live,
    reload,
    async close() {
      process.off("SIGHUP", onHangup);
      clearInterval(sweeper);
      // Node waits for every open connection, even one that never sent a
      // request (until headersTimeout, 60 s: past the pod's grace period),
      // so after the grace whatever is left is cut.
      const cut = setTimeout(() => app.server.closeAllConnections(), config.listen.shutdownGraceSeconds * 1000);
      await app.close().finally(() => clearTimeout(cut));
      await metricsServer?.close();
      await leaderElector?.stop();
      await dockerCliPodWatch?.stop();
      await executor.stop();
    },
  };
}
