/** Reading Linux's /proc `stat` files (proc(5)): a process's, or a thread's under `task/`. */

/**
 * Field `n` (1-based, as proc(5) numbers them) of the text of a /proc `stat` file. The fields are counted after the
 * command name (field 2), which is in parentheses and may hold spaces and parentheses itself.
 */
export function statField(stat: string, n: number): number {
  return Number(statText(stat, n));
}

/** Field `n` as text (`statField` for the ones that are not numbers, such as the state, field 3), or undefined. */
export function statText(stat: string, n: number): string | undefined {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[n - 3];
}
