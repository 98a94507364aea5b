import { contentChars, SseUsageScanner } from '../server/data/sse-usage';

// The usage scanner of relayed LLM streams: usage read from the events as they pass, whatever the chunking, and
// the content's length (for the estimate when no usage comes) counted without parsing most events.

const chunkEvent = (contents: (string | null)[]) =>
  JSON.stringify({
    id: 'c',
    object: 'chat.completion.chunk',
    choices: contents.map((content, index) => ({
      index,
      delta: content === null ? {} : { content },
      finish_reason: null,
    })),
  });

/** Strings with what JSON escapes or leaves as it is: quotes, backslashes, controls, accents, astral characters. */
const tricky = [
  '',
  'plain',
  'say "hi"',
  'a\\b\\',
  'line\nnext\ttab\u0001',
  'Grüße 世界',
  '😀 and 𝄞',
  '\u2028\u2029',
  '"content":"x"',
];

describe('SSE usage scanner', () => {
  test('counts content as String.length does, for every escape JSON uses', () => {
    for (const a of tricky)
      for (const b of tricky) {
        const event = chunkEvent([a, b]);
        expect(contentChars(event)).toBe(a.length + b.length);
      }
    expect(contentChars(chunkEvent([null]))).toBe(0);
    expect(contentChars('{"choices":[{"delta":{"content":null}}]}')).toBe(0);
  });

  test('leaves what it cannot read plainly to the parser', () => {
    expect(contentChars('{"choices":[{"delta":{"content": "spaced"}}]}')).toBeUndefined();
    expect(contentChars('{"choices":[{"delta":{"content":"cut')).toBeUndefined();
    expect(contentChars('{"logprobs":{"content":[{"token":"a"}]}}')).toBeUndefined();
  });

  test('usage and the estimate come out the same however the stream is cut into chunks', () => {
    const usage = { prompt_tokens: 5, completion_tokens: 9, total_tokens: 14 };
    const body = Buffer.from(
      tricky.map((t) => `data: ${chunkEvent([t])}\n\n`).join('') +
        `data: ${JSON.stringify({ choices: [], usage })}\n\ndata: [DONE]\n\n`,
    );
    const withoutUsage = Buffer.from(
      tricky.map((t) => `data: ${chunkEvent([t])}\n\n`).join('') +
        'data: {"choices":[{"delta":{"content": "12345678"}}]}\n',
    );
    const chars = tricky.reduce((n, t) => n + t.length, 0) + 8;
    for (let cut = 1; cut < body.length; cut += 7) {
      const kept = new SseUsageScanner(true);
      const plain = new SseUsageScanner();
      for (const s of [kept, plain]) {
        s.push(body.subarray(0, cut));
        s.push(body.subarray(cut));
        expect(s.usage()).toEqual(usage);
      }
      expect(kept.content()).toBe(tricky.join(''));
    }
    for (let cut = 1; cut < withoutUsage.length; cut += 5) {
      const s = new SseUsageScanner();
      s.push(withoutUsage.subarray(0, cut));
      s.push(withoutUsage.subarray(cut));
      expect(s.usage()).toEqual({ prompt_tokens: 0, completion_tokens: Math.ceil(chars / 4) });
    }
  });
});
