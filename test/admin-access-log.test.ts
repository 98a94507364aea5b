import pino from 'pino';
import { OWNER_TOKEN, startTestGateway, type TestGateway } from './support/gateway';

/**
 * The admin port logs one line per request, when it is answered (method, path, status, time), not Fastify's two, and
 * never the caller's token. Logging involves no storage: one dialect is enough.
 */
describe('admin access log (pglite)', () => {
  let t: TestGateway;
  const lines: Record<string, any>[] = [];
  beforeAll(async () => {
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    t = await startTestGateway('pglite', {}, { log });
  }, 120_000);
  afterAll(() => t?.close());

  const ofRequest = (id: string) => lines.filter((l) => l.reqId === id);

  test('a write and a refused read log one line each, with what was asked and answered', async () => {
    const created = await t.admin.inject({
      method: 'POST',
      url: '/v1/admin/tenants',
      headers: { authorization: `Bearer ${OWNER_TOKEN}`, 'content-type': 'application/json', 'x-request-id': 'req_w' },
      payload: JSON.stringify({ id: 'logged', name: 'Logged' }),
    });
    expect(created.statusCode).toBe(201);
    const refused = await t.admin.inject({
      method: 'GET',
      url: '/v1/admin/tenants?limit=5',
      headers: { authorization: 'Bearer not-the-token', 'x-request-id': 'req_r' },
    });
    expect(refused.statusCode).toBe(401);
    const [write, read] = [ofRequest('req_w'), ofRequest('req_r')]; // the ids the caller sent
    expect(write).toHaveLength(1);
    expect(write[0]).toMatchObject({
      msg: 'request completed',
      req: { method: 'POST', url: '/v1/admin/tenants' },
      res: { statusCode: 201 },
    });
    expect(typeof write[0]!.responseTime).toBe('number');
    expect(read).toHaveLength(1);
    expect(read[0]).toMatchObject({
      req: { method: 'GET', url: '/v1/admin/tenants?limit=5' },
      res: { statusCode: 401 },
    });
    expect(lines.some((l) => l.msg === 'incoming request')).toBe(false);
    const text = JSON.stringify(lines);
    expect(text).not.toContain(OWNER_TOKEN);
    expect(text).not.toContain('not-the-token');
  });
});
