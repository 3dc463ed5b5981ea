/** Linear RFC 3986 checks: URI-reference (§4.1) for `source`, absolute URI (§4.3) for `dataschema`. */

const URI_CHAR = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=") {
  URI_CHAR[c.charCodeAt(0)] = 1;
}

function isAlpha(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

function isHex(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x46) || (code >= 0x61 && code <= 0x66);
}

function isSchemeChar(code: number): boolean {
  return isAlpha(code) || (code >= 0x30 && code <= 0x39) || code === 0x2b || code === 0x2d || code === 0x2e;
}

/**
 * Where the scheme's `:` is (or -1 when there is no scheme); -2 when the text before the first `:` is
 * neither a scheme nor allowed in a relative reference's first segment.
 */
function schemeEnd(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x3a) {
      if (i === 0 || !isAlpha(text.charCodeAt(0))) return -2;
      for (let j = 1; j < i; j++) if (!isSchemeChar(text.charCodeAt(j))) return -2;
      return i;
    }
    if (code === 0x2f || code === 0x3f || code === 0x23) return -1;
  }
  return -1;
}

/** Whether `text` is an RFC 3986 URI-reference (an absolute URI, or a relative one such as `/a/b` or `#x`). */
export function isUriReference(text: string): boolean {
  const end = schemeEnd(text);
  if (end === -2) return false;
  return restIsValid(text, end + 1);
}

/** Whether `text` is an absolute URI: a scheme, then the rest. A fragment is tolerated. */
export function isAbsoluteUri(text: string): boolean {
  const end = schemeEnd(text);
  if (end < 0) return false;
  return restIsValid(text, end + 1);
}

function restIsValid(text: string, start: number): boolean {
  const n = text.length;
  let authorityEnd = -1;
  if (text.charCodeAt(start) === 0x2f && text.charCodeAt(start + 1) === 0x2f) {
    authorityEnd = start + 2;
    while (authorityEnd < n) {
      const code = text.charCodeAt(authorityEnd);
      if (code === 0x2f || code === 0x3f || code === 0x23) break;
      authorityEnd++;
    }
  }
  let fragment = false;
  for (let i = start; i < n; i++) {
    const code = text.charCodeAt(i);
    if (code >= 128 || URI_CHAR[code] !== 1) {
      if (code !== 0x25 || !isHex(text.charCodeAt(i + 1)) || !isHex(text.charCodeAt(i + 2))) return false;
      i += 2;
      continue;
    }
    if (code === 0x23) {
      if (fragment) return false;
      fragment = true;
    } else if ((code === 0x5b || code === 0x5d) && i >= authorityEnd) return false;
  }
  return true;
}
