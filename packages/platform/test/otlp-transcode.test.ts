import { describe, expect, it } from 'vitest';
import { decodeLogsRequest, decodeMetricsRequest, detectEncoding, encodeMetricsRequest, transcodeRequest } from '../src/otlp/decode.js';

const TRACE = '5b8efff798038103d269b633813fc60c';
const SPAN = 'eee19b7ec3c1b174';

const logsJson = {
  resourceLogs: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
      scopeLogs: [
        {
          scope: { name: 's' },
          logRecords: [
            {
              timeUnixNano: '1764550000000000001',
              severityNumber: 17,
              severityText: 'ERROR',
              eventName: 'probe.failed',
              body: { stringValue: 'disk full' },
              attributes: [{ key: 'attempt', value: { intValue: '3' } }],
              traceId: TRACE,
              spanId: SPAN,
            },
          ],
        },
      ],
    },
  ],
};

describe('transcodeRequest', () => {
  it('turns an OTLP/JSON logs request into protobuf with the same records, ids as bytes', () => {
    const json = Buffer.from(JSON.stringify(logsJson));
    const proto = transcodeRequest('logs', json, 'otlp_proto');
    expect(detectEncoding(proto)).toBe('otlp_proto');
    const decoded = decodeLogsRequest(proto);
    expect(decoded.encoding).toBe('otlp_proto');
    const r = decoded.body.resourceLogs[0].scopeLogs[0].logRecords[0];
    expect(r).toMatchObject({ timeUnixNano: '1764550000000000001', severityNumber: 17, severityText: 'ERROR', eventName: 'probe.failed', body: { stringValue: 'disk full' } });
    expect(Buffer.from(r.traceId as string, 'base64').toString('hex')).toBe(TRACE);
    expect(Buffer.from(r.spanId as string, 'base64').toString('hex')).toBe(SPAN);
    // And back: the JSON spelling again, ids in hex.
    const again = JSON.parse(transcodeRequest('logs', proto, 'otlp_json').toString()) as typeof logsJson;
    expect(again.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]).toEqual(logsJson.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]);
    expect(again.resourceLogs[0]!.resource).toEqual(logsJson.resourceLogs[0]!.resource);
  });

  it('turns a protobuf metrics request into OTLP/JSON, and leaves a payload already in the wanted encoding as it is', () => {
    const proto = encodeMetricsRequest({
      resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'up', gauge: { dataPoints: [{ timeUnixNano: '1', asDouble: 1.5 }] } }] }] }],
    });
    expect(transcodeRequest('metrics', proto, 'otlp_proto')).toBe(proto);
    const json = transcodeRequest('metrics', proto, 'otlp_json');
    expect(detectEncoding(json)).toBe('otlp_json');
    expect(JSON.parse(json.toString())).toEqual({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'up', gauge: { dataPoints: [{ timeUnixNano: '1', asDouble: 1.5 }] } }] }] }] });
    expect(decodeMetricsRequest(json).body).toEqual(decodeMetricsRequest(proto).body);
  });
});
