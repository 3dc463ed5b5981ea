/** The auth options of `junction dev` (flags and JUNCTION_* variables), as the CLI hands them to the embedded bus. */

export interface DevAuthOptions {
  /** Require a credential even on loopback with no keys yet (--auth). @default false */
  readonly required?: boolean;
  readonly allowedHosts?: readonly string[];
  readonly allowedOrigins?: readonly string[];
  /** PEM files: serve HTTPS (HTTP/2 and HTTP/1.1). */
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly jwt?: {
    readonly jwksUrl: string;
    readonly issuer?: string;
    readonly audience?: string;
    /** The console's sign-in at the issuer (authorization code with PKCE). */
    readonly signIn?: {
      readonly clientId: string;
      readonly authorizationEndpoint: string;
      readonly tokenEndpoint: string;
    };
  };
}
