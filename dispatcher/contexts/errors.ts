// The one error type of the context boundary. The HTTP layer maps `code` to a
// status and the `{ error, field, hint }` body in one place; nothing here knows
// about HTTP.
export type ContextErrorCode =
  | "invalid-digest"
  | "digest-mismatch"
  | "incomplete-upload"
  | "too-large"
  | "not-found"
  | "invalid-path"
  | "file-not-found"
  | "file-too-large"
  | "invalid-archive";

export class ContextError extends Error {
  override readonly name = "ContextError";

  constructor(
    readonly code: ContextErrorCode,
    message: string,
    readonly hint?: string,
    /** Set for `digest-mismatch`: what the caller claimed and what the bytes hash to. */
    readonly digests?: { expected: string; actual: string },
  ) {
    super(message);
  }
}
