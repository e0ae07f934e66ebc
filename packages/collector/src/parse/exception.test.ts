import { describe, expect, it } from 'vitest';
import { extractException } from './exception.js';

const lines = (text: string) => text.split('\n');

describe('extractException: type, message and where the trace starts, per runtime', () => {
  it('Java: the thrown exception first, each cause after, frames with packaging data', () => {
    const e = extractException(
      lines(
        [
          '2024-01-15 10:00:00.123 ERROR 1 --- [main] c.e.Api : request failed',
          'org.springframework.jdbc.CannotGetJdbcConnectionException: Failed to obtain JDBC Connection',
          '\tat org.springframework.jdbc.datasource.DataSourceUtils.getConnection(DataSourceUtils.java:84) ~[spring-jdbc-6.1.2.jar:6.1.2]',
          'Caused by: java.net.ConnectException: Connection refused',
          '\t... 12 common frames omitted',
        ].join('\n'),
      ),
    );
    expect(e).toEqual({
      type: 'org.springframework.jdbc.CannotGetJdbcConnectionException',
      message: 'Failed to obtain JDBC Connection',
      start: 1,
      causes: ['org.springframework.jdbc.CannotGetJdbcConnectionException: Failed to obtain JDBC Connection', 'Caused by: java.net.ConnectException: Connection refused'],
      firstFrame: undefined,
    });
  });

  it('Python: the last exception is the one that propagated; chained tracebacks; types from an exceptions module', () => {
    const e = extractException(
      lines(
        [
          'Traceback (most recent call last):',
          '  File "/app/a.py", line 3, in f',
          'ConnectionRefusedError: [Errno 111] Connection refused',
          '',
          'During handling of the above exception, another exception occurred:',
          '',
          'Traceback (most recent call last):',
          '  File "/app/a.py", line 9, in g',
          'django.core.exceptions.ImproperlyConfigured: no cache',
        ].join('\n'),
      ),
    );
    expect(e).toMatchObject({ type: 'django.core.exceptions.ImproperlyConfigured', message: 'no cache', start: 0 });
    expect(e?.causes).toEqual(['ConnectionRefusedError: [Errno 111] Connection refused', 'django.core.exceptions.ImproperlyConfigured: no cache']);
  });

  it('Node: Error with a code, frames with columns', () => {
    const e = extractException(lines("Error [ERR_HTTP_HEADERS_SENT]: Cannot set headers after they are sent to the client\n    at ServerResponse.setHeader (node:_http_outgoing:659:11)\n    at async /app/dist/index.js:7:11"));
    expect(e).toMatchObject({ type: 'Error', message: 'Cannot set headers after they are sent to the client', start: 0 });
  });

  it('.NET: indented by the console logger, HRESULT after the type, inner exceptions after --->', () => {
    const e = extractException(
      lines(
        [
          'fail: Shop.Db[0]',
          '      query failed',
          '      Npgsql.NpgsqlException (0x80004005): Failed to connect to 172.18.0.3:5432',
          '       ---> System.Net.Sockets.SocketException (111): Connection refused',
          '         at Npgsql.Internal.NpgsqlConnector.Connect(NpgsqlTimeout timeout) in /src/Npgsql/Internal/NpgsqlConnector.cs:line 712',
          '         --- End of inner exception stack trace ---',
        ].join('\n'),
      ),
    );
    expect(e).toMatchObject({ type: 'Npgsql.NpgsqlException', message: 'Failed to connect to 172.18.0.3:5432', start: 2 });
    expect(e?.causes[1]).toBe('---> System.Net.Sockets.SocketException (111): Connection refused');
  });

  it('Go: a panic and a fatal error; a zap stack of frames only starts at its first function line', () => {
    expect(extractException(lines('panic: runtime error: index out of range [5] with length 3 [recovered]\n\ngoroutine 1 [running]:\nmain.main()\n\t/app/main.go:12 +0x1d'))).toMatchObject({
      type: 'panic',
      message: 'runtime error: index out of range [5] with length 3',
      start: 0,
    });
    expect(extractException(lines('fatal error: all goroutines are asleep - deadlock!'))).toMatchObject({ type: 'fatal error', message: 'all goroutines are asleep - deadlock!' });
    expect(extractException(lines('2024-01-15T10:00:09.210Z\tERROR\tquery failed\nmain.(*Repo).Find\n\t/app/orders/repo.go:44\nmain.main\n\t/app/main.go:9'))).toEqual({
      type: undefined,
      message: undefined,
      start: 1,
      causes: [],
      firstFrame: '/app/orders/repo.go:44',
    });
  });

  it('lines without a trace: none', () => {
    expect(extractException(lines('2024-01-15 10:00:00 ERROR batch failed:\n  order 991: card declined\n  order 992: card declined'))).toBeUndefined();
    expect(extractException(lines('Internal Server Error: /cart/'))).toBeUndefined();
  });
});
