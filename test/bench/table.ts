/** The result shape every benchmark answers, and a plain-text printer for it. */

export interface BenchTable {
  readonly title: string;
  readonly columns: string[];
  readonly rows: (string | number)[][];
  readonly notes?: string[];
}

function cell(value: string | number): string {
  if (typeof value === 'string') return value;
  if (Number.isInteger(value)) return String(value);
  return value >= 100 ? value.toFixed(0) : value >= 1 ? value.toFixed(2) : value.toFixed(3);
}

/** Prints a table with aligned columns to stdout. */
export function printTable(table: BenchTable): void {
  const cells = [table.columns, ...table.rows.map((row) => row.map(cell))];
  const widths = table.columns.map((_, index) => Math.max(...cells.map((row) => (row[index] ?? '').length)));
  const line = (row: string[]): string =>
    row.map((value, index) => value.padEnd(widths[index] ?? 0)).join('  ');
  const out = [`\n${table.title}`, line(cells[0] ?? []), widths.map((width) => '-'.repeat(width)).join('  ')];
  for (const row of cells.slice(1)) out.push(line(row));
  for (const note of table.notes ?? []) out.push(`  ${note}`);
  process.stdout.write(`${out.join('\n')}\n`);
}
