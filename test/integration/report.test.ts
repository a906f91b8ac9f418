/**
 * The daily status report on DynamoDB Local, through the HTTP handler: a day that begins before
 * an agent's first transition, a transition across midnight and a DST change (Europe/Madrid's
 * 25-hour 2026-10-25), a day without transitions, today's open interval, a retried stream batch,
 * the team filter, CSV, every access rule and every bad parameter (400, nothing changed).
 */
import { describe, expect, it } from 'vitest';
import { makeStreamHandler } from '#handlers/stream.ts';
import { makeHarness, token, uniqueWorkspace } from '#test/support/harness.ts';
import { agentWriteEvent } from '#test/support/lambda.ts';
import { httpEvent, makeService, TestConnection } from '#test/support/service.ts';

const H = 3_600_000;
const DAY = 24 * H;

async function setup() {
  // Long lease and idle timeout: the agents below go offline only when they close.
  const harness = await makeHarness({ leaseMs: 7 * DAY, defaultIdleTimeoutSeconds: 86_400 });
  const service = makeService(harness);
  const workspace = uniqueWorkspace();
  const admin = await token({ workspace, sub: 'boss', role: 'admin' });
  const zone = await service.http(httpEvent('PUT', `/workspaces/${workspace}/settings`, { token: admin, body: '{"timezone":"Europe/Madrid"}' }));
  expect(zone.statusCode).toBe(200);
  return { harness, service, workspace, admin };
}

async function report(service: ReturnType<typeof makeService>, workspace: string, jwt: string, query: Record<string, string>, accept?: string) {
  const reply = await service.http(
    httpEvent('GET', `/workspaces/${workspace}/reports/status`, { token: jwt, query, ...(accept ? { headers: { accept } } : {}) }),
  );
  return reply;
}

/** Alice: online at 23:30 on the 24th (Madrid), away at 00:30, online at 11:00 on the 25th (after clocks went back), closes at 21:00. */
async function aliceAcrossMidnightAndDst(s: Awaited<ReturnType<typeof setup>>) {
  const { harness, service, workspace } = s;
  harness.clock.current = Date.UTC(2026, 9, 24, 21, 30); // 23:30 CEST
  const alice = await TestConnection.open(service, { workspace, sub: 'alice', name: 'Alice', teams: ['sales'] });
  harness.clock.current = Date.UTC(2026, 9, 24, 22, 30); // 00:30 CEST on the 25th
  await alice.setStatus('away');
  harness.clock.current = Date.UTC(2026, 9, 25, 10, 0); // 11:00 CET
  await alice.setStatus('online');
  return alice;
}

