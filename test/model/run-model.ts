/**
 * Drives the real handlers (test/support/service.ts) and the reference model side by side, one
 * command at a time, and compares them after every command. Used by test/integration/model.test.ts.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { snapshot } from '#app/snapshots.ts';
import type { ServerMessage } from '#app/messages.ts';
import { deliverChanges } from '#app/fanout.ts';
import { recordHistory } from '#app/history.ts';
import { wholeReasonSeconds, wholeSeconds } from '#domain/report.ts';
import type { Ports, PresenceChanged, PresenceConfig, PresenceStore } from '#app/ports.ts';
import {
  type Harness,
  type ManualClock,
  RecordingGateway,
  RecordingPublisher,
  silentLogger,
  TEST_CONFIG,
  token,
} from '#test/support/harness.ts';
import { httpEvent, makeService, type Service, TestConnection } from '#test/support/service.ts';
import { AWAY_REASONS, type Deviations, type Notice, PresenceModel, type Status } from '#test/model/reference-model.ts';

// ---------- timings: short, so that jumps cross lease, grace and idle boundaries ----------

const MODEL_CONFIG: Partial<PresenceConfig> = {
  leaseMs: 30_000,
  graceMs: 5_000,
  defaultIdleTimeoutSeconds: 20,
  minIdleTimeoutSeconds: 10,
  maxIdleTimeoutSeconds: 86_400,
};

const WORKSPACES = 2;
const USERS = ['u0', 'u1', 'u2'] as const;
/**
 * Tokens outlive every sequence: the DynamoDB property's clock moves a day per sequence (1,000
 * days in a run), and a connection ends with its token.
 */
const TOKEN_LIFETIME_SECONDS = 10 * 365 * 86_400;
/** The teams in each user's token: overlapping, and one user in none. */
const TEAMS: Record<(typeof USERS)[number], string[]> = { u0: ['red'], u1: ['red', 'blue'], u2: [] };

// ---------- commands ----------

export type Command =
  | { k: 'connect'; ws: number; user: number }
  | { k: 'close'; conn: number }
  | { k: 'drop'; conn: number }
  /** The client vanished and API Gateway knows (posts answer 410), but no $disconnect arrives. */
  | { k: 'gone'; conn: number }
  /** API Gateway's $disconnect for a dropped connection arrives late. */
  | { k: 'lateDisconnect'; conn: number }
  | { k: 'heartbeat'; conn: number; active: boolean }
  | { k: 'setStatus'; conn: number; status: string; reason: string | null }
  /** An admin (or an agent, refused) sets a teammate's status over HTTP. */
  | { k: 'adminStatus'; ws: number; user: number; status: string; reason: string | null; admin: boolean }
  /** An admin (or an agent, refused) signs a teammate out everywhere over HTTP. */
  | { k: 'adminLogout'; ws: number; user: number; admin: boolean }
  | { k: 'subscribe'; conn: number; teams: string[] | null }
  | { k: 'logout'; conn: number }
  | { k: 'settings'; ws: number; seconds: number; admin: boolean }
  | { k: 'sweep' }
  | { k: 'advance'; ms: number };

const conn = fc.nat({ max: 7 });
/** No reason, the workspace's two, and one it does not offer. */
const awayReason = fc.constantFrom<string | null>(null, null, 'lunch', 'meeting', 'nap');
/** Users the admin commands may name: the three, and one no workspace knows. */
const ADMIN_TARGETS = [...USERS, 'stranger'] as const;
/**
 * Around the boundaries: lease 30 s (renewed past its half, 15 s), grace 5 s, idle 10 to 90 s
 * (20 s by default), activity granularity idle / 10.
 */
const jump = fc.oneof(
  fc.constantFrom(1, 999, 1_000, 1_999, 2_000, 4_999, 5_000, 5_001, 10_000, 14_999, 15_000, 15_001, 19_999, 20_000, 29_999, 30_000, 30_001, 60_000, 900_000),
  fc.integer({ min: 1, max: 35_000 }),
);

