// Kubernetes resource quantities (resource.Quantity), as the config writes
// sizes: 500m, 2, 40Gi, 10G.

const factors: Readonly<Record<string, number>> = {
  "": 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** The quantity's value (bytes, for a size); NaN when it is not a quantity. */
export function quantityBytes(quantity: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)([a-zA-Z]*)$/.exec(quantity);
  if (!match) return Number.NaN;
  return Number(match[1]) * (factors[match[2] ?? ""] ?? Number.NaN);
}
