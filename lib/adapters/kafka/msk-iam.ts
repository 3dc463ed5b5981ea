/** Amazon MSK IAM authentication: SASL/OAUTHBEARER with a token signed by aws-msk-iam-sasl-signer-js, cached until near expiry. */
import { generateAuthToken } from 'aws-msk-iam-sasl-signer-js';

/** What signs a token: the signer's `generateAuthToken` (default AWS credential chain) unless replaced. */
export type MskTokenGenerator = (options: {
  region: string;
}) => Promise<{ token: string; expiryTime: number }>;

export interface MskIamTokenProviderOptions {
  /** The AWS region of the MSK cluster, e.g. `eu-west-1`. */
  readonly region: string;
  /** @default generateAuthToken from aws-msk-iam-sasl-signer-js */
  readonly generate?: MskTokenGenerator;
  /** Sign a new token this long before the cached one expires. @default 60000 */
  readonly refreshBeforeMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * A token provider for the client's OAUTHBEARER mechanism: answers a cached token while it has more than
 * `refreshBeforeMs` left, else signs a new one (concurrent callers share one signing).
 * @see https://docs.aws.amazon.com/msk/latest/developerguide/iam-access-control.html
 */
export function mskIamTokenProvider(options: MskIamTokenProviderOptions): () => Promise<string> {
  const generate = options.generate ?? ((o: { region: string }) => generateAuthToken(o));
  const refreshBeforeMs = options.refreshBeforeMs ?? 60_000;
  const now = options.now ?? Date.now;
  let cached: { token: string; expiryTime: number } | undefined;
  let pending: Promise<string> | undefined;
  return () => {
    if (cached !== undefined && cached.expiryTime - refreshBeforeMs > now())
      return Promise.resolve(cached.token);
    pending ??= generate({ region: options.region })
      .then((signed) => {
        cached = signed;
        return signed.token;
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
}
