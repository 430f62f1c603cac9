/** The HTTP status of an error thrown by @kubernetes/client-node, if it came from the API server. */
export function apiStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === "number" ? code : undefined;
}

export const isNotFound = (err: unknown) => apiStatus(err) === 404;
export const isAlreadyExists = (err: unknown) => apiStatus(err) === 409;
/** A write with a resourceVersion precondition lost to a newer version: expected with a lagging cache, not a fault. */
export const isConflict = (err: unknown) => apiStatus(err) === 409;

/** The API server's own message ("jobs.batch is forbidden: …"), which names what RBAC or validation refused. */
export function apiMessage(err: unknown): string {
  const body = (err as { body?: unknown } | undefined)?.body;
  if (typeof body === "string") {
    try {
      const status = JSON.parse(body) as { message?: string };
      if (status.message) return status.message;
    } catch {
      return body;
    }
  }
  return err instanceof Error ? err.message : String(err);
}
