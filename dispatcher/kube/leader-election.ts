// Leader election on a coordination.k8s.io/v1 Lease, so that of several
// dispatcher replicas exactly one reconciles and reports while all of them
// serve the API.
//
// Hand-written because @kubernetes/client-node 1.4 has no leader-election
// helper (client-go's tools/leaderelection has no counterpart in it), and the
// npm packages that offer one wrap older client APIs. The protocol is
// client-go's (k8s.io/client-go/tools/leaderelection, LeaseLock):
//   - every write is a replace carrying the resourceVersion last read, so two
//     candidates racing for the same Lease cannot both win (409 Conflict);
//   - a Lease held by someone else counts as expired only once it has not
//     changed for leaseDurationSeconds *as measured on our own clock* since we
//     last saw it change: clocks of different nodes need not agree, so the
//     holder's renewTime is written but never compared with our time;
//   - the leader gives up (stops reconciling) once it has failed to renew for
//     renewDeadlineSeconds, which is shorter than the lease duration, so it has
//     stopped before anyone else may take over;
//   - on a clean stop the leader releases the Lease (empty holder), and the
//     next candidate takes over at its next retry instead of after expiry.

import { CoordinationV1Api, type KubeConfig, type V1Lease, V1MicroTime } from "@kubernetes/client-node";
import { apiMessage, apiStatus } from "./api-errors.js";

export interface LeaseTiming {
  /** How long a Lease that stopped changing stays another replica's. */
  leaseDurationSeconds: number;
  /** How long the leader keeps leading while renewals fail; less than leaseDurationSeconds. */
  renewDeadlineSeconds: number;
  /** How often candidates try to acquire and the leader renews. */
  retryPeriodSeconds: number;
}

/** client-go's defaults (leaderelection.LeaderElectionConfig as kube-controller-manager uses it). */
export const defaultLeaseTiming: LeaseTiming = { leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 2 };

/** The Lease dispatcher replicas compete for, in the build namespace. */
export const dispatcherLeaseName = "dockhand-dispatcher";

export interface LeaderElectionLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface LeaderElectorOptions {
  kc: KubeConfig;
  namespace: string;
  leaseName?: string;
  /** Unique per replica: the pod name (downward API), never shared by two processes. */
  identity: string;
  timing?: LeaseTiming;
  log: LeaderElectionLog;
  /** Called when this replica becomes leader; leadership is only announced once it resolves. */
  onStartedLeading(): Promise<void> | void;
  /** Called when leadership ends (lost, or stop()); the Lease is released only after it resolves. */
  onStoppedLeading(): Promise<void> | void;
  now?: () => number;
}

/** What a candidate saw of the Lease the last time it changed, on its own clock. */
export interface Observation {
  resourceVersion: string;
  observedAtMs: number;
}

export type LeaseDecision =
  | { action: "create" }
  | { action: "wait"; holder: string; expiresInMs: number }
  | { action: "replace"; spec: NonNullable<V1Lease["spec"]>; transition: boolean };

/**
 * Pure: given the Lease as read (undefined: it does not exist), what we saw of
 * it before, and now, what should this candidate do? `observation` must
 * already be updated for this read (see observe()).
 */
export function decide(
  lease: V1Lease | undefined,
  observation: Observation | undefined,
  identity: string,
  timing: LeaseTiming,
  nowMs: number,
): LeaseDecision {
  if (!lease) return { action: "create" };
  const spec = lease.spec ?? {};
  const holder = spec.holderIdentity ?? "";
  const duration = (spec.leaseDurationSeconds ?? timing.leaseDurationSeconds) * 1000;
  if (holder !== "" && holder !== identity) {
    const observedAt = observation?.observedAtMs ?? nowMs;
    const expiresInMs = observedAt + duration - nowMs;
    if (expiresInMs > 0) return { action: "wait", holder, expiresInMs };
  }
  const now = new V1MicroTime(nowMs);
  const transition = holder !== identity;
  return {
    action: "replace",
    transition,
    spec: {
      holderIdentity: identity,
      leaseDurationSeconds: timing.leaseDurationSeconds,
      acquireTime: transition ? now : spec.acquireTime,
      renewTime: now,
      leaseTransitions: (spec.leaseTransitions ?? 0) + (transition && holder !== "" ? 1 : 0),
    },
  };
}

