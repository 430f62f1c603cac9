import type { KubeConfig, V1Job, V1Pod } from "@kubernetes/client-node";
import type { Config } from "../config/schema.js";
import type { Executor, LogOptions, SubmitResult } from "../executor.js";
import type { LogLine } from "../protocol/build-logs.js";
import type { BuildPlan } from "../plan/build-plan.js";
import { jobManifests } from "../plan/job-manifests.js";
import { annotationKeys, dockerdPodLabels, labelKeys } from "../plan/names.js";
import { deriveBuildState, derivePlatformState, newestPodOf } from "./state-from-jobs.js";
import type { BuildState } from "../protocol/build-state.js";
import { isFinalPhase, type PlatformPhase } from "../protocol/phases.js";
import { Reconciler, type ReconcilerLog, type ReconcilerOptions } from "./reconciler.js";
import type { StatusReporter } from "../model/status-report.js";
import { ImageIndexStep } from "./image-index-step.js";
import { DockerdAdmissionStep } from "./dockerd-admission-step.js";
import { BuildJobs, isFinished } from "../kube/build-jobs.js";
import { RegistryCredentialsSecrets, registryClients } from "../kube/registry-credentials.js";
import { buildInformers, type BuildInformers } from "../kube/informers.js";
import { containerLogLines, stepsOf, stepStarted } from "../kube/pod-logs.js";
import { mergeAsync } from "../merge-async.js";
import { pinWindowsBases } from "../registry/windows-base-resolution.js";

export interface KubernetesExecutorOptions {
  kc: KubeConfig;
  source: string;
  config: Config;
  report: StatusReporter;
  log: ReconcilerLog;
  /**
   * Whether this replica reconciles from the start (alone, or already known to
   * lead); setReconciling() changes it as leadership comes and goes.
   */
  reconcile: boolean;
  onState?: ReconcilerOptions["onState"];
  onReported?: ReconcilerOptions["onReported"];
  onReconciled?: ReconcilerOptions["onReconciled"];
  /** Per Windows version, the nodes holding that pool's docker CLI image: admission prefers them. */
  cliImageHeldOn?: () => ReadonlyMap<string, ReadonlySet<string>> | undefined;
}

/** Runs each platform of a build as a Kubernetes Job and reports through the reconciler. */
export class KubernetesExecutor implements Executor {
  readonly kind = "kubernetes";
  readonly where: string;
  readonly jobs: BuildJobs;
  private readonly informers: BuildInformers;
  private readonly reconciler: Reconciler;
  private readonly registries: ReturnType<typeof registryClients>;
  private synced = false;
  private reconciling: boolean;

  constructor(private readonly options: KubernetesExecutorOptions) {
    const namespace = options.config.kubernetes.namespace;
    this.where = `namespace ${namespace} on ${options.kc.getCurrentCluster()?.server ?? "?"} (kubeconfig: ${options.source})`;
    this.jobs = new BuildJobs(options.kc, namespace);
    this.registries = registryClients(new RegistryCredentialsSecrets(options.kc, namespace), options.config.registry.insecureRegistries);
    this.informers = buildInformers(
      options.kc,
      namespace,
      (what, err) => options.log.warn({ informer: what, err: String((err as Error)?.message ?? err) }, "watch failed; restarting"),
      options.config.dockerPool.daemonNamespace ?? namespace,
    );
    this.reconciler = new Reconciler(this.informers, this.jobs, options.report, options.log, {
      unschedulableAfterSeconds: options.config.limits.unschedulableAfterSeconds,
      onState: options.onState,
      onReported: options.onReported,
      onReconciled: options.onReconciled,
      imageIndex: new ImageIndexStep(
        this.informers,
        this.jobs,
        this.registries,
        options.report,
        options.log,
      ),
      admission: new DockerdAdmissionStep(this.informers, this.jobs, options.config.dockerPool.maxBuildsPerNode, options.log, options.cliImageHeldOn),
    });
    this.reconciling = options.reconcile;
  }

  async start(): Promise<void> {
    await this.informers.start();
    this.synced = true;
    if (this.reconciling) this.reconciler.resume();
  }

  async stop(): Promise<void> {
    await this.reconciler.pause();
    await this.informers.stop();
  }

