// The one error type of the authentication boundary. It names what was wrong
// with the credential (never the credential itself) and what to do; the HTTP
// layer maps it to 401 (or 503 when the issuer cannot be reached) in one place.

export class AuthenticationError extends Error {
  override readonly name = "AuthenticationError";

  constructor(
    /** What is wrong, in words a workflow author can act on. */
    readonly reason: string,
    /** The header at fault: authorization, x-hub-signature-256, x-dockhand-nonce, … */
    readonly header: string,
    readonly hint: string,
    /** 401, or 503 when the dispatcher could not check (issuer unreachable, replay cache full). */
    readonly status: 401 | 503 = 401,
  ) {
    super(reason);
  }
}