describe('status report', () => {
  it('splits each day at local midnight, counts the 25-hour day, a day without transitions and today so far', async () => {
    const s = await setup();
    const { harness, service, workspace, admin } = s;
    const alice = await aliceAcrossMidnightAndDst(s);

    // While alice is online: today (the 25th) so far, at 12:00 UTC.
    harness.clock.current = Date.UTC(2026, 9, 25, 12, 0);
    const sofar = await report(service, workspace, admin, { from: '2026-10-25', to: '2026-10-25' });
    expect(JSON.parse(sofar.body ?? '')).toEqual({
      timezone: 'Europe/Madrid',
      days: [{ date: '2026-10-25', userId: 'alice', name: 'Alice', online: 1800 + 2 * 3600, away: 11.5 * 3600, offline: 0, awayByReason: { '': 11.5 * 3600 } }],
    });

    harness.clock.current = Date.UTC(2026, 9, 25, 20, 0);
    await alice.close();
    harness.clock.advance(harness.ports.config.graceMs);
    await service.sweep();
    const grace = harness.ports.config.graceMs / 1000;

    harness.clock.current = Date.UTC(2026, 9, 27, 12, 0); // 13:00 CET on the 27th
    const reply = await report(service, workspace, admin, { from: '2026-10-23', to: '2026-10-28' });
    expect(reply.statusCode).toBe(200);
    expect(JSON.parse(reply.body ?? '')).toEqual({
      timezone: 'Europe/Madrid',
      days: [
        // Before her first transition she counts as offline.
        { date: '2026-10-23', userId: 'alice', name: 'Alice', online: 0, away: 0, offline: 86_400, awayByReason: { '': 0 } },
        { date: '2026-10-24', userId: 'alice', name: 'Alice', online: 1800, away: 0, offline: 84_600, awayByReason: { '': 0 } },
        // 25 hours: 30 min online, 11 h 30 away (the extra hour included), 10 h online, then offline after the grace.
        { date: '2026-10-25', userId: 'alice', name: 'Alice', online: 1800 + 36_000 + grace, away: 41_400, offline: 10_800 - grace, awayByReason: { '': 41_400 } },
        { date: '2026-10-26', userId: 'alice', name: 'Alice', online: 0, away: 0, offline: 86_400, awayByReason: { '': 0 } },
        // Today: the 13 hours since midnight.
        { date: '2026-10-27', userId: 'alice', name: 'Alice', online: 0, away: 0, offline: 13 * 3600, awayByReason: { '': 0 } },
        { date: '2026-10-28', userId: 'alice', name: 'Alice', online: 0, away: 0, offline: 0, awayByReason: { '': 0 } },
      ],
    });
    for (const row of JSON.parse(reply.body ?? '').days.slice(0, 4)) expect(row.online + row.away + row.offline).toBe(row.date === '2026-10-25' ? 90_000 : 86_400);
  });

  it('counts a deadline that passed without a sweep from the deadline, as readers see it', async () => {
    const harness = await makeHarness({ defaultIdleTimeoutSeconds: 86_400 });
    const service = makeService(harness);
    const workspace = uniqueWorkspace();
    const admin = await token({ workspace, sub: 'boss', role: 'admin' });
    harness.clock.current = Date.UTC(2026, 10, 25, 8, 0);
    await TestConnection.open(service, { workspace, sub: 'alice' });
    // No heartbeat and no sweep: the lease ends at 08:01:30 and nothing is committed yet.
    harness.clock.current = Date.UTC(2026, 10, 25, 10, 0);
    const reply = await report(service, workspace, admin, { from: '2026-11-25', to: '2026-11-25' });
    const lease = harness.ports.config.leaseMs / 1000;
    expect(JSON.parse(reply.body ?? '').days).toEqual([{ date: '2026-11-25', userId: 'alice', name: 'alice', online: lease, away: 0, offline: 10 * 3600 - lease, awayByReason: { '': 0 } }]);
  });

  it('applies a retried stream batch once', async () => {
    const s = await setup();
    const { harness, service, workspace, admin } = s;
    harness.clock.current = Date.UTC(2026, 10, 25, 8, 0);
    await TestConnection.open(service, { workspace, sub: 'carol' });
    const handler = makeStreamHandler({ ports: harness.ports });
    // Two later changes of carol's, as the stream hands them over; then the same batch again.
    const event = agentWriteEvent(workspace, { userId: 'carol', name: 'carol' }, [
      { status: 'away', previous: 'online', reason: 'manual', at: Date.UTC(2026, 10, 25, 8, 30), version: 2 },
      { status: 'online', previous: 'away', reason: 'manual', at: Date.UTC(2026, 10, 25, 8, 45), version: 3 },
    ]);
    expect(await handler(event)).toEqual({ batchItemFailures: [] });
    expect(await handler(event)).toEqual({ batchItemFailures: [] });
    harness.clock.current = Date.UTC(2026, 10, 25, 9, 0);
    const reply = await report(service, workspace, admin, { from: '2026-11-25', to: '2026-11-25' });
    // Madrid midnight to 09:00 (08:00 UTC) offline, 30 min online, 15 min away, 15 min online: each counted once.
    expect(JSON.parse(reply.body ?? '').days).toEqual([{ date: '2026-11-25', userId: 'carol', name: 'carol', online: 2700, away: 900, offline: 9 * 3600, awayByReason: { '': 900 } }]);
  });

  it('filters by team, answers CSV on Accept: text/csv, and lets an agent read only their own rows', async () => {
    const s = await setup();
    const { harness, service, workspace, admin } = s;
    harness.clock.current = Date.UTC(2026, 10, 24, 23, 0); // midnight in Madrid
    await TestConnection.open(service, { workspace, sub: 'alice', name: 'Alice, "Al"', teams: ['sales'] });
    await TestConnection.open(service, { workspace, sub: 'bob', name: '=HYPERLINK("x")', teams: ['support'] });
    harness.clock.current = Date.UTC(2026, 10, 25, 1, 0);

    const sales = JSON.parse((await report(service, workspace, admin, { from: '2026-11-25', to: '2026-11-25', team: 'sales' })).body ?? '');
    expect(sales.days.map((row: { userId: string }) => row.userId)).toEqual(['alice']);

    const csv = await report(service, workspace, admin, { from: '2026-11-25', to: '2026-11-25' }, 'text/csv');
    expect(csv.headers?.['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.body).toBe(
      'date,userId,name,online,away,offline,away:(none)\r\n' +
        '2026-11-25,alice,"Alice, ""Al""",7200,0,0,0\r\n' +
        // A name that looks like a formula is quoted so a spreadsheet shows it as text.
        `2026-11-25,bob,"'=HYPERLINK(""x"")",7200,0,0,0\r\n`,
    );

    const bobToken = await token({ workspace, sub: 'bob' });
    const own = await report(service, workspace, bobToken, { from: '2026-11-25', to: '2026-11-25' });
    expect(JSON.parse(own.body ?? '').days.map((row: { userId: string }) => row.userId)).toEqual(['bob']);
    expect((await report(service, workspace, bobToken, { from: '2026-11-25', to: '2026-11-25', userId: 'bob' })).statusCode).toBe(200);
    expect((await report(service, workspace, bobToken, { from: '2026-11-25', to: '2026-11-25', userId: 'alice' })).statusCode).toBe(403);
    const service_ = await token({ workspace, sub: 'payroll', role: 'service' });
    expect((await report(service, workspace, service_, { from: '2026-11-25', to: '2026-11-25', userId: 'alice' })).statusCode).toBe(200);
    const elsewhere = await token({ workspace: 'elsewhere', sub: 'boss', role: 'admin' });
    expect((await report(service, workspace, elsewhere, { from: '2026-11-25', to: '2026-11-25' })).statusCode).toBe(403);
  });

  it.each<[string, Record<string, string>]>([
    ['a date that is not one', { from: '2026-02-30', to: '2026-03-01' }],
    ['a date in another format', { from: '25/11/2026', to: '2026-11-25' }],
    ['from after to', { from: '2026-11-26', to: '2026-11-25' }],
    ['more than 92 days', { from: '2026-01-01', to: '2026-04-03' }],
    ['no to', { from: '2026-11-25' }],
    ['an unknown team', { from: '2026-11-25', to: '2026-11-25', team: 'nobody-here' }],
    ['a bad team id', { from: '2026-11-25', to: '2026-11-25', team: 'a b' }],
    ['an unknown parameter', { from: '2026-11-25', to: '2026-11-25', zone: 'UTC' }],
  ])('answers %s with a clear 400 and changes nothing', async (_name, query) => {
    const s = await setup();
    const { harness, service, workspace, admin } = s;
    await TestConnection.open(service, { workspace, sub: 'alice', teams: ['sales'] });
    const before = await harness.scanTable();
    const reply = await report(service, workspace, admin, query);
    expect(reply.statusCode).toBe(400);
    const body = JSON.parse(reply.body ?? '');
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.message.length).toBeGreaterThan(10);
    expect(await harness.scanTable()).toEqual(before);
  });

  it('accepts exactly 92 days', async () => {
    const s = await setup();
    await TestConnection.open(s.service, { workspace: s.workspace, sub: 'alice' });
    const reply = await report(s.service, s.workspace, s.admin, { from: '2026-01-01', to: '2026-04-02' });
    expect(reply.statusCode).toBe(200);
    expect(JSON.parse(reply.body ?? '').days).toHaveLength(92);
  });
});

