import { describe, expect, it } from 'vitest';
import { compileRulePack } from './compile.js';
import { loadRulePack } from './load.js';

/** Multiline records (a log line and its stack trace, joined by the file plugin) are parsed like single lines. */

const NOW = Date.UTC(2024, 5, 1, 12, 0, 0);
const parser = loadRulePack('default');

describe('a multiline record', () => {
  const java = [
    '2024-01-15T10:00:05.201Z ERROR 1 --- [shop] [nio-8080-exec-3] c.e.shop.order.OrderController   : order 991 failed',
    'java.lang.IllegalStateException: order 991 is already paid',
    '\tat com.example.shop.order.OrderService.pay(OrderService.java:88) ~[classes!/:1.4.2]',
    '\tat com.example.shop.order.OrderController.pay(OrderController.java:41) ~[classes!/:1.4.2]',
  ].join('\n');

  it('Java: the first line gives severity, time and message; the rest is exception.stacktrace, with type and message', () => {
    const r = parser.parse(java, { timestamp: NOW });
    expect(r.record).toMatchObject({
      timestamp: Date.UTC(2024, 0, 15, 10, 0, 5, 201),
      severityNumber: 17,
      severityText: 'ERROR',
      body: 'order 991 failed',
      attributes: {
        'thread.name': 'nio-8080-exec-3',
        'exception.type': 'java.lang.IllegalStateException',
        'exception.message': 'order 991 is already paid',
        'exception.stacktrace': java.split('\n').slice(1).join('\n'),
        'vigil.category': 'application_error',
        'vigil.severity': 'high',
      },
    });
    expect(r.matched).toEqual(['timestamped_level_line', 'spring_boot', 'exception_line', 'exception_error']);
  });

  it('a trace caused by the database is a database connection error (the most specific line decides), counted once', () => {
    const text = [
      '[2024-01-15 10:00:09,606] ERROR in app: Exception on /orders [GET]',
      'Traceback (most recent call last):',
      '  File "/app/shop/views.py", line 31, in orders',
      '    rows = db.session.execute(q)',
      'sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server at "db" (172.18.0.3), port 5432 failed: Connection refused',
    ].join('\n');
    const r = parser.parse(text, { timestamp: NOW });
    expect(r.record.body).toBe('Exception on /orders [GET]');
    expect(r.record.severityNumber).toBe(21);
    expect(r.record.attributes).toMatchObject({ 'vigil.category': 'database_connection', 'exception.type': 'sqlalchemy.exc.OperationalError', 'code.namespace': 'app' });
    expect(r.metrics.filter((m) => m.name === 'vigil.log.errors')).toEqual([expect.objectContaining({ value: 1, attributes: { 'vigil.category': 'database_connection', 'vigil.severity': 'critical' } })]);
  });

  it('a record that is a trace from its first line: the exception is the body, the whole record the stack trace', () => {
    const text = 'Traceback (most recent call last):\n  File "/app/report.py", line 12, in <module>\nZeroDivisionError: division by zero';
    const r = parser.parse(text, { timestamp: NOW });
    expect(r.record).toMatchObject({ body: 'ZeroDivisionError: division by zero', attributes: { 'exception.stacktrace': text, 'exception.type': 'ZeroDivisionError', 'vigil.category': 'application_error' } });
  });

  it('Go panics and .NET console records', () => {
    const go = parser.parse('panic: runtime error: invalid memory address or nil pointer dereference\n\ngoroutine 1 [running]:\nmain.main()\n\t/app/main.go:12 +0x1d', { timestamp: NOW });
    expect(go.record).toMatchObject({ severityNumber: 21, attributes: { 'exception.type': 'panic', 'exception.message': 'runtime error: invalid memory address or nil pointer dereference' } });
    const net = parser.parse(
      'fail: Shop.Api.Orders[0]\n      An unhandled exception has occurred while executing the request.\n      System.InvalidOperationException: Sequence contains no elements\n         at Shop.Api.Orders.Get(Int32 id) in /src/Orders.cs:line 42',
      { timestamp: NOW },
    );
    expect(net.record).toMatchObject({
      body: 'An unhandled exception has occurred while executing the request.',
      severityText: 'fail',
      attributes: { 'exception.type': 'System.InvalidOperationException', 'exception.stacktrace': '      System.InvalidOperationException: Sequence contains no elements\n         at Shop.Api.Orders.Get(Int32 id) in /src/Orders.cs:line 42' },
    });
  });

  it('without a trace the continuation lines stay in the body, and are classified too', () => {
    const r = parser.parse('2024-01-15 10:00:00,123 ERROR [worker-1] batch 7 failed:\n    order 991: could not connect to database: connection refused', { timestamp: NOW });
    expect(r.record.body).toBe('batch 7 failed:\norder 991: could not connect to database: connection refused');
    expect(r.record.attributes).toMatchObject({ 'vigil.category': 'database_connection' });
    expect(r.record.attributes).not.toHaveProperty(['exception.stacktrace']);
  });

  it('a JSON line: its error fields are classified with its message, its own time kept over a time in its message', () => {
    const zap = parser.parse(JSON.stringify({ level: 'error', ts: 1705312802.44, msg: 'query failed', error: 'dial tcp 10.0.5.12:5432: connect: connection refused' }), { timestamp: NOW });
    expect(zap.record).toMatchObject({ severityNumber: 21, attributes: { 'exception.message': 'dial tcp 10.0.5.12:5432: connect: connection refused', 'vigil.category': 'database_connection' } });
    const docker = parser.parse(JSON.stringify({ log: '2024/01/15 10:00:00 [error] 7#7: *1 connect() failed (111: Connection refused) while connecting to upstream\n', stream: 'stderr', time: '2024-01-15T10:00:00.5Z' }), { timestamp: NOW });
    expect(docker.record).toMatchObject({ timestamp: Date.UTC(2024, 0, 15, 10, 0, 0, 500), body: 'connect() failed (111: Connection refused) while connecting to upstream', attributes: { 'log.iostream': 'stderr', 'vigil.category': 'upstream_connection' } });
  });

  it('unwrap: the rules after a wrapper see what it wraps', () => {
    const p = compileRulePack(
      {
        rules: [
          { name: 'cri', match: '^\\S+ (?:stdout|stderr) [FP] (?<message>.*)$', unwrap: true },
          { name: 'level', match: '^(?<level>[A-Z]+) (?<message>.*)$', continue: true },
        ],
      },
      'inline',
    );
    const r = p.parse('2024-01-15T10:00:00Z stderr F ERROR boom', { timestamp: NOW });
    expect(r.matched).toEqual(['cri', 'level']);
    expect(r.record).toMatchObject({ body: 'boom', severityNumber: 17 });
    expect(() => compileRulePack({ rules: [{ name: 'w', match: 'x', unwrap: true }] }, 'my.yaml')).toThrow('my.yaml: rules[0].unwrap: rule "w": unwrap needs a (?<message>...) group in match');
  });
});
