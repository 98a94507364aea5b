import { RE2JS } from 're2js';

/**
 * Regular expressions that tenants write (guardrail patterns, JSON-schema `pattern`s) run on the shared data plane,
 * so they run on RE2's automaton (re2js), whose time grows linearly with the text, never on V8's backtracking engine:
 * there `(a|a)*$` takes 40 s on 27 characters and an innocent `[a-z]+@` 1.7 s on a 10 KB prompt. The syntax is
 * JavaScript's as RE2 takes it: no backreferences and no lookaround (refused when written, see `linearRegexProblem`).
 */
export interface LinearRegex {
  test(text: string): boolean;
  /** `text` with every match replaced by `replacement`, taken literally (no `$1`). */
  replaceAll(text: string, replacement: string): string;
  /** Where the matches are, as [start, end) offsets into `text` (UTF-16 code units, as String#slice counts). */
  spans(text: string): [number, number][];
}

export function linearRegex(pattern: string, options: { ignoreCase?: boolean } = {}): LinearRegex {
  const re = RE2JS.compile(RE2JS.translateRegExp(pattern), options.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
  return {
    test: (text) => re.test(text),
    replaceAll: (text, replacement) => re.matcher(text).replaceAll(() => replacement),
    spans: (text) => {
      const found: [number, number][] = [];
      const m = re.matcher(text);
      while (m.find()) found.push([m.start(), m.end()]);
      return found;
    },
  };
}

/** Why `pattern` cannot be a linear-time expression (RE2's own words), or undefined when it can. */
export function linearRegexProblem(pattern: string): string | undefined {
  try {
    linearRegex(pattern);
    return undefined;
  } catch (err) {
    const reason = err instanceof Error ? err.message.replace(/^error parsing regexp: /, '') : String(err);
    return `must be a regular expression without backreferences or lookaround (${reason})`;
  }
}
