/** JSON parsing that reports bad input as a JunctionError (`InvalidJson`, with the position) instead of a SyntaxError. */
import { JunctionError } from '../errors.ts';
import { decodeUtf8 } from './utf8.ts';

/** Parses JSON text; throws `InvalidJson` naming the position (and `field`, when given). */
export function parseJson(text: string, what = 'body', field?: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const match = /at position (\d+)/.exec(message);
    const position =
      match !== null ? Number(match[1]) : message.includes('end of JSON') ? text.length : undefined;
    const where = position === undefined ? '' : ` at position ${position}`;
    const reason = text.trim() === '' ? 'is empty' : `is not valid JSON${where}: ${message}`;
    return throwInvalidJson(`${what} ${reason}`, position, field);
  }
}

/** Decodes UTF-8 bytes (a leading BOM is dropped) and parses them as JSON. */
export function parseJsonBytes(bytes: Uint8Array, what = 'body', field?: string): unknown {
  const text = decodeUtf8(bytes, true);
  if (text === undefined) throwInvalidJson(`${what} is not valid UTF-8`, undefined, field);
  return parseJson(text, what, field);
}

function throwInvalidJson(message: string, position: number | undefined, field: string | undefined): never {
  throw new JunctionError('InvalidJson', message, {
    ...(field === undefined ? {} : { field }),
    ...(position === undefined ? {} : { details: { position } }),
  });
}