describe('status report after the workspace changes its zone', () => {
  it('counts the days before the change in the new zone exactly, from the history', async () => {
    const harness = await makeHarness({ leaseMs: 7 * DAY, defaultIdleTimeoutSeconds: 86_400 });
    const service = makeService(harness);
    const workspace = uniqueWorkspace();
    const admin = await token({ workspace, sub: 'boss', role: 'admin' });
    // Recorded while the workspace is on UTC: online at 22:30 UTC on the 24th, away at 01:00 UTC.
    harness.clock.current = Date.UTC(2026, 10, 24, 22, 30);
    const alice = await TestConnection.open(service, { workspace, sub: 'alice' });
    harness.clock.current = Date.UTC(2026, 10, 25, 1, 0);
    await alice.setStatus('away');
    // Then Madrid (UTC+1 in November): the 25th runs from 23:00 UTC on the 24th.
    const zone = await service.http(httpEvent('PUT', `/workspaces/${workspace}/settings`, { token: admin, body: '{"timezone":"Europe/Madrid"}' }));
    expect(zone.statusCode).toBe(200);
    harness.clock.current = Date.UTC(2026, 10, 26, 0, 0);
    const reply = await report(service, workspace, admin, { from: '2026-11-24', to: '2026-11-25' });
    expect(JSON.parse(reply.body ?? '')).toEqual({
      timezone: 'Europe/Madrid',
      days: [
        { date: '2026-11-24', userId: 'alice', name: 'alice', online: 1800, away: 0, offline: 84_600, awayByReason: { '': 0 } },
        { date: '2026-11-25', userId: 'alice', name: 'alice', online: 7200, away: 79_200, offline: 0, awayByReason: { '': 79_200 } },
      ],
    });
  });
});

