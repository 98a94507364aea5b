/** OpenAI's token counts. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}

/**
 * Reads `usage` out of an SSE stream as it passes, without holding the stream: the last `data:` event carrying usage
 * wins; if none does (the client disconnected early), completion tokens are estimated from the content seen (4 chars ≈ 1 token).
 */
export class SseUsageScanner {
  private buffer = '';
  private decoder = new TextDecoder();
  private found: Usage | undefined;
  private contentChars = 0;
  /** The first choice's content, kept only when asked for (a registered output schema checks it at the end). */
  private kept: string[] | undefined;

  constructor(keepContent = false) {
    if (keepContent) this.kept = [];
  }

  push(chunk: Uint8Array): void {
    const text = this.buffer + this.decoder.decode(chunk, { stream: true });
    let start = 0;
    let nl: number;
    while ((nl = text.indexOf('\n', start)) >= 0) {
      const line = text.slice(start, nl).trim();
      start = nl + 1;
      if (line.startsWith('data:')) this.event(line.slice(5).trim());
    }
    this.buffer = text.slice(start);
  }

  private event(data: string): void {
    if (data === '[DONE]') return;
    // most events are content deltas, counted without parsing them; usage, kept content and any event this does
    // not read plainly are parsed
    if (!this.kept && !data.includes('"usage"')) {
      const chars = contentChars(data);
      if (chars !== undefined) return void (this.contentChars += chars);
    }
    try {
      const event = JSON.parse(data) as { usage?: Usage; choices?: { delta?: { content?: string } }[] };
      if (event.usage) this.found = event.usage;
      for (const c of event.choices ?? []) this.contentChars += c.delta?.content?.length ?? 0;
      const first = event.choices?.[0]?.delta?.content;
      if (this.kept && typeof first === 'string') this.kept.push(first);
    } catch {
      // not JSON: not ours to judge, it is passed through as is
    }
  }

  /** The first choice's content, when the scanner was asked to keep it. */
  content(): string | undefined {
    return this.kept?.join('');
  }

  usage(): Usage | undefined {
    if (this.found) return this.found;
    return this.contentChars ? { prompt_tokens: 0, completion_tokens: Math.ceil(this.contentChars / 4) } : undefined;
  }
}

const CONTENT = '"content":';

/**
 * The length (in UTF-16 units, as `String.length` counts) of every `"content":"…"` string of an event in compact
 * JSON, read without parsing it; undefined when a `content` is anything else (spaced, an array), to be parsed.
 * `"content":` cannot occur inside a JSON string: a quote there is escaped.
 */
export function contentChars(data: string): number | undefined {
  let total = 0;
  for (let at = data.indexOf(CONTENT); at >= 0; at = data.indexOf(CONTENT, at)) {
    let i = at + CONTENT.length;
    if (data.startsWith('null', i)) {
      at = i;
      continue;
    }
    if (data.charCodeAt(i) !== 34) return undefined; // not a string right after the colon
    for (i++; i < data.length; i++) {
      const c = data.charCodeAt(i);
      if (c === 34) break; // the closing quote
      if (c === 92) i += data.charCodeAt(i + 1) === 117 ? 5 : 1; // \uXXXX or \n, \" …: one unit
      total++;
    }
    if (i >= data.length) return undefined; // unterminated: let the parser judge it
    at = i;
  }
  return total;
}