export const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { arbitrary: fc.record({ k: fc.constant('connect' as const), ws: fc.nat({ max: WORKSPACES - 1 }), user: fc.nat({ max: USERS.length - 1 }) }), weight: 4 },
  { arbitrary: fc.record({ k: fc.constant('close' as const), conn }), weight: 2 },
  { arbitrary: fc.record({ k: fc.constant('drop' as const), conn }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('gone' as const), conn }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('lateDisconnect' as const), conn }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('heartbeat' as const), conn, active: fc.boolean() }), weight: 6 },
  {
    arbitrary: fc.record({ k: fc.constant('setStatus' as const), conn, status: fc.constantFrom('online', 'away', 'away', 'offline', 'busy', ''), reason: awayReason }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      k: fc.constant('adminStatus' as const),
      ws: fc.nat({ max: WORKSPACES - 1 }),
      // A user id the workspace may not know yet (404), besides the three.
      user: fc.nat({ max: USERS.length }),
      status: fc.constantFrom('online', 'away', 'away', 'busy'),
      reason: awayReason,
      admin: fc.constantFrom(true, true, true, false),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({ k: fc.constant('adminLogout' as const), ws: fc.nat({ max: WORKSPACES - 1 }), user: fc.nat({ max: USERS.length }), admin: fc.constantFrom(true, true, false) }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      k: fc.constant('subscribe' as const),
      conn,
      // Both teams, each, one nobody is in, the workspace again, and two refused shapes.
      teams: fc.constantFrom<string[] | null>(null, ['red'], ['blue'], ['red', 'blue'], ['green'], [], ['no spaces']),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ k: fc.constant('logout' as const), conn }), weight: 1 },
  {
    arbitrary: fc.record({
      k: fc.constant('settings' as const),
      ws: fc.nat({ max: WORKSPACES - 1 }),
      seconds: fc.constantFrom(5, 10, 15, 20, 25, 40, 90, 86_401),
      admin: fc.boolean(),
    }),
    weight: 1,
  },
  { arbitrary: fc.constant({ k: 'sweep' as const }), weight: 2 },
  { arbitrary: fc.record({ k: fc.constant('advance' as const), ms: jump }), weight: 5 },
);

// ---------- the system under test ----------

export interface StoreFactory {
  /** A store and a clock for one sequence; the clock must never go back on a shared store. */
  forSequence(): Promise<{ store: PresenceStore; clock: ManualClock }>;
  /**
   * Compare the online-agents function with GET agents after the last command only, not after
   * every one. It runs the HTTP query's use case and store query again, so on a store where a
   * request is costly (DynamoDB Local: a quarter of the property's requests) it checks the
   * function's wiring once a sequence; the in-memory store checks it after every command.
   */
  onlineAgentsFunctionAtEnd?: boolean;
}

interface Sut {
  service: Service;
  gateway: RecordingGateway;
  events: RecordingPublisher;
  clock: ManualClock;
  workspaces: string[];
  /** Tokens per workspace and user; admin and agent tokens for HTTP. */
  tokens: Map<string, string>;
  connections: Map<string, TestConnection>;
  postsSeen: number;
  eventsSeen: number;
  /** Every notice the model published so far, in order: the report is checked against them. */
  notices: Notice[];
  /** The clock when the sequence began: reports start on its day. */
  startedAt: number;
}

