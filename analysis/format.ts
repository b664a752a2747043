// Number formatting shared by the verdict, the regression rules and the report texts.
/** Compact number for messages: up to 3 decimals, no trailing zeros. */
export function fmt(value: number): string {
  return Number.isFinite(value) ? String(Number(value.toFixed(3))) : String(value);
}
