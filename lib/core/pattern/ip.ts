/**
 * IP addresses and CIDR blocks as comparable keys: `4` + 8 hex digits for IPv4, `6` + 32 for IPv6. What is an
 * address follows event-ruler (Java's `InetAddress` behind its own check of the text): four dot-separated decimal
 * numbers up to 255 (`010.0.0.1` is 10.0.0.1), or hex groups and colons only — an IPv6 text with a dotted IPv4 tail
 * (`::ffff:10.0.0.1`) is no address to event-ruler, so it is none here.
 */

import { hexGroupBytes, unmapIpv4 } from '../net/ip.ts';

const IPV4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/;

function ipv4Bytes(text: string): number[] | undefined {
  const m = IPV4.exec(text);
  if (m === null || text.length > 64) return undefined;
  const bytes = m.slice(1, 5).map(Number);
  return bytes.every((b) => b <= 255) ? bytes : undefined;
}

function ipv6Bytes(text: string): number[] | undefined {
  if (text.length > 64 || !/^[0-9a-fA-F:]*:[0-9a-fA-F:]*$/.test(text)) return undefined;
  return hexGroupBytes(text, 8);
}

/** The bytes of an address: 4 for IPv4 (and IPv4-mapped IPv6, as Java's InetAddress reads it), 16 for IPv6. */
export function ipBytes(text: string): number[] | undefined {
  const v4 = ipv4Bytes(text);
  if (v4 !== undefined) return v4;
  const v6 = ipv6Bytes(text);
  return v6 === undefined ? undefined : unmapIpv4(v6);
}

function keyOf(bytes: readonly number[]): string {
  return (bytes.length === 4 ? '4' : '6') + bytes.map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The comparable key of an IP address, or undefined when the text is not one. */
export function ipKey(text: string): string | undefined {
  const bytes = ipBytes(text);
  return bytes === undefined ? undefined : keyOf(bytes);
}

/** The inclusive key range of a CIDR block; throws an Error whose message says why the text is not one. */
export function cidrRange(text: string): { low: string; high: string } {
  const parts = text.split('/');
  if (parts.length !== 2) throw new Error("Malformed CIDR, one '/' required");
  const bytes = ipBytes(parts[0] ?? '');
  if (bytes === undefined) throw new Error(`Invalid IP address in CIDR: ${parts[0]}`);
  const bitsText = parts[1] ?? '';
  if (!/^\d{1,3}$/.test(bitsText)) throw new Error(`Malformed CIDR mask bits: ${bitsText}`);
  const bits = Number(bitsText);
  const max = bytes.length * 8;
  if (bits >= max) throw new Error(`${bytes.length === 4 ? 'IPv4' : 'IPv6'} mask bits must be < ${max}`);
  const low: number[] = [];
  const high: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    const mask = keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
    const b = bytes[i] ?? 0;
    low.push(b & mask);
    high.push((b & mask) | (~mask & 0xff));
  }
  return { low: keyOf(low), high: keyOf(high) };
}
