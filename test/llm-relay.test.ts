import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { testDialects } from './support/databases';
import { setupTenant, type TenantSetup } from './support/fixtures';
import { startDataPlane, startTestGateway, type TestGateway } from './support/gateway';

// How the LLM proxy relays what a provider answers (server/data/llm-exchange.ts): headers and bytes of a
// non-streamed answer, fail-over and pass-through of failed answers to streamed calls, answers that break off.

const hi = [{ role: 'user', content: 'hi' }];
const usage = { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 };

/** An upstream that answers each call as `answer` says, recording the bodies it was sent. */
class ScriptedUpstream {
  readonly bodies: Record<string, unknown>[] = [];
  answer: (body: Record<string, unknown>, res: ServerResponse) => void = (_b, res) => res.end();
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((req: IncomingMessage, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        const body = JSON.parse(raw) as Record<string, unknown>;
        this.bodies.push(body);
        this.answer(body, res);
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}

const completion = (content: string) =>
  JSON.stringify({
    id: 'chatcmpl-r',
    object: 'chat.completion',
    created: 1,
    model: 'gpt-r',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage,
  });

const event = (o: object) => `data: ${JSON.stringify(o)}\n\n`;
const streamOf = (text: string) =>
  event({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: text } }] }) +
  event({ id: 'c', object: 'chat.completion.chunk', choices: [], usage }) +
  'data: [DONE]\n\n';

describe.each(testDialects())('LLM relay (%s)', (dialect) => {
  let t: TestGateway;
  let data: Awaited<ReturnType<typeof startDataPlane>>;
  const first = new ScriptedUpstream();
  const second = new ScriptedUpstream();
  let urls: [string, string];
  const post = (key: string, body: unknown) =>
    fetch(`${data.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const usageOf = async (tenantId: string) => {
    await data.app.dataPlane.usage.flush();
    return t.gateway.db.selectFrom('usage_records').selectAll().where('tenant_id', '=', tenantId).execute();
  };
  /** A tenant whose route `gpt-r*` falls back from the first scripted upstream to the second. */
  const tenant = (): Promise<TenantSetup> =>
    setupTenant(t, {
      credential: 'openai',
      route: {
        model_pattern: 'gpt-r*',
        strategy: 'fallback',
        providers: urls.map((base_url) => ({ provider: 'openai', base_url })),
      },
    });

  beforeAll(async () => {
    t = await startTestGateway(dialect, {}, { webhooks: false });
    urls = [await first.start(), await second.start()];
    data = await startDataPlane(t);
  });
  afterAll(async () => {
    await data?.close();
    await first.stop();
    await second.stop();
    await t?.close();
  });

  test("a non-streamed answer goes on byte for byte with the upstream's end-to-end headers, ours first", async () => {
    const acme = await tenant();
    const body = completion('Grüße, 世界 "quoted" \\ done');
    first.answer = (_b, res) =>
      res
        .writeHead(200, {
          'content-type': 'application/json; charset=utf-8',
          'x-upstream-trace': 'abc',
          'x-request-id': 'the-upstreams-own',
          'keep-alive': 'timeout=60',
        })
        .end(body);
    const res = await post(acme.key, { model: 'gpt-r1', messages: hi });
    expect(res.status).toBe(200);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.equals(Buffer.from(body))).toBe(true);
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('x-upstream-trace')).toBe('abc');
    expect(res.headers.get('x-request-id')).not.toBe('the-upstreams-own'); // the gateway's request id wins
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect((await usageOf(acme.tenantId)).map((u) => [u.input_tokens, u.output_tokens])).toEqual([[3, 4]]);
  });

  test('an error answer to a non-streamed call passes through with its status; nothing is recorded', async () => {
    const acme = await tenant();
    first.answer = (_b, res) =>
      res.writeHead(429, { 'content-type': 'application/json' }).end('{"error":{"message":"slow down"}}');
    const res = await post(acme.key, { model: 'gpt-r1', messages: hi });
    expect([res.status, await res.text()]).toEqual([429, '{"error":{"message":"slow down"}}']);
    expect(await usageOf(acme.tenantId)).toEqual([]);
  });

  test('a streamed call whose first provider answers 5xx moves on and streams from the next, recorded once', async () => {
    const acme = await tenant();
    first.answer = (_b, res) => res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{}}');
    second.answer = (_b, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(streamOf('from the second'));
    };
    const res = await post(acme.key, { model: 'gpt-r2', messages: hi, stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const text = await res.text();
    expect(text).toContain('"content":"from the second"');
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(second.bodies.at(-1)).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect((await usageOf(acme.tenantId)).map((u) => u.output_tokens)).toEqual([4]);
  });

  test('a 4xx answer to a streamed call passes through as the error it is, not as a stream', async () => {
    const acme = await tenant();
    first.answer = (_b, res) =>
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"bad model"}}');
    const res = await post(acme.key, { model: 'gpt-r3', messages: hi, stream: true });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.text()).toBe('{"error":{"message":"bad model"}}');
  });

  test('a non-streamed answer that breaks off once begun is a 502, not handed to the next provider', async () => {
    const acme = await tenant();
    const before = second.bodies.length;
    first.answer = (_b, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
      res.write('{"id":"cut');
      setTimeout(() => res.destroy(), 20);
    };
    const res = await post(acme.key, { model: 'gpt-r4', messages: hi });
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('upstream_error');
    expect(second.bodies.length).toBe(before);
  });

  test('a 2xx that is not JSON moves on to the next provider', async () => {
    const acme = await tenant();
    first.answer = (_b, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>oops</html>');
    second.answer = (_b, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(completion('ok'));
    const res = await post(acme.key, { model: 'gpt-r5', messages: hi });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe(
      'ok',
    );
  });
  test('a stream the client reads slowly holds the upstream back (backpressure), then arrives whole', async () => {
    const acme = await tenant();
    const piece = event({
      id: 'c',
      object: 'chat.completion.chunk',
      choices: [{ index: 0, delta: { content: 'x'.repeat(4000) } }],
    });
    const count = 4000; // ~16 MB: more than the sockets between the three of us hold
    let upstreamDone = false;
    first.answer = (_b, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let i = 0;
      const more = () => {
        while (i < count) {
          i++;
          if (!res.write(piece)) return void res.once('drain', more);
        }
        res.end(streamOf(''), () => (upstreamDone = true));
      };
      more();
    };
    const res = await post(acme.key, { model: 'gpt-r6', messages: hi, stream: true });
    expect(res.status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    expect(upstreamDone).toBe(false); // held back while the client does not read
    const text = await res.text();
    expect(text.length).toBe(count * piece.length + streamOf('').length);
    expect(upstreamDone).toBe(true);
    expect((await usageOf(acme.tenantId)).map((u) => u.output_tokens)).toEqual([4]);
  });
});
