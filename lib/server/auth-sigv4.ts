/**
 * Verifies AWS Signature Version 4 (header form) on API requests, so `@aws-sdk/client-eventbridge` with an access
 * key made by `junction keys create NAME --scope publish --aws` authenticates `PutEvents`. Query-string (presigned)
 * signatures are not accepted.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { JunctionError } from '../core/errors.ts';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

export interface SignedRequest {
  readonly method: string;
  /** The path as sent (percent-encoded). */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Headers;
  readonly body: Uint8Array;
}

/** The parts of an `Authorization: AWS4-HMAC-SHA256 …` header. */
export interface SigV4Header {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

/** How far a request's X-Amz-Date may be from the bus's clock, as AWS allows. */
export const MAX_SKEW_MS = 15 * 60 * 1000;

/** An AWS-shaped refusal (the SDK reads `__type`): 403 with the exception's name as the code. */
export class SigV4Error extends JunctionError {
  readonly awsCode: string;
  constructor(awsCode: string, message: string) {
    super('Forbidden', message, { details: { awsErrorCode: awsCode } });
    this.awsCode = awsCode;
  }
}

export function isSigV4(authorization: string | undefined): boolean {
  return authorization?.startsWith('AWS4-HMAC-SHA256 ') ?? false;
}

export function parseSigV4Header(authorization: string): SigV4Header {
  const fields = new Map<string, string>();
  for (const part of authorization.slice('AWS4-HMAC-SHA256 '.length).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential')?.split('/') ?? [];
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential.length !== 5 || credential[4] !== 'aws4_request' || !signedHeaders || !signature) {
    throw new SigV4Error(
      'IncompleteSignatureException',
      'the Authorization header must carry Credential=AKID/date/region/service/aws4_request, SignedHeaders and Signature',
    );
  }
  const [accessKeyId, date, region, service] = credential as [string, string, string, string];
  return { accessKeyId, date, region, service, signedHeaders: signedHeaders.split(';'), signature };
}

function first(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** RFC 3986 encoding, as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
function encode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();

/** The canonical request of SigV4 for the signed headers. */
export function canonicalRequest(request: SignedRequest, signedHeaders: readonly string[]): string {
  const query = [...request.query.entries()]
    .map(([k, v]) => [encode(k), encode(v)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const headers = signedHeaders
    .map((name) => {
      const value =
        name === 'host'
          ? (first(request.headers, 'host') ?? first(request.headers, ':authority'))
          : first(request.headers, name);
      return `${name}:${(value ?? '').trim().replace(/\s+/g, ' ')}\n`;
    })
    .join('');
  const payload = first(request.headers, 'x-amz-content-sha256') ?? sha256(request.body);
  return [request.method, request.path || '/', query, headers, signedHeaders.join(';'), payload].join('\n');
}

/** The signature SigV4 computes for a request with this secret. */
export function signature(
  request: SignedRequest,
  header: SigV4Header,
  amzDate: string,
  secret: string,
): string {
  const scope = `${header.date}/${header.region}/${header.service}/aws4_request`;
  const toSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    scope,
    sha256(canonicalRequest(request, header.signedHeaders)),
  ].join('\n');
  const kDate = hmac(`AWS4${secret}`, header.date);
  const kSigning = hmac(hmac(hmac(kDate, header.region), header.service), 'aws4_request');
  return createHmac('sha256', kSigning).update(toSign).digest('hex');
}

/** `20240101T120000Z` → epoch ms, or NaN. */
function parseAmzDate(text: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  return m === null ? Number.NaN : Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

/**
 * Checks a signed request: the secret of its access key is `secretOf(accessKeyId)` (undefined: unknown key).
 * Answers the access key id, or throws a SigV4Error with the exception EventBridge would answer.
 */
export async function verifySigV4(
  request: SignedRequest,
  secretOf: (accessKeyId: string) => Promise<string | undefined>,
  now: number,
): Promise<string> {
  const header = parseSigV4Header(first(request.headers, 'authorization') ?? '');
  const secret = await secretOf(header.accessKeyId);
  if (secret === undefined) {
    throw new SigV4Error(
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
    );
  }
  const amzDate = first(request.headers, 'x-amz-date') ?? '';
  const at = parseAmzDate(amzDate);
  if (Number.isNaN(at) || !amzDate.startsWith(header.date)) {
    throw new SigV4Error(
      'IncompleteSignatureException',
      'X-Amz-Date must be set (yyyyMMddTHHmmssZ) and match the credential scope date',
    );
  }
  if (!header.signedHeaders.includes('host') || !header.signedHeaders.includes('x-amz-date')) {
    throw new SigV4Error('IncompleteSignatureException', 'SignedHeaders must include host and x-amz-date');
  }
  if (Math.abs(now - at) > MAX_SKEW_MS) {
    throw new SigV4Error(
      'InvalidSignatureException',
      `Signature expired: ${amzDate} is more than 15 minutes from the bus's time`,
    );
  }
  const declared = first(request.headers, 'x-amz-content-sha256');
  if (declared !== undefined && declared !== sha256(request.body)) {
    throw new SigV4Error('InvalidSignatureException', 'x-amz-content-sha256 does not match the body');
  }
  const expected = Buffer.from(signature(request, header, amzDate, secret), 'hex');
  const given = Buffer.from(/^[0-9a-f]{64}$/.test(header.signature) ? header.signature : '', 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new SigV4Error(
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    );
  }
  return header.accessKeyId;
}