async function makeSut(factory: StoreFactory): Promise<Sut> {
  const { store: shared, clock } = await factory.forSequence();
  const gateway = new RecordingGateway();
  const events = new RecordingPublisher();
  // The stream's stand-in, as in the harness: each commit's changes are delivered right after it.
  // A view of the shared store per sequence, so each sequence delivers to its own gateway.
  const store: PresenceStore = Object.create(shared) as PresenceStore;
  store.saveAgent = async (agent, dueAt, now, changes = []) => {
    const written = await shared.saveAgent(agent, dueAt, now, changes);
    // As the stream consumer does: the history and the day rollups are recorded while the changes are delivered.
    if (written && changes.length > 0) await Promise.all([recordHistory(ports, changes), deliverChanges(ports, changes)]);
    return written;
  };
  const ports: Ports = { store, gateway, events, clock, config: { ...TEST_CONFIG, ...MODEL_CONFIG }, logger: silentLogger };
  // makeService needs only ports, clock and gateway of a harness.
  const harness = { ports, clock, gateway, events } as unknown as Harness;
  const service = makeService(harness);
  const id = randomUUID();
  const workspaces = Array.from({ length: WORKSPACES }, (_, i) => `model-${id}-${'ab'[i]}`);
  const tokens = new Map<string, string>();
  for (const ws of workspaces) {
    for (const user of USERS) {
      tokens.set(`${ws}/${user}`, await token({ workspace: ws, sub: user, name: displayName(ws, user), teams: TEAMS[user] }, TOKEN_LIFETIME_SECONDS));
    }
    tokens.set(`${ws}/admin`, await token({ workspace: ws, sub: 'boss', role: 'admin' }, TOKEN_LIFETIME_SECONDS));
    tokens.set(`${ws}/agent`, await token({ workspace: ws, sub: 'reader' }, TOKEN_LIFETIME_SECONDS));
    const reasons = await service.http(
      httpEvent('PUT', `/workspaces/${ws}/settings`, {
        token: tokens.get(`${ws}/admin`)!,
        body: JSON.stringify({ awayReasons: AWAY_REASONS.map((id) => ({ id, label: id })) }),
      }),
    );
    if (reasons.statusCode !== 200) throw new Error(`setting the away reasons answered ${reasons.statusCode}: ${reasons.body}`);
  }
  return { service, gateway, events, clock, workspaces, tokens, connections: new Map(), postsSeen: 0, eventsSeen: 0, notices: [], startedAt: clock.now() };
}

/** The display name says which workspace a user belongs to: a message crossing workspaces shows. */
function displayName(ws: string, user: string): string {
  return `${user} of ${ws.slice(-1)}`;
}

function tokenOf(sut: Sut, key: string): string {
  const value = sut.tokens.get(key);
  if (!value) throw new Error(`no token ${key}`);
  return value;
}

class Mismatch extends Error {
  override readonly name = 'Mismatch';
}

function fail(message: string, detail?: unknown): never {
  throw new Mismatch(detail === undefined ? message : `${message}\n${JSON.stringify(detail, null, 1)}`);
}

// ---------- one sequence ----------

export interface RunOptions {
  deviations: Deviations;
}

/** Counts of what the runs exercised (printed with MODEL_STATS=1). */
export const stats = { sequences: 0, applied: {} as Record<string, number>, skipped: 0, reasons: {} as Record<string, number>, mustDeliveries: 0 };

export async function runSequence(factory: StoreFactory, commands: Command[], options: RunOptions): Promise<void> {
  const sut = await makeSut(factory);
  stats.sequences++;
  const model = new PresenceModel(sut.clock.now(), {
    leaseMs: MODEL_CONFIG.leaseMs!,
    graceMs: MODEL_CONFIG.graceMs!,
    defaultIdleSeconds: MODEL_CONFIG.defaultIdleTimeoutSeconds!,
    minIdleSeconds: MODEL_CONFIG.minIdleTimeoutSeconds!,
    maxIdleSeconds: MODEL_CONFIG.maxIdleTimeoutSeconds!,
  }, options.deviations);
  const start = model.now;
  const askFunction = !factory.onlineAgentsFunctionAtEnd;
  let last: { index: number; command: Command } | undefined;
  const compareAfter = async (index: number, command: Command, withFunction: boolean) => {
    try {
      await compare(sut, model, withFunction);
    } catch (error) {
      if (error instanceof Mismatch) {
        error.message = `after command #${index} ${JSON.stringify(command)} at t=+${model.now - start}ms: ${error.message}`;
      }
      throw error;
    }
  };
  for (const [index, command] of commands.entries()) {
    const applied = await apply(sut, model, command);
    if (!applied) {
      stats.skipped++;
      continue;
    }
    stats.applied[command.k] = (stats.applied[command.k] ?? 0) + 1;
    last = { index, command };
    await compareAfter(index, command, askFunction || index === commands.length - 1);
  }
  // The last command was skipped, so the function was not asked: nothing happened since the last
  // comparison, and this one adds only the function.
  if (!askFunction && last && last.index !== commands.length - 1) await compareAfter(last.index, last.command, true);
}

