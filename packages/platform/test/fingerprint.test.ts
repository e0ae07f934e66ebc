import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ERROR_FINGERPRINT_ATTRIBUTE, errorFingerprint, errorSignature, normaliseText, withErrorFingerprint } from '../src/fingerprint.js';

const python = (root: string, line: number, msg: string) => `Traceback (most recent call last):
  File "${root}/app/orders/service.py", line 88, in place_order
    charge(order)
  File "${root}/app/billing/charge.py", line ${line}, in charge
    raise PaymentError(f"card declined for order {order.id}")
  File "/usr/lib/python3.11/site-packages/requests/api.py", line 59, in request
    return session.request(method=method, url=url, **kwargs)
billing.PaymentError: ${msg}`;

const java = (host: string) => `java.lang.IllegalStateException: pool exhausted for ${host} at 0x7f3a9c001234
\tat com.acme.orders.Repository.save(Repository.java:120)
\tat com.acme.orders.Service.place(Service.java:45)
\tat java.base/java.lang.Thread.run(Thread.java:833)`;

const node = (path: string) => `TypeError: Cannot read properties of undefined (reading 'id')
    at handler (${path}/src/routes/orders.js:42:17)
    at Layer.handle (${path}/node_modules/express/lib/router/layer.js:95:5)
    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)`;

describe('error fingerprints', () => {
  it('the same bug on many hosts (other paths, ids, messages) is one fingerprint', () => {
    const a = errorFingerprint({ body: python('/srv/releases/1.2.3', 17, 'card declined for order 1001'), attributes: {} });
    const b = errorFingerprint({ body: python('/opt/app-7f3a9c', 17, 'card declined for order 2002'), attributes: {} });
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(a).toBe(b);
    expect(errorFingerprint({ body: java('db-1'), attributes: {} })).toBe(errorFingerprint({ body: java('db-2'), attributes: {} }));
    expect(errorFingerprint({ body: node('/home/a'), attributes: {} })).toBe(errorFingerprint({ body: node('/var/www/b'), attributes: {} }));
  });

  it('two different bugs are two: another line, another type, another frame', () => {
    const a = errorFingerprint({ body: python('/srv', 17, 'x'), attributes: {} });
    expect(errorFingerprint({ body: python('/srv', 18, 'x'), attributes: {} })).not.toBe(a);
    expect(errorFingerprint({ body: python('/srv', 17, 'x').replace('billing.PaymentError', 'billing.TimeoutError'), attributes: {} })).not.toBe(a);
    expect(errorFingerprint({ body: java('h').replace('Service.place', 'Service.cancel'), attributes: {} })).not.toBe(errorFingerprint({ body: java('h'), attributes: {} }));
  });

  it('takes the in-app frames nearest the error, the type from the traceback', () => {
    expect(errorSignature({ body: python('/srv', 17, 'x'), attributes: {} })).toEqual({
      type: 'billing.PaymentError',
      frames: ['charge.py:charge:17', 'service.py:place_order:88'],
      message: 'x',
    });
    expect(errorSignature({ body: java('h'), attributes: {} })!.frames).toEqual(['Repository.java:Repository.save:120', 'Service.java:Service.place:45']);
    expect(errorSignature({ body: node('/a'), attributes: {} })!.frames).toEqual(['orders.js:handler:42']);
  });

  it('uses exception.* attributes when the record has them', () => {
    const attrs = { 'exception.type': 'KeyError', 'exception.message': "'user 42'", 'exception.stacktrace': python('/srv', 17, 'x') };
    expect(errorSignature({ body: 'failed', attributes: attrs })).toMatchObject({ type: 'KeyError', message: '<str>' });
  });

  it('a classified line without frames: its category and the message with numbers and ids blanked', () => {
    const a = errorFingerprint({ body: 'could not connect to server at 10.0.0.5:5432 after 3 attempts', attributes: { 'vigil.category': 'database_connection' } });
    const b = errorFingerprint({ body: 'could not connect to server at 10.0.0.9:5432 after 5 attempts', attributes: { 'vigil.category': 'database_connection' } });
    expect(a).toBe(b);
    expect(errorFingerprint({ body: 'cache down', attributes: { 'vigil.category': 'database_connection' } })).not.toBe(a);
  });

  it('a plain record is not an error; a fingerprint already there is kept', () => {
    expect(errorFingerprint({ body: 'user logged in', attributes: {} })).toBeUndefined();
    expect(errorFingerprint({ body: 'x', attributes: { [ERROR_FINGERPRINT_ATTRIBUTE]: 'abc' } })).toBe('abc');
    const plain = { a: '1' };
    expect(withErrorFingerprint(plain, 'hello')).toBe(plain);
    expect(withErrorFingerprint({ 'exception.type': 'E' }, 'x')[ERROR_FINGERPRINT_ATTRIBUTE]).toMatch(/^[0-9a-f]{16}$/);
  });

  it('normalising is stable: normalising twice changes nothing (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        expect(normaliseText(normaliseText(s))).toBe(normaliseText(s));
      }),
    );
  });
});
