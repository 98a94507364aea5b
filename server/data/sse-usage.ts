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
    this.buffer += this.decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (!line.startsWith('data:')) continue;
      const data = line.slice(5).trim();
      if (data === '[DONE]') continue;
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
