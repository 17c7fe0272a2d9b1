// Query parameters of the dm routes.

/** A whole number from a query parameter (at least `min`), or undefined when it is not one. */
export function parseSeq(raw: string, min: number): number | undefined {
  const text = raw.trim();
  if (!/^\d{1,15}$/.test(text)) return undefined;
  const value = Number(text);
  return value >= min ? value : undefined;
}