function pick<T>(list: T[], index: number): T | undefined {
  return list.length === 0 ? undefined : list[index % list.length];
}

/** Applies the command to both sides; false when it does not apply (no open connection). */
async function apply(sut: Sut, model: PresenceModel, command: Command): Promise<boolean> {
  const open = model.openConns();
  const dropped = [...model.conns.values()].filter((c) => c.state === 'dropped' || c.state === 'gone');
  const target = 'conn' in command ? pick(command.k === 'lateDisconnect' ? dropped : open, command.conn) : undefined;
  const connection = target ? sut.connections.get(target.id) : undefined;
  if ('conn' in command && (!target || !connection)) return false;
  switch (command.k) {
    case 'connect': {
      const ws = sut.workspaces[command.ws]!;
      const user = USERS[command.user]!;
      const opened = await TestConnection.open(sut.service, { rawToken: tokenOf(sut, `${ws}/${user}`) });
      sut.connections.set(opened.id, opened);
      model.connect(ws, user, opened.id, TEAMS[user]);
      return true;
    }
    case 'close':
      await connection!.close();
      model.close(target!.id);
      return true;
    case 'drop':
      // The client vanished without a close: API Gateway still holds the socket, no $disconnect yet.
      model.drop(target!.id);
      return true;
    case 'gone':
      sut.gateway.gone.add(target!.id);
      model.gone(target!.id);
      return true;
    case 'lateDisconnect':
      await connection!.close();
      model.close(target!.id);
      return true;
    case 'heartbeat':
      await connection!.heartbeat(command.active);
      model.heartbeat(target!.id, command.active);
      return true;
    case 'setStatus':
      await connection!.send({ action: 'setStatus', status: command.status, ...(command.reason !== null ? { awayReason: command.reason } : {}) });
      model.setStatus(target!.id, command.status, command.reason);
      return true;
    case 'adminStatus': {
      const ws = sut.workspaces[command.ws]!;
      const user = ADMIN_TARGETS[command.user]!;
      const response = await sut.service.http(
        httpEvent('PUT', `/workspaces/${ws}/agents/${user}/status`, {
          token: tokenOf(sut, `${ws}/${command.admin ? 'admin' : 'agent'}`),
          body: JSON.stringify({ status: command.status, ...(command.reason !== null ? { awayReason: command.reason } : {}) }),
        }),
      );
      const expected = model.adminSetStatus(ws, user, command.status, command.reason, command.admin, 'boss');
      if (response.statusCode !== expected) fail(`PUT agents/${user}/status answered ${response.statusCode}, expected ${expected}`, response.body);
      return true;
    }
    case 'adminLogout': {
      const ws = sut.workspaces[command.ws]!;
      const user = ADMIN_TARGETS[command.user]!;
      const response = await sut.service.http(
        httpEvent('POST', `/workspaces/${ws}/agents/${user}/logout`, { token: tokenOf(sut, `${ws}/${command.admin ? 'admin' : 'agent'}`) }),
      );
      const expected = model.adminLogout(ws, user, command.admin, 'boss');
      if (response.statusCode !== expected) fail(`POST agents/${user}/logout answered ${response.statusCode}, expected ${expected}`, response.body);
      return true;
    }
    case 'subscribe':
      await connection!.subscribe(command.teams);
      model.subscribe(target!.id, command.teams);
      return true;
    case 'logout': {
      await connection!.logout();
      model.logout(target!.id);
      return true;
    }
    case 'settings': {
      const ws = sut.workspaces[command.ws]!;
      const valid = model.validIdleTimeout(command.seconds);
      const response = await sut.service.http(
        httpEvent('PUT', `/workspaces/${ws}/settings`, {
          token: tokenOf(sut, `${ws}/${command.admin ? 'admin' : 'agent'}`),
          body: JSON.stringify({ idleTimeoutSeconds: command.seconds }),
        }),
      );
      const expected = !command.admin ? 403 : valid ? 200 : 400;
      if (response.statusCode !== expected) fail(`PUT settings answered ${response.statusCode}, expected ${expected}`, response.body);
      if (expected === 200) model.setIdleTimeout(ws, command.seconds);
      return true;
    }
    case 'sweep':
      await sut.service.sweep();
      model.sweep();
      return true;
    case 'advance':
      sut.clock.advance(command.ms);
      model.advanceTo(sut.clock.now());
      return true;
  }
}

