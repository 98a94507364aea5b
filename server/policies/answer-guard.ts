import { ApiError } from '../errors';
import type { CompiledGuardRule, CompiledPolicy } from './compile';

/**
 * ACTIVE guardrails `on: response` (or both) applied to LLM answers: a non-streamed answer's message texts, and a
 * streamed answer's content deltas as they pass.
 *
 * Streams: each choice's text is held back by a bounded tail of HELD_CHARS characters before it is sent, rather
 * than the whole answer being collected first. Why: collecting would turn every guarded stream into one late answer
 * (the first token only after the last), while a tail keeps it a stream, at most HELD_CHARS characters behind the
 * upstream. What a tail gives up: a match longer than HELD_CHARS is caught only if it lies wholly inside what is
 * held (a pattern written as `[a-z]+@` matching a 300-character word could slip through at a boundary); matches of
 * up to HELD_CHARS characters (keys, card numbers, e-mail addresses, words) are caught even when split across any
 * number of chunks. Text is cut for sending only outside a redaction match, so a replacement is never half sent.
 */

/** Characters of each choice's answer a guarded stream holds back (the longest match it is sure to see whole). */
export const HELD_CHARS = 256;

/** The refusal of a blocking guardrail matching an answer: the same for streamed and non-streamed answers. */
export const answerBlocked = (p: CompiledPolicy, g: CompiledGuardRule) =>
  new ApiError(
    'POLICY_DENIED',
    `Policy "${p.id}" (guardrail) refused the request: guardrail "${g.name}" matched the answer: blocked`,
  );

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** One rule on answers, with its policy (for the refusal's name). */
interface AnswerRule {
  policy: CompiledPolicy;
  rule: CompiledGuardRule;
}

function answerRules(policies: readonly CompiledPolicy[], action: 'block' | 'redact'): AnswerRule[] {
  return policies.flatMap((policy) =>
    policy.guards!.filter((g) => g.on !== 'prompt' && g.action === action).map((rule) => ({ policy, rule })),
  );
}

const redactWith = (rules: AnswerRule[], text: string) =>
  rules.reduce((t, { rule }) => rule.regex.replaceAll(t, rule.replacement), text);

/** The message objects of a chat completion answer whose `content` is text (`choices[].message`). */
export function answerMessages(answer: Record<string, unknown>): Record<string, unknown>[] {
  const choices = Array.isArray(answer.choices) ? answer.choices : [];
  return choices.flatMap((c) => {
    const m = isRecord(c) ? c.message : undefined;
    return isRecord(m) && typeof m.content === 'string' ? [m] : [];
  });
}

/**
 * A non-streamed answer (JSON text of an object) through the ACTIVE answer guardrails: throws the refusal of a
 * blocking rule, else returns the text with redactions (the upstream's own text when nothing changed).
 */
export function guardAnswerText(active: readonly CompiledPolicy[], text: string, answer: Record<string, unknown>) {
  const messages = answerMessages(answer);
  for (const { policy, rule } of answerRules(active, 'block'))
    if (messages.some((m) => rule.regex.test(m.content as string))) throw answerBlocked(policy, rule);
  const redacts = answerRules(active, 'redact');
  let changed = false;
  for (const m of messages) {
    const redacted = redactWith(redacts, m.content as string);
    if (redacted !== m.content) [m.content, changed] = [redacted, true];
  }
  return changed ? JSON.stringify(answer) : text;
}

/**
 * A streamed answer (server-sent events) through the ACTIVE answer guardrails, chunk by chunk: content deltas are
 * held back by a tail per choice (see above), redacted, and sent on in the same events; a blocking match throws its
 * refusal. Nothing is sent until the first content is released, so a short answer that is refused gets the same
 * 403 as a non-streamed one. Events other than chat completion chunks pass as they are.
 */
export class StreamGuard {
  private readonly blocks: AnswerRule[];
  private readonly redacts: AnswerRule[];
  private readonly held = new Map<number, string>();
  /** Every choice's whole text, kept only for SHADOW guardrails (they judge the answer at its end). */
  private readonly whole: Map<number, string> | undefined;
  private readonly decoder = new TextDecoder();
  private lines = '';
  /** What is ready to send but waits for the first released content. */
  private waiting: string | undefined = '';
  private contentSent = false;
  /** The last chunk event, whose id, model and created a flushed remainder repeats. */
  private last: Record<string, unknown> = {};

  constructor(active: readonly CompiledPolicy[], keepWhole: boolean) {
    this.blocks = answerRules(active, 'block');
    this.redacts = answerRules(active, 'redact');
    if (keepWhole) this.whole = new Map();
  }

  /** Upstream bytes in; the event text to send now out ('' while held). Throws a blocking guardrail's refusal. */
  push(chunk: Uint8Array): string {
    this.lines += this.decoder.decode(chunk, { stream: true });
    let out = '';
    let nl: number;
    while ((nl = this.lines.indexOf('\n')) >= 0) {
      out += this.line(this.lines.slice(0, nl));
      this.lines = this.lines.slice(nl + 1);
    }
    return this.release(out);
  }

  /** The upstream ended: what is still held (checked and redacted), then an unterminated last line. */
  finish(): string {
    let out = this.flushEvent();
    if (this.lines) out += this.line(this.lines).replace(/\n$/, '');
    this.lines = '';
    const rest = (this.waiting ?? '') + out;
    this.waiting = undefined;
    return rest;
  }

  /** Whether anything was released to the client yet. */
  get started(): boolean {
    return this.waiting === undefined;
  }

  /** Each choice's whole text seen so far (for SHADOW guardrails); empty unless asked to keep it. */
  texts(): string[] {
    return [...(this.whole?.values() ?? [])];
  }

  /** Output waits until the first content is sent with it; from then on it goes as it comes. */
  private release(out: string): string {
    if (this.waiting === undefined) return out;
    this.waiting += out;
    if (!this.contentSent) return '';
    const all = this.waiting;
    this.waiting = undefined;
    return all;
  }

  private line(line: string): string {
    const text = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (!text.startsWith('data:')) return `${line}\n`;
    const data = text.slice(5).trim();
    if (data === '[DONE]') return `${this.flushEvent()}${line}\n`;
    let event: unknown;
    try {
      event = JSON.parse(data);
    } catch {
      return `${line}\n`; // not JSON: not ours to judge
    }
    if (!isRecord(event) || !Array.isArray(event.choices)) return `${line}\n`;
    this.last = event;
    for (const c of event.choices) {
      if (!isRecord(c)) continue;
      const delta = isRecord(c.delta) ? c.delta : undefined;
      const content = typeof delta?.content === 'string' ? delta.content : undefined;
      const final = c.finish_reason !== null && c.finish_reason !== undefined;
      if (content === undefined && !final) continue;
      const sent = this.take(typeof c.index === 'number' ? c.index : 0, content ?? '', final);
      if (delta && (content !== undefined || sent)) delta.content = sent;
      else if (sent) c.delta = { content: sent };
    }
    return `data: ${JSON.stringify(event)}\n`;
  }

  /** Adds a choice's new text; returns what of it may be sent now (all of it at the choice's end). */
  private take(index: number, text: string, final: boolean): string {
    if (this.whole) this.whole.set(index, (this.whole.get(index) ?? '') + text);
    const raw = (this.held.get(index) ?? '') + text;
    for (const { policy, rule } of this.blocks) if (rule.regex.test(raw)) throw answerBlocked(policy, rule);
    let cut = final ? raw.length : this.safeCut(raw);
    if (cut <= 0) {
      this.held.set(index, raw);
      return '';
    }
    if (cut < raw.length && /[\ud800-\udbff]/.test(raw[cut - 1]!)) cut--; // never split a surrogate pair
    this.held.set(index, raw.slice(cut));
    if (final) this.held.delete(index);
    const sent = redactWith(this.redacts, raw.slice(0, cut));
    if (sent) this.contentSent = true;
    return sent;
  }

  /** Where to cut: HELD_CHARS before the end, moved back to the start of any redaction match across it. */
  private safeCut(raw: string): number {
    let cut = raw.length - HELD_CHARS;
    for (let moved = true; moved && cut > 0;) {
      moved = false;
      for (const { rule } of this.redacts)
        for (const [start, end] of rule.regex.spans(raw)) if (start < cut && end > cut) [cut, moved] = [start, true];
    }
    return cut;
  }

  /** A chunk event carrying every choice's held text, before `[DONE]` or the stream's end ('' when none is held). */
  private flushEvent(): string {
    const choices = [...this.held.keys()].flatMap((index) => {
      const sent = this.take(index, '', true);
      return sent ? [{ index, delta: { content: sent }, finish_reason: null }] : [];
    });
    if (!choices.length) return '';
    const { id, object, created, model } = this.last;
    return `data: ${JSON.stringify({ id, object: object ?? 'chat.completion.chunk', created, model, choices })}\n\n`;
  }
}
