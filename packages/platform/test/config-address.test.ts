import { describe, expect, it } from 'vitest';
import { hostPortProblem, hostProblem, httpUrlProblem, portProblem } from '../src/config/address.js';

describe('hostProblem', () => {
  it.each(['127.0.0.1', '0.0.0.0', '255.255.255.255', '::', '::1', 'fe80::1', 'localhost', 'kafka-1.example.com', 'example.com.', 'my_service', 'a'])('accepts %j', (host) => {
    expect(hostProblem(host)).toBeUndefined();
  });

  it.each(['999.1.1.1', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '', 'a..b', '-a.b', 'a-.b', 'a b', 'host/x', ':::1', 'example.123', 'x'.repeat(64)])('refuses %j', (host) => {
    expect(hostProblem(host)).toMatch(/is not an|longer than/);
  });

  it('says what is allowed', () => {
    expect(hostProblem('999.1.1.1')).toBe(
      '"999.1.1.1" is not an IPv4 address: four numbers from 0 to 255 (use an IPv4 address such as 127.0.0.1 or 0.0.0.0, an IPv6 address such as ::1, or a host name such as kafka-1.example.com)',
    );
  });
});

describe('portProblem and hostPortProblem', () => {
  it('takes ports 1 to 65535, and 0 where a free port is asked for', () => {
    expect(portProblem('9092')).toBeUndefined();
    expect(portProblem('0')).toMatch(/from 1 to 65535/);
    expect(portProblem('0', true)).toBeUndefined();
    expect(portProblem('65536')).toBe('port "65536" is not a port (use a whole number from 1 to 65535)');
    expect(portProblem('')).toBeDefined();
  });

  it.each(['127.0.0.1:9092', 'kafka:9092', '[::1]:9092'])('accepts %j', (t) => expect(hostPortProblem(t)).toBeUndefined());

  it.each([
    ['999.1.1.1:9092', /^"999\.1\.1\.1:9092": "999\.1\.1\.1" is not an IPv4 address/],
    ['kafka:99999', /port "99999" is not a port/],
    ['kafka', /is not host:port/],
    ['::1:9092', /brackets/],
    ['[kafka]:9092', /in brackets is not an IPv6 address/],
  ])('refuses %j', (t, why) => expect(hostPortProblem(t)).toMatch(why));
});

describe('httpUrlProblem', () => {
  it('accepts http(s) URLs with a real host', () => {
    for (const u of ['http://127.0.0.1:8123', 'https://clickhouse.example.com', 'http://[::1]:8123/', 'https://u:p@ch:8443']) expect(httpUrlProblem(u)).toBeUndefined();
  });

  it('refuses impossible hosts and never shows credentials', () => {
    expect(httpUrlProblem('http://999.1.1.1:8123')).toMatch(/^"http:\/\/999\.1\.1\.1:8123" is not a URL/);
    expect(httpUrlProblem('http://a..b:8123')).toMatch(/the host "a\.\.b" is not an address/);
    const p = httpUrlProblem('http://user:hunter2@a..b:8123');
    expect(p).toMatch(/^"http:\/\/\*\*\*@a\.\.b:8123"/);
    expect(p).not.toContain('hunter2');
  });
});
