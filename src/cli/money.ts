/** Prices are typed as amounts ("9.90") and kept as whole cents everywhere else. */
export function toCents(amount: string | number, option: string): number {
  const text = String(amount).trim();
  if (!/^\d+(\.\d{1,2})?$/.test(text)) throw new Error(`--${option} must be an amount like 9.90, got "${text}"`);
  const [whole, fraction = ''] = text.split('.');
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
}

export function formatCents(cents: number): string {
  return (cents / 100).toFixed(2);
}
