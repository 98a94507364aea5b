import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { testDialects } from './support/databases';
import { created, setupTenant, type TenantSetup } from './support/fixtures';
import { startDataPlane, startTestGateway, until, type TestGateway } from './support/gateway';

/**
 * Guardrails `on: response` on streamed LLM answers (issue 15), through the official openai client: a redaction
 * catches a match split across chunks, a block refuses a short answer with the same 403 as a non-streamed one and
 * ends a long one with an error event, a SHADOW guardrail records what it would have done, usage is recorded, and
 * a stream no answer guardrail covers is relayed byte for byte as before.
 */

/** An OpenAI-compatible upstream streaming the content parts of the test's choosing, one write (and tick) each. */
class ScriptedLlm {
  parts: string[] = [];
  /** The exact bytes of the last stream. */
  sent = '';
  aborted = false;
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        const parts = this.parts;
        if (!JSON.parse(raw).stream) {
          const message = { role: 'assistant', content: parts.join('') };
          const answer = {
            id: 'c1',
            object: 'chat.completion',
            choices: [{ index: 0, message, finish_reason: 'stop' }],
          };
          return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
        }
        const event = (choice: object, extra: object = {}) =>
          `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [choice], ...extra })}\n\n`;
        const events = [
          event({ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }),
          ...parts.map((content) => event({ index: 0, delta: { content }, finish_reason: null })),
          event({ index: 0, delta: {}, finish_reason: 'stop' }),
          `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [], usage: { prompt_tokens: 7, completion_tokens: 11, total_tokens: 18 } })}\n\n`,
          'data: [DONE]\n\n',
        ];
        this.sent = events.join('');
        this.aborted = false;
        res.on('close', () => !res.writableFinished && (this.aborted = true));
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        let i = 0;
        const next = () => {
          if (res.destroyed) return;
          if (i === events.length) return void res.end();
          res.write(events[i++]);
          setTimeout(next, 2); // separate writes: the gateway sees the parts as separate chunks
        };
        next();
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}

