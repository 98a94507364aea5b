import pino from 'pino';
import { Writable } from 'node:stream';
import { LazyChildLogger } from '../server/lib/lazy-logger';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write: (chunk, _enc, done) => (
      lines.push(
        ...String(chunk)
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l)),
      ),
      done()
    ),
  });
  return { lines, parent: pino({ level: 'info' }, stream) };
}

describe('LazyChildLogger', () => {
  test('makes no child for a level that is off, and binds the request id when it logs', () => {
    const { lines, parent } = capture();
    const childOf = jest.spyOn(parent, 'child');
    const log = new LazyChildLogger(parent, { reqId: 'req_1' }, {});
    log.debug('hidden');
    log.trace({ a: 1 }, 'hidden');
    expect(childOf).not.toHaveBeenCalled();
    expect(log.level).toBe('info');

    log.warn({ upstream: 'x' }, 'slow');
    log.info('done');
    expect(childOf).toHaveBeenCalledTimes(1);
    expect(lines).toEqual([
      expect.objectContaining({ reqId: 'req_1', upstream: 'x', msg: 'slow', level: 40 }),
      expect.objectContaining({ reqId: 'req_1', msg: 'done', level: 30 }),
    ]);
  });

  test("its children carry both bindings, and a level set on it is the child's own", () => {
    const { lines, parent } = capture();
    const log = new LazyChildLogger(parent, { reqId: 'req_2' }, {});
    log.child({ step: 'auth' }).info('checked');
    log.level = 'debug';
    log.debug('now shown');
    expect(parent.level).toBe('info');
    expect(lines).toEqual([
      expect.objectContaining({ reqId: 'req_2', step: 'auth', msg: 'checked' }),
      expect.objectContaining({ reqId: 'req_2', msg: 'now shown', level: 20 }),
    ]);
  });
});
