// How deeply nested a parsed JSON value is, found without recursion. JSON.parse accepts thousands of
// levels, but JSON.stringify, String() and the hubs' own walks recurse and overflow the stack on
// them, so bodies and frames deeper than maxJsonDepth are refused where they are read.

/** Far deeper than any real message or payload; far shallower than what overflows a stack. */
export const maxJsonDepth = 64;

export function deeperThan(value: unknown, limit: number = maxJsonDepth): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    if (depth >= limit) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) stack.push([child, depth + 1]);
  }
  return false;
}
