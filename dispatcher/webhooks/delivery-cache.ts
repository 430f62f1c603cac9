// Deliveries already taken, by X-GitHub-Delivery and by the body's digest.
// GitHub redelivers with the same id (and body) when asked to; the delivery
// id is not covered by the signature, so a captured payload resent under a
// new id is caught by its digest instead. In memory: after a restart a
// redelivery is processed again, which is harmless because every action a
// webhook triggers (cancelling builds) is idempotent.

export interface DeliveryCacheOptions {
  /** How long a delivery is remembered. GitHub lets a delivery be redelivered for 3 days. */
  ttlMs?: number;
  /** Oldest entries go first beyond this many. */
  maxEntries?: number;
  now?: () => number;
}

export class DeliveryCache {
  private readonly seen = new Map<string, number>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: DeliveryCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? 3 * 24 * 3600_000;
    this.maxEntries = options.maxEntries ?? 50_000;
    this.now = options.now ?? Date.now;
  }

  /** True the first time this delivery (id or body) is offered, false for a repeat; records it. */
  firstTime(deliveryId: string, bodyDigest: string): boolean {
    const now = this.now();
    const keys = [`id:${deliveryId}`, `body:${bodyDigest}`];
    if (keys.some((key) => (this.seen.get(key) ?? 0) > now)) return false;
    for (const key of keys) {
      this.seen.delete(key);
      this.seen.set(key, now + this.ttlMs);
    }
    while (this.seen.size > this.maxEntries) {
      const oldest = this.seen.keys().next().value as string;
      this.seen.delete(oldest);
    }
    return true;
  }
}