  /**
   * The leader reconciles and reports; every replica keeps its informers for
   * the API. Turning it off waits for the reconcile in flight, so nothing is
   * reported after this resolves.
   */
  async setReconciling(on: boolean): Promise<void> {
    this.reconciling = on;
    if (!on) await this.reconciler.pause();
    else if (this.synced) this.reconciler.resume();
  }

  get isReconciling(): boolean {
    return this.reconciling;
  }

  /** For tests: resolves once the reconciler has nothing queued. */
  async idle(): Promise<void> {
    await this.reconciler.idle();
  }

  async ready(): Promise<boolean> {
    return this.synced;
  }

  platformPhases(): PlatformPhase[] {
    const namespace = this.jobs.namespace;
    const pods = this.informers.pods.list(namespace);
    const options = this.deriveOptions();
    return this.informers.jobs
      .list(namespace)
      .filter((job) => job.metadata?.labels?.[labelKeys.buildId] !== undefined)
      .map((job) => derivePlatformState(job, newestPodOf(job, pods), options).state);
  }

  async submit(plan: BuildPlan, githubToken: string | undefined, secrets: Readonly<Record<string, string>> = {}): Promise<SubmitResult> {
    // Multi-version Windows bases pinned per platform before any Job exists: a base without this version is a 422 that creates nothing.
    const secret = plan.registrySecret === undefined ? this.options.config.registry.secretName : (plan.registrySecret ?? undefined);
    plan = await pinWindowsBases(plan, this.registries(secret).reader, this.options.log);
    const { jobs, created } = await this.jobs.create(jobManifests(plan, this.options.config));
    // Owned by the Jobs; their build pods wait for it to mount (kube/build-jobs.ts).
    if (plan.buildSecret !== undefined) await this.jobs.storeBuildSecrets(plan.buildSecret, plan.buildId, jobs, secrets);
    if (githubToken && plan.githubTokenSecret) await this.jobs.storeGitHubToken(plan.githubTokenSecret, jobs, githubToken);
    const build = deriveBuildState(plan.buildId, jobs, [], this.deriveOptions());
    return { build: build!, created };
  }

  async get(buildId: string): Promise<BuildState | undefined> {
    const [jobs, pods] = await Promise.all([this.jobs.jobsOf(buildId), this.jobs.podsOf(buildId)]);
    return deriveBuildState(buildId, jobs, pods, this.deriveOptions());
  }

  /** The dockerd pool's pods as the admission sees them (metrics: the pool's readiness per Windows version). */
  dockerdPods(): readonly V1Pod[] {
    // The same informer holds the buildkitd-windows pods.
    return this.informers.dockerdPods.list().filter((pod) => pod.metadata?.labels?.[dockerdPodLabels.name] === dockerdPodLabels.nameValue);
  }

  async list(): Promise<BuildState[]> {
    // From the informers' cache, as the reconciler sees the cluster: a list
    // costs the API server nothing, however often it is asked.
    const namespace = this.jobs.namespace;
    const pods = this.informers.pods.list(namespace);
    const byBuild = new Map<string, V1Job[]>();
    for (const job of this.informers.jobs.list(namespace)) {
      const id = job.metadata?.labels?.[labelKeys.buildId];
      if (id === undefined) continue;
      byBuild.set(id, [...(byBuild.get(id) ?? []), job]);
    }
    const options = this.deriveOptions();
    return [...byBuild].flatMap(([id, jobs]) => deriveBuildState(id, jobs, [...pods], options) ?? []);
  }

  async cancel(buildId: string, reason: string): Promise<BuildState | undefined> {
    await this.jobs.cancel(buildId, reason);
    return this.get(buildId);
  }

  /**
   * The build's state once it is final, as get() answers it, or undefined once
   * it is gone. Its logs end when its containers exit, which is before the Job
   * controller marks the Job done and before the reconciler has read the
   * pushed image back: the log stream waits here so its end carries the final
   * state. Woken by the informers (the API's answer is never behind their
   * cache), plus a slow timer for what turns final with time alone
   * (unschedulableAfterSeconds).
   */
  async settled(buildId: string, signal: AbortSignal): Promise<BuildState | undefined> {
    const namespace = this.jobs.namespace;
    for (;;) {
      signal.throwIfAborted();
      const change = this.nextChange(buildId, signal);
      try {
        const jobs = this.informers.jobs.list(namespace).filter((job) => job.metadata?.labels?.[labelKeys.buildId] === buildId);
        const cached = deriveBuildState(buildId, jobs, [...this.informers.pods.list(namespace)], this.deriveOptions());
        if (!cached || isFinalPhase(cached.state)) {
          const build = await this.get(buildId);
          if (!build || isFinalPhase(build.state)) return build;
        }
        await change.next;
      } finally {
        change.cancel();
      }
    }
  }

