/**
 * `gpt-4*` style patterns, as tenants write them in routes and policies: `*` matches any run of characters (also
 * none), everything else itself. Matched without a regular expression: the patterns are tenant-written, and a
 * backtracking engine takes time exponential in the number of stars on a hostile pattern and value. This walk
 * returns to the last star only, so it is at worst (pattern length × value length) steps.
 */
export function globMatch(pattern: string, value: string): boolean {
  let p = 0;
  let v = 0;
  let star = -1; // the position after the last star seen in the pattern
  let resume = 0; // where in the value that star's run would end next
  while (v < value.length) {
    if (p < pattern.length && pattern.charCodeAt(p) === 42 /* "*" */) {
      star = ++p;
      resume = v;
    } else if (p < pattern.length && pattern.charCodeAt(p) === value.charCodeAt(v)) {
      p++;
      v++;
    } else if (star >= 0) {
      p = star;
      v = ++resume;
    } else return false;
  }
  while (p < pattern.length && pattern.charCodeAt(p) === 42) p++;
  return p === pattern.length;
}
