/**
 * The custom metrics the alarms and dashboard read are emitted by the Lambda entries' port wrappers:
 * transitions by reason, fan-out latency and failures, publish failures, sweep lag, authorizer errors.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { ConnectionGoneError } from '#app/errors.ts';
import type { Ports, PresenceChanged, StoredAgent } from '#app/ports.ts';
import { METRICS } from '#handlers/metric-names.ts';
import { measuredPorts } from '#handlers/metrics.ts';
import { FanoutDispatchError } from '#app/errors.ts';

interface EmfLine {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
  [key: string]: unknown;
}

let lines: EmfLine[];
let metrics: Metrics;

beforeEach(() => {
  lines = [];
  // Powertools writes EMF documents to stdout, one JSON line each.
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as EmfLine);
    return true;
  });
  metrics = new Metrics({ namespace: 'PresenceTest', serviceName: 'presence-test' });
});
afterEach(() => vi.restoreAllMocks());

/** Every value of `name` across the emitted documents. */
function values(name: string): unknown[] {
  return lines.flatMap((line) => {
    const value = line[name];
    if (value === undefined) return [];
    return Array.isArray(value) ? value : [value];
  });
}

function fakePorts(overrides: Partial<Ports>): Ports {
  return { ...overrides } as Ports;
}

const presence = (reason: string, at: number) => ({ type: 'presence', changes: [{ userId: 'u', reason, at, version: 1 }] });

describe('metrics of the Lambda entries', () => {
  it('records fan-out latency for user-driven transitions and counts failed posts, not gone connections', async () => {
    const post = vi
      .fn()
      .mockResolvedValueOnce(undefined)
      .mockResolvedValueOnce(undefined)
      .mockRejectedValueOnce(new ConnectionGoneError('gone'))
      .mockRejectedValueOnce(new Error('throttled'));
    const ports = measuredPorts(fakePorts({ gateway: { post, delete: vi.fn() } }), metrics, () => 1_250);

    await ports.gateway.post('a', presence('manual', 1_000));
    await ports.gateway.post('b', presence('timeout', 100));
    await expect(ports.gateway.post('c', presence('manual', 1_000))).rejects.toBeInstanceOf(ConnectionGoneError);
    await expect(ports.gateway.post('d', presence('manual', 1_000))).rejects.toThrow('throttled');
    metrics.publishStoredMetrics();

    expect(values(METRICS.fanoutLatency)).toEqual([250]);
    expect(values(METRICS.fanoutFailures)).toEqual([1]);
  });

  it('counts transitions by reason, and the events EventBridge refused', async () => {
    const publish = vi.fn().mockResolvedValueOnce(undefined).mockRejectedValueOnce(new Error('refused'));
    const ports = measuredPorts(fakePorts({ events: { publish, publishUnavailable: vi.fn() } }), metrics);
    const change = (reason: PresenceChanged['reason']): PresenceChanged => ({
      workspaceId: 'w',
      userId: 'u',
      status: 'offline',
      previous: 'online',
      reason,
      at: 1,
    });

    await ports.events.publish([change('idle'), change('idle'), change('timeout')]);
    await expect(ports.events.publish([change('manual')])).rejects.toThrow('refused');
    metrics.publishStoredMetrics();

    const transitions = lines.filter((line) => line[METRICS.transitions] !== undefined);
    expect(transitions.map((line) => [line.reason, line[METRICS.transitions]])).toEqual([
      ['idle', 2],
      ['timeout', 1],
      ['manual', 1],
    ]);
    expect(transitions[0]?._aws.CloudWatchMetrics[0]?.Dimensions[0]).toEqual(['service', 'reason']);
    expect(values(METRICS.eventPublishFailures)).toEqual([1]);
  });

  it('records sweep lag from the earliest deadline of each page, against the clock (a look-ahead page reads agents not yet due)', async () => {
    const agent = (dueAt: number) => ({ dueAt }) as StoredAgent;
    async function* dueAgents() {
      yield [agent(9_000), agent(7_500)];
      yield [agent(9_900)];
      yield [agent(12_000), agent(14_000)];
    }
    const ports = measuredPorts(fakePorts({ store: { dueAgents } as unknown as Ports['store'] }), metrics, () => 10_000);

    const pages: StoredAgent[][] = [];
    // The pass looks 5 s ahead of the clock.
    for await (const page of ports.store.dueAgents(0, 15_000)) pages.push(page);
    metrics.publishStoredMetrics();

    expect(pages).toHaveLength(3);
    expect(values(METRICS.sweepLag)).toEqual([2_500, 100, 0]);
  });

  it('counts the connections of a fan-out chunk that failed after it may have run, not of one refused', async () => {
    const chunk = (n: number) => ({ messages: [{}], connections: Array.from({ length: n }, (_, i) => ({ connectionId: `c${i}`, userId: 'u', connectedAt: 0 })), now: 0 });
    const post = vi
      .fn()
      .mockRejectedValueOnce(new FanoutDispatchError('function error', true))
      .mockRejectedValueOnce(new FanoutDispatchError('throttled', false))
      .mockRejectedValueOnce(new Error('unexpected'))
      .mockResolvedValueOnce({ posted: 2, failed: 0, opening: 0, gone: [] });
    const ports = measuredPorts(fakePorts({ fanout: { post } }), metrics);

    for (const size of [3, 4, 5, 2]) await ports.fanout!.post(chunk(size)).catch(() => undefined);
    metrics.publishStoredMetrics();

    expect(values(METRICS.fanoutFailures)).toEqual([3, 5]);
  });
});