describe('status report by away reason', () => {
  it('splits away seconds per reason (a change of reason alone, an admin\'s change, none), in JSON and as CSV columns, and keeps a removed reason\'s time', async () => {
    const s = await setup();
    const { harness, service, workspace, admin } = s;
    const reasons = [{ id: 'lunch', label: 'Lunch' }, { id: 'meeting', label: 'Meeting' }, { id: 'break', label: 'Break' }];
    const put = (body: unknown) => service.http(httpEvent('PUT', `/workspaces/${workspace}/settings`, { token: admin, body: JSON.stringify(body) }));
    expect((await put({ timezone: 'UTC', awayReasons: reasons })).statusCode).toBe(200);
    const at = (hours: number) => {
      harness.clock.current = Date.UTC(2026, 10, 25) + hours * H;
    };
    at(9);
    const alice = await TestConnection.open(service, { workspace, sub: 'alice', name: 'Alice' });
    at(10);
    await alice.send({ action: 'setStatus', status: 'away', awayReason: 'lunch' });
    at(10.5);
    const set = await service.http(httpEvent('PUT', `/workspaces/${workspace}/agents/alice/status`, { token: admin, body: '{"status":"away","awayReason":"meeting"}' }));
    expect(set.statusCode).toBe(200);
    at(11);
    await alice.setStatus('online');
    at(11.5);
    await alice.setStatus('away');
    at(12);

    const row = JSON.parse((await report(service, workspace, admin, { from: '2026-11-25', to: '2026-11-25' })).body ?? '').days[0];
    expect(row).toEqual({
      date: '2026-11-25',
      userId: 'alice',
      name: 'Alice',
      online: 5400,
      away: 5400,
      offline: 9 * 3600,
      awayByReason: { lunch: 1800, meeting: 1800, break: 0, '': 1800 },
    });
    const csv = (await report(service, workspace, admin, { from: '2026-11-25', to: '2026-11-25' }, 'text/csv')).body;
    expect(csv).toBe('date,userId,name,online,away,offline,away:lunch,away:meeting,away:break,away:(none)\r\n2026-11-25,alice,Alice,5400,5400,32400,1800,1800,0,1800\r\n');

    // Removing a reason keeps the time spent with it in the report; its column stays while it has time.
    expect((await put({ awayReasons: reasons.slice(1) })).statusCode).toBe(200);
    const after = JSON.parse((await report(service, workspace, admin, { from: '2026-11-25', to: '2026-11-25' })).body ?? '').days[0];
    expect(after.awayByReason).toEqual({ meeting: 1800, break: 0, '': 1800, lunch: 1800 });
    expect(after.away).toBe(after.awayByReason.meeting + after.awayByReason.break + after.awayByReason[''] + after.awayByReason.lunch);
  });
});
