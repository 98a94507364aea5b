import { OWNER_TOKEN, startTestGateway, type TestGateway } from './support/gateway';
import { slowClient } from './support/slow-client';

/** The admin port bounds how long a client may take to send its request, as the data port does. */
describe('admin port: slow clients', () => {
  let t: TestGateway;
  let port: number;
  beforeAll(async () => {
    t = await startTestGateway(
      'pglite',
      { PORTICO_HEADERS_TIMEOUT_MS: '300', PORTICO_REQUEST_TIMEOUT_MS: '600' },
      { webhooks: false },
    );
    const url = await t.admin.listen({ host: '127.0.0.1', port: 0 });
    port = Number(new URL(url).port);
  });
  afterAll(() => t?.close());

  test.each([
    ['headers that never finish', 'GET /v1/admin/tenants HTTP/1.1\r\nHost: admin\r\n', 'x-slow: 1\r\n'],
    [
      'a body sent a byte at a time',
      `POST /v1/admin/tenants HTTP/1.1\r\nHost: admin\r\nAuthorization: Bearer ${OWNER_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`,
      ' ',
    ],
  ])('%s: cut with a 408 in the admin error shape and the connection closed', async (_name, head, drip) => {
    const answer = await slowClient(port, head, drip);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
      error: { code: 'REQUEST_TIMEOUT', message: expect.any(String), details: [] },
    });
    expect((await t.api('GET', '/v1/admin/tenants')).body.data).toEqual([]);
  });
});
