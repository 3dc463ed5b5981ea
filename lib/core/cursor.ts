/** Opaque page cursors: a JSON array of positions, base64url-encoded; a cursor that does not decode is `InvalidRequest`. */
import { invalidRequest } from './errors.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
/** Cursors are small; a longer one is not ours. */
const MAX_CURSOR = 4096;

function toBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** Encodes a position (JSON values) as an opaque cursor. */
export function encodeCursor(position: readonly unknown[]): string {
  return toBase64Url(encoder.encode(JSON.stringify(position)));
}

/**
 * Decodes a cursor made by `encodeCursor`, checking each element's type (`'string'` or `'number'`); anything else
 * is `InvalidRequest` naming `field`.
 */
export function decodeCursor(
  cursor: string,
  types: ReadonlyArray<'string' | 'number'>,
  field = 'cursor',
): unknown[] {
  const bad = () => invalidRequest(`${field} is not a cursor this list answered; start without it`, field);
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > MAX_CURSOR) throw bad();
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(fromBase64Url(cursor)));
  } catch {
    throw bad();
  }
  if (!Array.isArray(value) || value.length !== types.length) throw bad();
  value.forEach((v, i) => {
    if (typeof v !== types[i] || (typeof v === 'number' && !Number.isFinite(v))) throw bad();
  });
  return value;
}
