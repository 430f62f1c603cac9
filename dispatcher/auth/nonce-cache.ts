// Nonces of signed requests already accepted, so a captured request cannot be
// sent twice. A nonce only needs remembering while its timestamp is inside
// the accepted window (± maxClockSkewSeconds): after that the timestamp check
// refuses it anyway. So the cache is bounded in time, and in size too.
//
// It lives in memory. A restart forgets it: a request captured within the
// last few minutes could then be replayed once more until its timestamp
// leaves the window (at most 2 × 300 s after it was signed). That is
// acceptable because every signed call is idempotent or harmless to repeat:
// a build request with an idempotency key returns the same build, a context
// upload is content-addressed, a cancel of a cancelled build is a 404; only
// a build request without an idempotency key would start a second build of
// the same commit, which the Action never sends. Several replicas each keep
// their own cache, with the same bound.

export interface NonceCacheOptions {
  /** How long a nonce is remembered after its timestamp, in seconds (the timestamp window). */
  windowSeconds: number;
  /** At most this many nonces; when full of unexpired ones, new requests are refused (fail closed). */
  maxEntries?: number;
  now?: () => number;
}

export type NonceVerdict = "fresh" | "replayed" | "full";

export class NonceCache {
  private readonly expiries = new Map<string, number>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(private readonly options: NonceCacheOptions) {
    this.maxEntries = options.maxEntries ?? 100_000;
    this.now = options.now ?? Date.now;
  }

  /** Records the nonce if it was not seen; `timestamp` is the request's, in Unix seconds. */
  remember(nonce: string, timestamp: number): NonceVerdict {
    const now = this.now();
    const expiry = this.expiries.get(nonce);
    if (expiry !== undefined && expiry > now) return "replayed";
    if (this.expiries.size >= this.maxEntries) this.sweep(now);
    if (this.expiries.size >= this.maxEntries) return "full";
    // Until the timestamp leaves the window on the far side, plus a second for rounding.
    this.expiries.set(nonce, (timestamp + this.options.windowSeconds + 1) * 1000);
    return "fresh";
  }

  get size(): number {
    return this.expiries.size;
  }

  private sweep(now: number): void {
    for (const [nonce, expiry] of this.expiries) if (expiry <= now) this.expiries.delete(nonce);
  }
}