// ---------- comparison ----------

/** A notice from what the service sent, in the model's key order (comparisons are by JSON). */
function noticeOf(ws: string, change: Omit<Notice, 'ws'>): Notice {
  return {
    ws,
    userId: change.userId,
    status: change.status,
    previous: change.previous,
    reason: change.reason,
    at: change.at,
    ...(change.awayReason !== undefined ? { awayReason: change.awayReason } : {}),
    ...(change.by !== undefined ? { by: change.by } : {}),
  };
}

function noticeOfEvent(event: PresenceChanged): Notice {
  return noticeOf(event.workspaceId, event);
}

function groupByUser(notices: Notice[]): Map<string, Notice[]> {
  const groups = new Map<string, Notice[]>();
  for (const notice of notices) {
    const key = `${notice.ws}/${notice.userId}`;
    groups.set(key, [...(groups.get(key) ?? []), notice]);
  }
  return groups;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

async function compare(sut: Sut, model: PresenceModel, askFunction: boolean): Promise<void> {
  const out = model.takeOutput();
  sut.notices.push(...out.published);
  for (const notice of out.published) stats.reasons[notice.reason] = (stats.reasons[notice.reason] ?? 0) + 1;
  for (const list of out.deliveries.values()) stats.mustDeliveries += list.filter((entry) => entry.expect === 'must').length;

  // 1. Domain events: exactly one per transition, in order per user.
  const ours = new Set(sut.workspaces);
  const events = sut.events.events.slice(sut.eventsSeen).filter((event) => ours.has(event.workspaceId)).map(noticeOfEvent);
  sut.eventsSeen = sut.events.events.length;
  const gotEvents = groupByUser(events);
  const wantEvents = groupByUser(out.published);
  for (const key of new Set([...gotEvents.keys(), ...wantEvents.keys()])) {
    if (!same(gotEvents.get(key) ?? [], wantEvents.get(key) ?? [])) {
      fail(`PresenceChanged events of ${key} differ`, { got: gotEvents.get(key) ?? [], want: wantEvents.get(key) ?? [] });
    }
  }

  // 2. What each connection received.
  const posts = sut.gateway.posts.slice(sut.postsSeen);
  sut.postsSeen = sut.gateway.posts.length;
  const received = new Map<string, ServerMessage[]>();
  for (const post of posts) received.set(post.connectionId, [...(received.get(post.connectionId) ?? []), post.message]);
  for (const conn of model.conns.values()) {
    const messages = received.get(conn.id) ?? [];
    const presence = messages.flatMap((message) => (message.type === 'presence' ? message.changes : []));
    // Order is promised per user (a sweep publishes users in its own order).
    const expectedAll = out.deliveries.get(conn.id) ?? [];
    const gotAll: Notice[] = [];
    for (const message of presence) {
      const ws = sut.workspaces.find((candidate) => displayName(candidate, message.userId) === message.name);
      if (ws !== conn.ws) fail(`connection ${conn.id} of ${conn.ws} received a message about another workspace`, message);
      gotAll.push(noticeOf(ws, message));
    }
    for (const userId of new Set([...expectedAll.map((e) => e.notice.userId), ...gotAll.map((n) => n.userId)])) {
      const expected = expectedAll.filter((entry) => entry.notice.userId === userId);
      const got = gotAll.filter((notice) => notice.userId === userId);
      let i = 0;
      for (const notice of got) {
        while (i < expected.length && !same(expected[i]!.notice, notice)) {
          if (expected[i]!.expect === 'must') fail(`live connection ${conn.id} (${conn.userId}) missed a notification`, { missed: expected[i]!.notice, got });
          i++;
        }
        if (i === expected.length) fail(`connection ${conn.id} (${conn.userId}, ${conn.state}) received an unexpected notification`, { unexpected: notice, expected, got });
        i++;
      }
      const missed = expected.slice(i).filter((entry) => entry.expect === 'must');
      if (missed.length > 0) fail(`live connection ${conn.id} (${conn.userId}) missed notifications`, { missed: missed.map((e) => e.notice), got });
    }
    if (conn.state !== 'dropped' && conn.state !== 'gone') {
      const replies = messages.flatMap((message) =>
        message.type === 'error' ? [`error:${message.code}`] : message.type === 'loggedOut' ? ['loggedOut'] : message.type === 'snapshot' ? ['snapshot'] : [],
      );
      const wanted = out.replies.get(conn.id) ?? [];
      if (!same(replies, wanted)) fail(`connection ${conn.id} (${conn.userId}, ${conn.state}) got replies ${JSON.stringify(replies)}, expected ${JSON.stringify(wanted)}`);
    }
  }

  // 3. What readers see: every user's status (snapshot, as getPresence sends it) and the HTTP query.
  for (const ws of sut.workspaces) {
    const snap = await snapshot(sut.service.harness.ports, ws);
    const want = model.readers(ws);
    const got = snap.users.map((user) => ({
      userId: user.userId,
      status: user.status,
      since: user.since,
      lastActive: user.lastActiveAt,
      ...(user.awayReason !== undefined ? { awayReason: user.awayReason } : {}),
      ...(user.by !== undefined ? { by: user.by } : {}),
    }));
    for (const user of model.usersOf(ws)) {
      const fuzzy = user.fuzzyActivity;
      if (!fuzzy) continue;
      const observed = got.find((entry) => entry.userId === user.userId)?.lastActive;
      if (observed === undefined || observed > fuzzy.at || observed < fuzzy.floor || fuzzy.at - observed >= fuzzy.granularity) {
        fail(`recorded activity of ${user.userId} is ${observed}, expected within ${fuzzy.granularity} ms before ${fuzzy.at}`);
      }
      user.lastActive = observed;
      user.fuzzyActivity = null;
    }
    const wantNow = model.readers(ws);
    if (!same(got, wantNow)) fail(`readers of ${ws.slice(-1)} see another state`, { got, want: wantNow, before: want });
    for (const status of ['online', 'away'] as const satisfies Status[]) {
      const response = await sut.service.http(
        httpEvent('GET', `/workspaces/${ws}/agents`, { token: tokenOf(sut, `${ws}/agent`), query: { status } }),
      );
      if (response.statusCode !== 200) fail(`GET agents?status=${status} answered ${response.statusCode}`, response.body);
      const body = JSON.parse(response.body ?? '{}') as { agents: { userId: string; status: Status }[] };
      const gotIds = body.agents.map((agent) => agent.userId);
      const wantIds = wantNow.filter((user) => user.status === status).map((user) => user.userId);
      if (!same(gotIds, wantIds)) fail(`GET agents?status=${status} in ${ws.slice(-1)} returned ${JSON.stringify(gotIds)}, expected ${JSON.stringify(wantIds)}`);
      // Every reader agrees: the HTTP query, the online-agents function and the snapshot.
      // The snapshot's entries also carry the user's version, which the HTTP API does not show.
      const fromSnapshot = snap.users.filter((user) => user.status === status).map(({ version: _version, ...view }) => view);
      if (!same(body.agents, fromSnapshot)) fail(`GET agents?status=${status} and the snapshot disagree`, { http: body.agents, snapshot: fromSnapshot });
      if (!askFunction) continue;
      const direct = await sut.service.onlineAgents({ workspaceId: ws, status });
      if (!same(direct, body)) fail(`the online-agents function and GET agents?status=${status} disagree`, { direct, http: body });
    }
    await compareReport(sut, model, ws);
  }
}

const DAY_MS = 86_400_000;
const utcDate = (at: number) => new Date(at).toISOString().slice(0, 10);

/**
 * 4. The daily report (UTC, the workspaces' zone) against the model: each user's time per status
 * per day, replayed here from every notice the model published, plus a deadline that passed but
 * is not published yet (what readers see), from the sequence's first day to today.
 */
async function compareReport(sut: Sut, model: PresenceModel, ws: string): Promise<void> {
  const now = sut.clock.now();
  const from = utcDate(sut.startedAt);
  const to = utcDate(now);
  const readers = model.readers(ws);
  type Row = { date: string; userId: string; online: number; away: number; offline: number; awayByReason: Record<string, number> };
  const want: Row[] = [];
  for (const reader of readers) {
    const changes = sut.notices
      .filter((notice) => notice.ws === ws && notice.userId === reader.userId)
      .map((notice) => ({ at: notice.at, status: notice.status, awayReason: notice.awayReason ?? '' }));
    if (reader.status !== (changes.at(-1)?.status ?? 'offline')) changes.push({ at: reader.since, status: reader.status, awayReason: '' });
    for (let day = Date.parse(`${from}T00:00:00Z`); day <= now; day += DAY_MS) {
      const until = Math.min(day + DAY_MS, now);
      const ms = { online: 0, away: 0, offline: 0 };
      const awayMs: Record<string, number> = {};
      let status: Status = 'offline';
      let awayReason = '';
      let since = day;
      const spend = (amount: number) => {
        ms[status] += amount;
        if (status === 'away' && amount > 0) awayMs[awayReason] = (awayMs[awayReason] ?? 0) + amount;
      };
      for (const change of changes) {
        if (change.at >= until) break;
        if (change.at > since) spend(change.at - since);
        since = Math.max(since, change.at);
        status = change.status;
        awayReason = change.awayReason;
      }
      spend(until - since);
      const total = until === day + DAY_MS ? DAY_MS / 1000 : Math.floor((until - day) / 1000);
      const seconds = wholeSeconds(ms, total);
      want.push({ date: utcDate(day), userId: reader.userId, ...seconds, awayByReason: wholeReasonSeconds(awayMs, seconds.away, AWAY_REASONS) });
    }
  }
  want.sort((a, b) => a.date.localeCompare(b.date) || a.userId.localeCompare(b.userId));
  const response = await sut.service.http(httpEvent('GET', `/workspaces/${ws}/reports/status`, { token: tokenOf(sut, `${ws}/admin`), query: { from, to } }));
  if (response.statusCode !== 200) fail(`GET reports/status answered ${response.statusCode}`, response.body);
  const got = (JSON.parse(response.body ?? '{}') as { days: Row[] }).days.map(({ date, userId, online, away, offline, awayByReason }) => ({
    date,
    userId,
    online,
    away,
    offline,
    awayByReason,
  }));
  if (!same(got, want)) fail(`the report of ${ws.slice(-1)} differs from the model's`, { got, want });
}