/** Records the time a Lease's resourceVersion was first seen; an unchanged Lease keeps its first sighting. */
export function observe(previous: Observation | undefined, lease: V1Lease | undefined, nowMs: number): Observation | undefined {
  const resourceVersion = lease?.metadata?.resourceVersion;
  if (!resourceVersion) return undefined;
  if (previous?.resourceVersion === resourceVersion) return previous;
  return { resourceVersion, observedAtMs: nowMs };
}

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private readonly leaseName: string;
  private readonly timing: LeaseTiming;
  private readonly now: () => number;
  private observation: Observation | undefined;
  private leading = false;
  private lastRenewMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private tick: Promise<void> = Promise.resolve();
  private lastHolderLogged: string | undefined;

  constructor(private readonly options: LeaderElectorOptions) {
    this.api = options.kc.makeApiClient(CoordinationV1Api);
    this.leaseName = options.leaseName ?? dispatcherLeaseName;
    this.timing = options.timing ?? defaultLeaseTiming;
    if (this.timing.renewDeadlineSeconds >= this.timing.leaseDurationSeconds) {
      throw new Error("leader election: renewDeadlineSeconds must be less than leaseDurationSeconds, or two replicas could lead at once");
    }
    this.now = options.now ?? Date.now;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  get identity(): string {
    return this.options.identity;
  }

  /** Starts competing; returns at once (the first attempt runs immediately). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Stops competing; if leading, stops leading first, then releases the Lease. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.tick;
    if (this.leading) await this.stopLeading("stopping");
    // Also when not (yet) announced: an attempt cut short by stop() may have just acquired it.
    await this.release();
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.tick = this.attempt().finally(() => this.schedule(this.timing.retryPeriodSeconds * 1000));
    }, ms);
    this.timer.unref();
  }

  private async attempt(): Promise<void> {
    let ok: boolean;
    try {
      ok = await this.tryAcquireOrRenew();
    } catch (err) {
      ok = false;
      this.options.log.warn({ lease: this.leaseName, err: apiMessage(err) }, "leader election: could not read or write the Lease");
    }
    if (!this.running) return;
    if (ok) {
      this.lastRenewMs = this.now();
      if (!this.leading) {
        await this.options.onStartedLeading();
        this.leading = true;
        this.options.log.info({ lease: this.leaseName, identity: this.options.identity }, "leader election: became leader; reconciling");
      }
    } else if (this.leading && this.now() - this.lastRenewMs > this.timing.renewDeadlineSeconds * 1000) {
      await this.stopLeading(`could not renew the Lease for ${this.timing.renewDeadlineSeconds} s`);
    }
  }

  private async stopLeading(reason: string): Promise<void> {
    this.leading = false;
    const log = reason === "stopping" ? this.options.log.info : this.options.log.warn;
    log.call(this.options.log, { lease: this.leaseName, identity: this.options.identity, reason }, "leader election: stopped leading; reconciling stopped");
    await this.options.onStoppedLeading();
  }

  /** One round: true when we hold the Lease after it (acquired or renewed). */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const namespace = this.options.namespace;
    let lease: V1Lease | undefined;
    try {
      lease = await this.api.readNamespacedLease({ name: this.leaseName, namespace });
    } catch (err) {
      if (apiStatus(err) !== 404) throw err;
    }
    const now = this.now();
    this.observation = observe(this.observation, lease, now);
    const decision = decide(lease, this.observation, this.options.identity, this.timing, now);
    switch (decision.action) {
      case "wait":
        if (this.lastHolderLogged !== decision.holder) {
          this.lastHolderLogged = decision.holder;
          this.options.log.info({ lease: this.leaseName, holder: decision.holder }, "leader election: another replica leads; standing by");
        }
        // A leader that sees someone else holding the Lease has lost it.
        if (this.leading) this.lastRenewMs = 0;
        return false;
      case "create":
        try {
          const created = await this.api.createNamespacedLease({
            namespace,
            body: {
              metadata: { name: this.leaseName, namespace },
              spec: {
                holderIdentity: this.options.identity,
                leaseDurationSeconds: this.timing.leaseDurationSeconds,
                acquireTime: new V1MicroTime(now),
                renewTime: new V1MicroTime(now),
                leaseTransitions: 0,
              },
            },
          });
          this.observation = observe(undefined, created, now);
          return true;
        } catch (err) {
          if (apiStatus(err) === 409) return false; // another candidate created it first
          throw err;
        }
      case "replace":
        try {
          const replaced = await this.api.replaceNamespacedLease({
            name: this.leaseName,
            namespace,
            // The resourceVersion read above is the precondition: a concurrent write makes this a 409.
            body: { metadata: { ...lease!.metadata, name: this.leaseName, namespace }, spec: decision.spec },
          });
          this.observation = observe(undefined, replaced, now);
          return true;
        } catch (err) {
          if (apiStatus(err) === 409) return false;
          throw err;
        }
    }
  }

  /** Gives the Lease up so a standby takes over at its next retry instead of after expiry. */
  private async release(): Promise<void> {
    try {
      const lease = await this.api.readNamespacedLease({ name: this.leaseName, namespace: this.options.namespace });
      if (lease.spec?.holderIdentity !== this.options.identity) return;
      const now = new V1MicroTime(this.now());
      await this.api.replaceNamespacedLease({
        name: this.leaseName,
        namespace: this.options.namespace,
        body: {
          metadata: lease.metadata,
          spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, acquireTime: now, renewTime: now },
        },
      });
      this.options.log.info({ lease: this.leaseName, identity: this.options.identity }, "leader election: Lease released");
    } catch (err) {
      if (apiStatus(err) === 404) return;
      this.options.log.warn({ lease: this.leaseName, err: apiMessage(err) }, "leader election: could not release the Lease; it expires by itself");
    }
  }
}