describe.each(testDialects())('policies: guardrails on streamed answers (%s)', (dialect) => {
  let t: TestGateway;
  let data: Awaited<ReturnType<typeof startDataPlane>>;
  let llm: ScriptedLlm;
  let llmUrl: string;
  const client = (apiKey: string) => new OpenAI({ apiKey, baseURL: `${data.url}/v1`, maxRetries: 0 });
  const hi = [{ role: 'user' as const, content: 'hi' }];

  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    llm = new ScriptedLlm();
    llmUrl = await llm.start();
    data = await startDataPlane(t);
  });
  afterAll(async () => {
    await data?.close();
    await llm?.stop();
    await t?.close();
  });

  const llmTenant = () =>
    setupTenant(t, {
      credential: 'openai',
      route: { model_pattern: 'gpt*', providers: [{ provider: 'openai', base_url: llmUrl }] },
    });
  const guardrail = async (s: TenantSetup, rules: string, status = 'ACTIVE') => {
    const p = await created(t, '/v1/admin/policies', {
      tenant_id: s.tenantId,
      name: 'g',
      type: 'guardrail',
      body: rules,
    });
    const res = await t.api('POST', `/v1/admin/policies/${p.id}/status?tenant_id=${s.tenantId}`, { status });
    expect(res.status).toBe(200);
    await until(() => t.gateway.snapshot.get('policy', p.id, s.tenantId)?.status === status);
    return p;
  };
  /** The streamed answer's content deltas, as the openai client hands them over. */
  const streamed = async (key: string) => {
    const deltas: string[] = [];
    const stream = await client(key).chat.completions.create({ model: 'gpt-4o', stream: true, messages: hi });
    for await (const chunk of stream) {
      const d = chunk.choices[0]?.delta?.content;
      if (d) deltas.push(d);
    }
    return deltas;
  };
  const rawStream = (key: string) =>
    fetch(`${data.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: hi }),
    });
  const usageRows = async (tenantId: string) => {
    await data.app.dataPlane.usage.flush();
    return t.gateway.db.selectFrom('usage_records').selectAll().where('tenant_id', '=', tenantId).execute();
  };
  const logRows = async (tenantId: string) => {
    await data.app.dataPlane.requestLogs.flush();
    return t.gateway.db.selectFrom('request_logs').selectAll().where('tenant_id', '=', tenantId).execute();
  };
  const SECRET = 'rules:\n  - pattern: "sk-[a-z0-9]{6,}"\n    on: response\n    action: redact\n';

  test('a redaction catches a match split across chunks; a long answer still streams in several deltas', async () => {
    const s = await llmTenant();
    await guardrail(s, SECRET);
    llm.parts = ['Your key: s', 'k-ab', 'cdef', '12', '3 and more'];
    expect((await streamed(s.key)).join('')).toBe('Your key: [REDACTED] and more');

    const filler = 'lorem ipsum '.repeat(40); // 480 characters: more than the tail held back
    llm.parts = [...filler.match(/.{1,24}/g)!, 'then sk-zz', 'yyxx99', ' ', ...filler.match(/.{1,24}/g)!];
    const deltas = await streamed(s.key);
    expect(deltas.join('')).toBe(`${filler}then [REDACTED] ${filler}`);
    expect(deltas.length).toBeGreaterThan(2); // released as it comes, not collected into one
    // recorded when the upstream has ended, which the client need not wait for
    await until(async () => (await usageRows(s.tenantId)).length === 2);
    expect((await usageRows(s.tenantId))[0]).toMatchObject({ input_tokens: 7, output_tokens: 11 });
  });

  test('a block refuses a short answer with the 403 of a non-streamed one; a long one ends with an error event', async () => {
    const s = await llmTenant();
    const p = await guardrail(
      s,
      'rules:\n  - name: no-launch\n    pattern: "launch codes"\n    on: both\n    action: block\n',
    );
    llm.parts = ['the laun', 'ch codes are 42'];
    const refused = await streamed(s.key).catch((err) => err);
    expect(refused).toBeInstanceOf(OpenAI.APIError);
    expect([refused.status, refused.code]).toEqual([403, 'policy_denied']);
    expect(refused.message).toContain(`"${p.id}"`);

    llm.parts = [...'lorem ipsum '.repeat(60).match(/.{1,30}/g)!, 'launch ', 'codes!', ...Array(50).fill(' more')];
    const deltas: string[] = [];
    const stream = await client(s.key).chat.completions.create({ model: 'gpt-4o', stream: true, messages: hi });
    const ended = await (async () => {
      for await (const chunk of stream) deltas.push(chunk.choices[0]?.delta?.content ?? '');
    })().catch((err) => err);
    expect(ended).toBeInstanceOf(OpenAI.APIError);
    expect(ended.message).toContain('no-launch');
    expect(deltas.join('')).toMatch(/^(lorem ipsum )+/); // what was safe to send, was sent
    expect(deltas.join('')).not.toContain('launch');
    await until(() => llm.aborted); // the upstream is not read to its end
    const logs = await logRows(s.tenantId);
    expect(logs.map((l) => [l.status, l.error_code]).sort()).toEqual([
      [200, 'POLICY_DENIED'],
      [403, 'POLICY_DENIED'],
    ]);
    await until(async () => (await usageRows(s.tenantId)).length === 2); // spent tokens are counted (estimated from what was read)
  });

  test('a SHADOW answer guardrail lets the stream pass and records what it would have done', async () => {
    const s = await llmTenant();
    const p = await guardrail(s, 'rules:\n  - pattern: "secret"\n    on: response\n    action: block\n', 'SHADOW');
    llm.parts = ['a sec', 'ret plan'];
    expect((await streamed(s.key)).join('')).toBe('a secret plan');
    const statsOf = async () =>
      (await t.api('GET', `/v1/admin/policies/${p.id}/shadow-stats?tenant_id=${s.tenantId}`)).body;
    await until(async () => (await statsOf()).verdicts.deny === 1); // judged once the answer has ended
    const stats = await statsOf();
    expect(stats.samples[0]).toMatchObject({ verdict: 'deny', path: '/v1/chat/completions' });
    expect(stats.samples[0].reason).toMatch(/^answer: /);
    // it changes nothing of the stream: the bytes are the upstream's, relayed as they come
    expect(await (await rawStream(s.key)).text()).toBe(llm.sent);
    await until(async () => (await statsOf()).verdicts.deny === 2);
    // a non-streamed answer is judged the same way
    const plain = await client(s.key).chat.completions.create({ model: 'gpt-4o', messages: hi });
    expect(plain.choices[0]!.message.content).toBe('a secret plan');
    await until(async () => (await statsOf()).verdicts.deny === 3);
  });

  test('a stream no answer guardrail covers is relayed byte for byte (prompt-only guardrails included)', async () => {
    const s = await llmTenant();
    await guardrail(s, 'rules:\n  - pattern: "secret"\n    on: prompt\n    action: redact\n');
    llm.parts = ['an sk-abcdefgh ', 'passes'];
    expect(await (await rawStream(s.key)).text()).toBe(llm.sent);
  });
});
