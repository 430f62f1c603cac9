// One entry point: a request's credential → Identity, or AuthenticationError.
// A bearer token is an OIDC token; X-Hub-Signature-256 is a shared-secret
// signature. Exactly one of them, so a request is never judged on the weaker.

import { AuthenticationError } from "./auth-error.js";
import type { Identity } from "./identity.js";
import { OidcVerifier, type OidcOptions } from "./oidc.js";
import { signatureHeader } from "../protocol/request-signature.js";
import { type SharedSecret, type SignedRequest, SharedSecretVerifier } from "./shared-secret.js";

export interface AuthenticatorOptions {
  /** Unset: OIDC tokens are refused. */
  oidc?: OidcOptions;
  /** Read on every request, so a reloaded config rotates secrets. */
  sharedSecrets: () => readonly SharedSecret[];
  /** auth.disabled: every request is the anonymous identity. */
  disabled?: boolean;
}

export class Authenticator {
  private readonly oidc: OidcVerifier | undefined;
  private readonly signatures: SharedSecretVerifier;

  constructor(private readonly options: AuthenticatorOptions) {
    this.oidc = options.oidc ? new OidcVerifier(options.oidc) : undefined;
    this.signatures = new SharedSecretVerifier(options.sharedSecrets);
  }

  async authenticate(request: SignedRequest): Promise<Identity> {
    if (this.options.disabled) return { kind: "anonymous" };
    const authorization = one(request.headers["authorization"]);
    const signed = one(request.headers[signatureHeader]) !== undefined;
    if (authorization !== undefined && signed) {
      throw new AuthenticationError("both an Authorization header and a request signature were sent", "authorization", "send one: an OIDC token or a shared-secret signature");
    }
    if (signed) return this.signatures.verify(request);
    if (authorization === undefined) {
      throw new AuthenticationError("no credentials: send an OIDC token or a signed request", "authorization", "use the dockhand Action (auth: oidc needs permissions: id-token: write; auth: secret needs the shared secret)");
    }
    const match = /^Bearer ([A-Za-z0-9_.~+/=-]+)$/i.exec(authorization.trim());
    if (!match) throw new AuthenticationError('Authorization is not "Bearer <token>"', "authorization", "send Authorization: Bearer <GitHub Actions OIDC token>");
    if (!this.oidc) {
      throw new AuthenticationError("OIDC tokens are not accepted by this dispatcher (no auth.oidc.audience)", "authorization", "sign the request with the shared secret instead (the Action's auth: secret)");
    }
    return this.oidc.verify(match[1]!);
  }
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
