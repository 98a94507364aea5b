import { compilePolicy, type CompiledPolicy } from '../server/policies/compile';
import { HELD_CHARS, StreamGuard } from '../server/policies/answer-guard';

/**
 * The stream guard on its own (server/policies/answer-guard.ts): whatever the chunking of the upstream's bytes, the
 * text a client puts together is the redacted answer, and a blocking match is found across chunks.
 */

const guardrail = (body: string): CompiledPolicy =>
  compilePolicy({
    id: 'g',
    tenant_id: 't',
    name: 'g',
    type: 'guardrail',
    target: null,
    target_id: null,
    priority: 0,
    body,
    status: 'ACTIVE',
  })!;
const REDACT = guardrail('rules:\n  - pattern: "sk-[a-z0-9]{6,}"\n    on: response\n    action: redact\n');
const BLOCK = guardrail('rules:\n  - pattern: "launch codes"\n    on: both\n    action: block\n');

const sse = (deltas: string[]) =>
  [
    ...deltas.map((content) => `data: ${JSON.stringify({ id: 'c', choices: [{ index: 0, delta: { content } }] })}\n\n`),
    `data: ${JSON.stringify({ id: 'c', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`,
    'data: [DONE]\n\n',
  ].join('');

/** Runs the bytes through a guard in chunks of `size` bytes; returns the content a client would put together. */
function relay(guard: StreamGuard, bytes: Uint8Array, size: number): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += size) out += guard.push(bytes.subarray(i, i + size));
  out += guard.finish();
  const events = out.split('\n').filter((l) => l.startsWith('data: {'));
  return events.map((l) => JSON.parse(l.slice(6)).choices[0]?.delta?.content ?? '').join('');
}

describe('stream guard', () => {
  test('a redaction is whole however the bytes are chunked (multi-byte characters too)', () => {
    const answer = `héllo 😀 ${'x'.repeat(HELD_CHARS)} key sk-abc123def and ${'y'.repeat(HELD_CHARS * 2)} sk-zzzzzz9 end`;
    const expected = answer.replace(/sk-[a-z0-9]{6,}/g, '[REDACTED]');
    const deltas = answer.match(/[\s\S]{1,7}/gu)!;
    const bytes = new TextEncoder().encode(sse(deltas));
    for (const size of [1, 2, 3, 5, 64, 4096])
      expect(relay(new StreamGuard([REDACT], false), bytes, size)).toBe(expected);
  });

  test('a blocking match across deltas throws the refusal; the whole text is kept for SHADOW judging', () => {
    const bytes = new TextEncoder().encode(sse(['the laun', 'ch', ' codes']));
    expect(() => relay(new StreamGuard([BLOCK], false), bytes, 10)).toThrow(/guardrail "rule 0" matched the answer/);
    const watcher = new StreamGuard([], true);
    expect(relay(watcher, bytes, 10)).toBe('the launch codes');
    expect(watcher.texts()).toEqual(['the launch codes']);
  });
});
