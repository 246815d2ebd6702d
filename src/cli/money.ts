/** Prices are typed as amounts ("9.90") and kept as whole cents everywhere else (shown by client/units.ts formatCents). */
export function toCents(amount: string | number, option: string): number {
  const text = String(amount).trim();
  if (!/^\d+(\.\d{1,2})?$/.test(text)) throw new Error(`--${option} must be an amount like 9.90, got "${text}"`);
  const [whole, fraction = ''] = text.split('.');
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
}
