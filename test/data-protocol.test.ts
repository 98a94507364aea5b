import { request as httpRequest } from 'node:http';
import { testDialects } from './support/databases';
import { OWNER_TOKEN, startDataPlane, startTestGateway, until, type TestGateway } from './support/gateway';
import { MockHttp, type SeenRequest } from './support/mock-http';
import { MockLlm } from './support/mock-llm';
import { slowClient as slowClientTo } from './support/slow-client';

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

/** Small data-port timeouts, so that the tests of slow clients end quickly. */
const HEADERS_TIMEOUT_MS = 300;
const REQUEST_TIMEOUT_MS = 600;

describe.each(testDialects())('data-plane protocol (%s)', (dialect) => {
  let t: TestGateway;
  let data: Awaited<ReturnType<typeof startDataPlane>>;
  let backend: MockHttp;
  let backendUrl: string;
  let llm: MockLlm;
  let llmUrl: string;
  let key: string;
  let keyId: string;
  const port = () => Number(new URL(data.url).port);

  /** A request through node:http, which sends the path exactly as given (fetch would resolve dot segments first). */
  const raw = (path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) =>
    new Promise<Answer>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: port(), path, method: init.method ?? 'GET', headers: init.headers },
        (res) => {
          let body = '';
          res
            .on('data', (c) => (body += c))
            .on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        },
      );
      req.on('error', reject).end(init.body);
    });

  /** A POST that sends `Expect: 100-continue` and its body only once the gateway has said 100 Continue. */
  const expectContinue = (path: string, body: Buffer) =>
    new Promise<Answer & { continued: boolean }>((resolve, reject) => {
      let continued = false;
      const headers = {
        expect: '100-continue',
        'content-type': 'application/octet-stream',
        'content-length': String(body.length),
      };
      const req = httpRequest({ host: '127.0.0.1', port: port(), path, method: 'POST', headers }, (res) => {
        let text = '';
        res
          .on('data', (c) => (text += c))
          .on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text, continued }));
      });
      req.on('continue', () => {
        continued = true;
        req.end(body);
      });
      req.on('error', reject);
      req.flushHeaders();
    });

  const slowClient = (head: string, drip: string) => slowClientTo(port(), head, drip);

  const requestLog = async (requestId: string) => {
    await data.app.dataPlane.requestLogs.flush();
    const rows = await t.gateway.db
      .selectFrom('request_logs')
      .selectAll()
      .where('request_id', '=', requestId)
      .execute();
    return rows[0];
  };
  const metrics = async () =>
    (await t.admin.inject({ url: '/metrics', headers: { authorization: `Bearer ${OWNER_TOKEN}` } })).body;
  const route = async (body: Record<string, unknown>) => {
    const res = await t.api('POST', '/v1/admin/routes', body);
    expect(res.status).toBe(201);
    await until(() => !!t.gateway.snapshot.get('route', res.body.id));
  };

  beforeAll(async () => {
    t = await startTestGateway(
      dialect,
      {
        PORTICO_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
        PORTICO_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      },
      { webhooks: false },
    );
    backend = new MockHttp();
    backendUrl = await backend.start();
    llm = new MockLlm();
    llmUrl = await llm.start();
    data = await startDataPlane(t);
    await t.api('POST', '/v1/admin/tenants', { id: 'acme', name: 'Acme' });
    const k = (await t.api('POST', '/v1/admin/tenants/acme/keys', { name: 'prod' })).body;
    key = k.key;
    keyId = k.id;
    await until(() => !!t.gateway.snapshot.get('api_key', keyId));
    await t.api('POST', '/v1/admin/credentials', { provider: 'openai', api_key: 'sk-upstream-global' });
    // global routes (set by the platform, which may point them anywhere)
    await route({
      id: 'docs',
      path_prefix: '/docs',
      backend_url: `${backendUrl}/tenants/ta`,
      strip_prefix: true,
      auth_required: false,
    });
    const breaker = { failure_threshold: 1, cooldown_ms: 60_000 };
    await route({
      id: 'upload',
      path_prefix: '/upload',
      backend_url: backendUrl,
      auth_required: false,
      circuit_breaker: breaker,
    });
    await route({ id: 'keyed', path_prefix: '/keyed', backend_url: backendUrl });
    await route({ id: 'gpt', model_pattern: 'gpt*', providers: [{ provider: 'openai', base_url: llmUrl }] });
    await route({
      id: 'junk',
      model_pattern: 'junk-*',
      providers: [{ provider: 'openai', base_url: llmUrl }],
      circuit_breaker: { failure_threshold: 2, cooldown_ms: 60_000 },
    });
    await route({
      id: 'dead',
      model_pattern: 'dead-*',
      providers: [{ provider: 'openai', base_url: 'http://127.0.0.1:9/v1' }],
    });
  });
  afterAll(async () => {
    await data?.close();
    await backend?.stop();
    await llm?.stop();
    await t?.close();
  });

  test('Expect: 100-continue with a body over 1 MB is answered 100 Continue and proxied; the header is not sent on, and no breaker opens', async () => {
    const body = Buffer.alloc(1_500_000, 'x');
    for (let i = 0; i < 3; i++) {
      const before = backend.seen.length;
      const res = await expectContinue('/upload/files', body);
      expect([res.status, res.continued]).toEqual([200, true]);
      const seen = backend.seen.slice(before);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.body.length).toBe(body.length);
      expect(seen[0]!.headers.expect).toBeUndefined();
      expect(seen[0]!.headers['content-length']).toBe(String(body.length));
    }
    // the route's breaker opens at the first failure: had any of these counted, this would be a 503
    expect((await raw('/upload/after')).status).toBe(200);
    expect(await metrics()).not.toMatch(/portico_upstream_errors_total\{[^}]*\} /);
  });

  test('a client that breaks off its body is its own failure: logged as 499, never a breaker failure or an upstream error', async () => {
    const requestId = 'req-breaks-off';
    await new Promise<void>((resolve) => {
      const headers = { 'content-length': '1000000', 'x-request-id': requestId };
      const req = httpRequest({ host: '127.0.0.1', port: port(), path: '/upload/partial', method: 'POST', headers });
      req.on('error', () => resolve());
      req.write(Buffer.alloc(200_000, 'y'), () => setTimeout(() => req.destroy(), 50));
    });
    await until(async () => (await requestLog(requestId)) !== undefined);
    expect(await requestLog(requestId)).toMatchObject({ status: 499, route_id: 'upload' });
    expect((await raw('/upload/after')).status).toBe(200);
    expect(await metrics()).not.toMatch(/portico_upstream_errors_total\{[^}]*\} /);
  });

  test.each([
    ['/docs/./a', '/tenants/ta/a'],
    ['/docs/a/../b', '/tenants/ta/b'],
    ['/docs/a/%2e%2E/b', '/tenants/ta/b'],
    ['/docs/x/%2E%2E/%2e/y', '/tenants/ta/y'],
    ['//docs//a', '/tenants/ta/a'],
    ['/docs/a/.', '/tenants/ta/a/'],
    ['/docs/a/%2E', '/tenants/ta/a/'],
    ['/docs/group%2Fproject/files', '/tenants/ta/group%2Fproject/files'],
    ['/docs/.well-known/x', '/tenants/ta/.well-known/x'],
    ['/docs/a?next=/../../internal&x=%2e%2e', '/tenants/ta/a?next=/../../internal&x=%2e%2e'],
  ])('the path %s reaches the backend as %s', async (path, expected) => {
    const res = await raw(path);
    expect(res.status).toBe(200);
    expect((JSON.parse(res.body) as SeenRequest).url).toBe(expected);
  });

  test.each([
    ['/docs/../../internal', 400],
    ['/docs/%2e%2e/%2e%2e/internal', 400],
    ['/docs/%2E%2e/%2e%2E/internal', 400],
    ['/docs/..%2f..%2finternal', 400],
    ['/docs/a/..%2F..%2F..%2Finternal', 400],
    ['/docs/..%5c..%5cinternal', 400],
    ['/docs/..\\..\\internal', 400],
    ['/docs/..;/internal', 400],
    ['/docs/a/.;x/b', 400],
    ['/..', 400],
    // what is left after the dot segments is matched as such: no route serves /internal
    ['/docs/%2e%2e/internal', 404],
    ['/docs/../internal', 404],
  ])('the path %s is refused with %i and reaches no backend', async (path, status) => {
    const before = backend.seen.length;
    const res = await raw(path);
    expect(res.status).toBe(status);
    const error = JSON.parse(res.body).error;
    if (status === 400) expect(error).toMatchObject({ code: 'validation_failed', param: 'path' });
    else expect(error.code).toBe('route_not_found');
    expect(backend.seen.length).toBe(before);
  });

  test('headers that never finish are cut with a 408 and the connection closed', async () => {
    const answer = await slowClient('GET /docs/a HTTP/1.1\r\nHost: gateway\r\n', 'x-slow: 1\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error).toMatchObject({
      code: 'request_timeout',
      type: 'invalid_request_error',
    });
  });

  test.each([
    ['a small body (read whole first)', 100],
    ['a large body (streamed to the backend)', 1_000_000],
  ])(
    '%s sent a byte at a time is cut with a 408, logged as such, and counts against no breaker',
    async (_name, length) => {
      const requestId = `req-trickle-${length}`;
      const head = `POST /upload/slow HTTP/1.1\r\nHost: gateway\r\nContent-Length: ${length}\r\nX-Request-Id: ${requestId}\r\n\r\n`;
      const answer = await slowClient(head, 'z');
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(answer.toLowerCase()).toContain(`x-request-id: ${requestId}`);
      await until(async () => (await requestLog(requestId)) !== undefined);
      expect(await requestLog(requestId)).toMatchObject({
        status: 408,
        error_code: 'REQUEST_TIMEOUT',
        route_id: 'upload',
      });
      expect((await raw('/upload/after')).status).toBe(200);
    },
  );

  test('a streamed LLM answer runs well past the request timeout: only receiving the request is bounded', async () => {
    const controller = new AbortController();
    const res = await fetch(`${data.url}/v1/chat/completions`, {
      method: 'POST',
      signal: controller.signal,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'slow' }] }),
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const started = Date.now();
    let lateChunks = 0;
    try {
      // read for three request timeouts; chunks keep coming after the first two
      while (Date.now() - started < 3 * REQUEST_TIMEOUT_MS) {
        const { done } = await reader.read();
        if (done) throw new Error('the stream was cut');
        if (Date.now() - started > 2 * REQUEST_TIMEOUT_MS) lateChunks++;
      }
    } finally {
      controller.abort();
    }
    expect(lateChunks).toBeGreaterThan(0);
  });

  test('x-api-key is looked up first: a Portico key there and a backend token in Authorization both work, and only the backend token goes on', async () => {
    const res = await raw('/keyed/a', { headers: { 'x-api-key': key, authorization: 'Bearer backend-token' } });
    expect(res.status).toBe(200);
    const seen = JSON.parse(res.body) as SeenRequest;
    expect(seen.headers.authorization).toBe('Bearer backend-token');
    expect(seen.headers['x-api-key']).toBeUndefined();
    expect(res.body).not.toContain(key);

    // the other way round: the backend's own x-api-key beside the Portico key as a bearer token
    const swapped = await raw('/keyed/b', {
      headers: { 'x-api-key': 'backend-key-0001', authorization: `Bearer ${key}` },
    });
    expect(swapped.status).toBe(200);
    const seenSwapped = JSON.parse(swapped.body) as SeenRequest;
    expect(seenSwapped.headers['x-api-key']).toBe('backend-key-0001');
    expect(seenSwapped.headers.authorization).toBeUndefined();

    // two Portico keys: x-api-key decides, and neither is forwarded
    const unknown = await raw('/keyed/c', {
      headers: { 'x-api-key': 'ptc_key_not-a-real-key', authorization: `Bearer ${key}` },
    });
    expect([unknown.status, JSON.parse(unknown.body).error.message]).toEqual([401, 'Unknown API key']);
    const both = await raw('/keyed/d', {
      headers: { 'x-api-key': key, authorization: 'Bearer ptc_key_not-a-real-key', 'x-request-id': 'req-two-keys' },
    });
    expect(both.status).toBe(200);
    expect(both.body).not.toContain('ptc_key_');
    expect(await requestLog('req-two-keys')).toMatchObject({ api_key_id: keyId, tenant_id: 'acme', status: 200 });

    // the LLM proxy reads the key the same way
    const chat = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] };
    const llmRes = await raw('/v1/chat/completions', {
      method: 'POST',
      headers: { 'x-api-key': key, authorization: 'Bearer something-else', 'content-type': 'application/json' },
      body: JSON.stringify(chat),
    });
    expect(llmRes.status).toBe(200);
    expect(llm.calls.at(-1)!.headers.authorization).toBe('Bearer sk-upstream-global');
  });

  test('an upstream 200 that is not a JSON object is a 502 repeating nothing of it, and a breaker failure', async () => {
    const post = (model: string) =>
      raw('/v1/chat/completions', {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
      });
    llm.rawAnswer = '<html>Bad gateway at 10.1.2.3</html>';
    try {
      for (const answer of ['<html>Bad gateway at 10.1.2.3</html>', '["10.1.2.3"]']) {
        llm.rawAnswer = answer;
        const res = await post('junk-model');
        expect(res.status).toBe(502);
        const error = JSON.parse(res.body).error;
        expect(error).toMatchObject({
          code: 'upstream_error',
          type: 'api_error',
          message: 'Provider "openai" answered 200 with a body that is not valid JSON',
        });
        expect(res.body).not.toContain('10.1.2.3');
        expect(res.body).not.toContain(llmUrl);
      }
      // the two failures opened the route's breaker (threshold 2)
      const open = await post('junk-model');
      expect([open.status, JSON.parse(open.body).error.code]).toEqual([503, 'circuit_open']);
      expect(await metrics()).toMatch(/portico_upstream_errors_total\{[^}]*reason="invalid_body"\} 2\n/);
      // the error events (which the caller's tenant reads) name the platform's provider by its label, not its URL
      await data.app.dataPlane.errorEvents.flush();
      const events = await t.gateway.db
        .selectFrom('error_events')
        .select('upstream')
        .where('route_id', '=', 'junk')
        .where('code', '=', 'UPSTREAM_ERROR')
        .execute();
      expect(events.map((e) => e.upstream)).toEqual(['provider "openai"', 'provider "openai"']);
    } finally {
      llm.rawAnswer = undefined;
    }
    // an upstream that cannot be reached: a neutral message, no address
    const dead = await post('dead-model');
    expect(dead.status).toBe(502);
    expect(JSON.parse(dead.body).error.message).toMatch(/^Provider "openai" could not be reached: /);
    expect(dead.body).not.toContain('127.0.0.1');
  });
});
