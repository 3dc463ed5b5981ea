/** Positions in a CESQL expression and the parse error that names them. */
import { JunctionError } from '../errors.ts';

/** Where something is in an expression: `offset` from 0, `line` and `column` from 1 (UTF-16 code units). */
export interface SourcePosition {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
}

export function positionOf(source: string, offset: number): SourcePosition {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, source.length);
  for (let i = 0; i < end; i += 1) {
    if (source.charCodeAt(i) === 10) {
      line += 1;
      lineStart = i + 1;
    }
  }
  return { offset, line, column: offset - lineStart + 1 };
}

/**
 * A CESQL parse error: a JunctionError `InvalidFilter` whose message names the line and column and whose
 * `details.position` holds the offset, line and column.
 */
export function parseError(source: string, offset: number, message: string, path = 'filter'): JunctionError {
  const position = positionOf(source, offset);
  return new JunctionError(
    'InvalidFilter',
    `CESQL parse error at line ${position.line}, column ${position.column}: ${message}`,
    { path, details: { position } },
  );
}
