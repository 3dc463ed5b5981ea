/**
 * IP address text as a network stack reads it, for the SSRF policy (`address-policy.ts`): dotted-quad IPv4 (each
 * part 0–255, at most three digits) and IPv6 with or without a dotted IPv4 tail (`::ffff:10.0.0.1` is the mapped
 * IPv4 address). Pattern matching reads addresses as event-ruler does instead (`../pattern/ip.ts`): there an IPv6
 * text with a dotted tail is no address, which would let such a URL past this policy.
 */

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function ipv4Bytes(text: string): number[] | undefined {
  const m = IPV4.exec(text);
  if (m === null) return undefined;
  const bytes = m.slice(1, 5).map(Number);
  return bytes.every((b) => b <= 255) ? bytes : undefined;
}

function ipv6Bytes(text: string): number[] | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  let head = text;
  let tail4: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    const v4 = ipv4Bytes(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail4 = v4;
    head = text.slice(0, lastColon + 1);
    // Keep a `::` before the tail (it stands for the zero groups); drop a single separating colon.
    if (!head.endsWith('::')) head = head.slice(0, -1);
  }
  const bytes = hexGroupBytes(head, 8 - tail4.length / 2);
  return bytes === undefined ? undefined : [...bytes, ...tail4];
}

/**
 * The bytes of `wanted` IPv6 hex groups written with colons, at most one `::` standing for at least one zero group
 * (`2001:db8::1`); `undefined` when the text is not that.
 */
export function hexGroupBytes(text: string, wanted: number): number[] | undefined {
  const parts = text.split('::');
  if (parts.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const left = groups(parts[0] ?? '');
  const right = parts.length === 2 ? groups(parts[1] ?? '') : [];
  if (left === undefined || right === undefined) return undefined;
  let all: number[];
  if (parts.length === 2) {
    const missing = wanted - left.length - right.length;
    if (missing < 1) return undefined;
    all = [...left, ...new Array<number>(missing).fill(0), ...right];
  } else {
    if (left.length !== wanted) return undefined;
    all = left;
  }
  const bytes: number[] = [];
  for (const g of all) bytes.push(g >> 8, g & 0xff);
  return bytes;
}

/** IPv4-mapped IPv6 bytes (`::ffff:a.b.c.d`) as the IPv4 address's 4, as Java's InetAddress reads them; others as they are. */
export function unmapIpv4(bytes: number[]): number[] {
  const mapped =
    bytes.length === 16 &&
    bytes.slice(0, 10).every((b) => b === 0) &&
    bytes[10] === 0xff &&
    bytes[11] === 0xff;
  return mapped ? bytes.slice(12) : bytes;
}

/** The bytes of an address: 4 for IPv4 (and IPv4-mapped IPv6), 16 for IPv6. */
export function addressBytes(text: string): number[] | undefined {
  const v4 = ipv4Bytes(text);
  if (v4 !== undefined) return v4;
  const v6 = ipv6Bytes(text);
  return v6 === undefined ? undefined : unmapIpv4(v6);
}
