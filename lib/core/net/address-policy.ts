/** Which IP addresses an HTTP target may reach (the SSRF policy): address ranges, allow-lists, verdicts. */
import { JunctionError } from '../errors.ts';
import { addressBytes } from './ip.ts';

/** The kind of address, for the verdict's message. `public` is everything not listed here. */
export type AddressRange =
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'metadata'
  | 'unspecified'
  | 'multicast'
  | 'reserved'
  | 'public';

/** A CIDR block as bytes (4 for IPv4, 16 for IPv6) and a prefix length. */
export interface Cidr {
  readonly bytes: readonly number[];
  readonly prefix: number;
}

export interface AddressPolicyOptions {
  /** CIDR blocks or single addresses that are allowed even though their range is refused. @default [] */
  readonly allow?: readonly string[];
  /** Whether loopback addresses are allowed (the bus itself listens on loopback). @default false */
  readonly allowLoopback?: boolean;
}

export type AddressVerdict =
  | { readonly allowed: true; readonly range: AddressRange }
  | { readonly allowed: false; readonly range: AddressRange; readonly reason: string };

/** A policy: answers whether an address (as text, e.g. what DNS answered) may be connected to. */
export type AddressPolicy = (address: string) => AddressVerdict;

function cidr(text: string): Cidr {
  const [address = '', bits] = text.split('/');
  const bytes = addressBytes(address) as number[];
  return { bytes, prefix: bits === undefined ? bytes.length * 8 : Number(bits) };
}

/** Ranges, most specific first: the first that contains an address names it. */
const RANGES: ReadonlyArray<readonly [AddressRange, Cidr]> = (
  [
    ['metadata', '169.254.169.254/32'],
    ['metadata', 'fd00:ec2::254/128'],
    ['unspecified', '0.0.0.0/8'],
    ['unspecified', '::/128'],
    ['loopback', '127.0.0.0/8'],
    ['loopback', '::1/128'],
    ['private', '10.0.0.0/8'],
    ['private', '172.16.0.0/12'],
    ['private', '192.168.0.0/16'],
    ['private', '100.64.0.0/10'],
    ['private', 'fc00::/7'],
    ['link-local', '169.254.0.0/16'],
    ['link-local', 'fe80::/10'],
    ['multicast', '224.0.0.0/4'],
    ['multicast', 'ff00::/8'],
    ['reserved', '240.0.0.0/4'],
  ] as const
).map(([range, text]) => [range, cidr(text)] as const);

/** Whether `bytes` is inside the block (same family only). */
export function inCidr(bytes: readonly number[], block: Cidr): boolean {
  if (bytes.length !== block.bytes.length) return false;
  for (let i = 0, bits = block.prefix; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((bytes[i] ?? 0) & mask) !== ((block.bytes[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** The IPv4 address an IPv6 address carries (IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`), if any. */
function embeddedIpv4(bytes: readonly number[]): number[] | undefined {
  if (bytes.length !== 16) return undefined;
  const head = bytes.slice(0, 12);
  const compatible = head.every((b) => b === 0) && bytes.slice(12).some((b, i) => b !== 0 && i < 3);
  const nat64 = [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0].every((b, i) => head[i] === b);
  return compatible || nat64 ? bytes.slice(12) : undefined;
}

/** Parses an address (IPv4, IPv6, IPv4-mapped IPv6, with or without `[]`) to its bytes, or undefined. */
export function parseAddress(text: string): number[] | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const bytes = addressBytes(bare.replace(/%.*$/, '')); // a zone id (`fe80::1%eth0`) does not change the range
  if (bytes === undefined) return undefined;
  return embeddedIpv4(bytes) ?? bytes;
}

/** The range an address is in; undefined when the text is not an IP address. */
export function classifyAddress(text: string): AddressRange | undefined {
  const bytes = parseAddress(text);
  if (bytes === undefined) return undefined;
  for (const [range, block] of RANGES) if (inCidr(bytes, block)) return range;
  return 'public';
}

/** Parses an allow-list entry (`10.0.0.0/8`, `127.0.0.1`, `fd00::/8`); throws `InvalidRequest` naming `field`. */
export function parseCidr(text: string, field: string): Cidr {
  const [address = '', bits, extra] = text.split('/');
  const bytes = parseAddress(address);
  const max = bytes === undefined ? 0 : bytes.length * 8;
  let prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : Number.NaN;
  // An IPv4-mapped block (::ffff:10.0.0.0/104) is the IPv4 block (10.0.0.0/8).
  if (bytes?.length === 4 && address.includes(':') && bits !== undefined) prefix -= 96;
  if (bytes === undefined || extra !== undefined || !(prefix >= 0 && prefix <= max)) {
    throw new JunctionError(
      'InvalidRequest',
      `${field} must be an IP address or a CIDR block such as "10.0.0.0/8", got ${JSON.stringify(text)}`,
      { field },
    );
  }
  return { bytes, prefix };
}

const REFUSED: ReadonlySet<AddressRange> = new Set([
  'loopback',
  'private',
  'link-local',
  'metadata',
  'unspecified',
  'multicast',
  'reserved',
]);

/**
 * Builds the policy: public addresses are allowed; loopback only with `allowLoopback`; every other listed range
 * (private, link-local, metadata, unspecified, multicast, reserved) only when an `allow` entry contains it.
 */
export function createAddressPolicy(options: AddressPolicyOptions = {}): AddressPolicy {
  const allow = (options.allow ?? []).map((entry, i) => parseCidr(entry, `httpTargets.allow[${i}]`));
  const allowLoopback = options.allowLoopback ?? false;
  return (address) => {
    const bytes = parseAddress(address);
    if (bytes === undefined) {
      return { allowed: false, range: 'reserved', reason: `${JSON.stringify(address)} is not an IP address` };
    }
    const range = classifyAddress(address) ?? 'reserved';
    if (!REFUSED.has(range)) return { allowed: true, range };
    if (range === 'loopback' && allowLoopback) return { allowed: true, range };
    if (allow.some((block) => inCidr(bytes, block))) return { allowed: true, range };
    return {
      allowed: false,
      range,
      reason:
        `${address} is a ${range} address, which HTTP targets may not reach` +
        ` (allow it with httpTargets.allow in the bus configuration)`,
    };
  };
}

/** Whether a host the bus listens on is loopback only (then targets on loopback are the developer's own). */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || classifyAddress(host) === 'loopback';
}