  /** Resolves on the next event of one of the build's Jobs or pods, after 5 s at the latest, or when `signal` aborts. */
  private nextChange(buildId: string, signal: AbortSignal): { next: Promise<void>; cancel: () => void } {
    let wake!: () => void;
    const next = new Promise<void>((resolve) => (wake = resolve));
    const timer = setTimeout(() => wake(), 5000);
    const cancel = () => {
      clearTimeout(timer);
      this.informers.jobs.off("change", onChange);
      this.informers.pods.off("change", onChange);
      signal.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      cancel();
      wake();
    };
    // Every follower listens to the whole namespace's feed: only its own build's objects wake it.
    const onChange = (object: V1Job | V1Pod) => {
      if (object?.metadata?.labels?.[labelKeys.buildId] === buildId) onAbort();
    };
    this.informers.jobs.on("change", onChange);
    this.informers.pods.on("change", onChange);
    signal.addEventListener("abort", onAbort, { once: true });
    return { next, cancel };
  }

  async *logs(buildId: string, options: LogOptions): AsyncIterable<LogLine> {
    const jobs = await this.jobs.jobsOf(buildId);
    yield* mergeAsync(jobs.map((job) => this.platformLogs(job, options)));
  }

  private async *platformLogs(job: V1Job, options: LogOptions): AsyncGenerator<LogLine> {
    const platform = job.metadata?.annotations?.[annotationKeys.platform] ?? "";
    const slug = job.metadata?.labels?.[labelKeys.platform] ?? "";
    let pod = await this.podFor(job, () => true, options);
    if (!pod) return;
    for (const step of stepsOf(pod)) {
      pod = await this.podFor(job, (p) => stepStarted(p, step), options);
      if (!pod || !stepStarted(pod, step)) return;
      const skip = options.resume[`${slug}/${step}`] ?? 0;
      let n = 0;
      for await (const line of containerLogLines(this.options.kc, this.jobs.namespace, pod.metadata!.name!, step, options.follow, options.signal)) {
        n++;
        if (n > skip) yield { platform, step, n, line };
      }
    }
  }

  /**
   * The Job's newest pod once `ready` holds for it. With follow it waits on
   * the pod informer (no polling) until that happens or the Job ends;
   * otherwise it answers from the cache at once.
   */
  private podFor(job: V1Job, ready: (pod: V1Pod) => boolean, options: LogOptions): Promise<V1Pod | undefined> {
    const name = job.metadata?.name;
    const current = () => newestPodOf(job, this.informers.pods.list(this.jobs.namespace));
    const over = () => {
      const latest = this.informers.jobs.get(name!, this.jobs.namespace);
      return !latest || isFinished(latest) || Boolean(latest.metadata?.deletionTimestamp);
    };
    const now = current();
    if (now && ready(now)) return Promise.resolve(now);
    if (!options.follow || options.signal.aborted) return Promise.resolve(now);
    return new Promise((resolve) => {
      const check = () => {
        const pod = current();
        if (pod && ready(pod)) finish(pod);
        else if (over() || options.signal.aborted) finish(pod);
      };
      const finish = (pod: V1Pod | undefined) => {
        for (const verb of ["add", "update", "delete"] as const) {
          this.informers.pods.off(verb, check);
          this.informers.jobs.off(verb, check);
        }
        options.signal.removeEventListener("abort", check);
        resolve(pod);
      };
      for (const verb of ["add", "update", "delete"] as const) {
        this.informers.pods.on(verb, check);
        this.informers.jobs.on(verb, check);
      }
      options.signal.addEventListener("abort", check, { once: true });
      check();
    });
  }

  private deriveOptions() {
    return { now: new Date(), unschedulableAfterSeconds: this.options.config.limits.unschedulableAfterSeconds };
  }
}
