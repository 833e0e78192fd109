/**
 * SQL literals of the contract's closed sets (statuses, failure codes, actors), so that SQL
 * text never types them again. Only for constants: user input always goes in parameters.
 */

const CONSTANT = /^[a-z][a-z_]*$/;

/** `'value'`: a closed-set constant as a SQL string literal. */
export function lit(value: string): string {
  if (!CONSTANT.test(value)) throw new Error(`not a closed-set constant: ${JSON.stringify(value)}`);
  return `'${value}'`;
}

/** `'a', 'b'`: closed-set constants as a list of SQL string literals (for `IN (…)`). */
export function litList(values: readonly string[]): string {
  if (values.length === 0) throw new Error("an empty list has no SQL literal");
  return values.map(lit).join(", ");
}
