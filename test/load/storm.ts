/**
 * The connect storm: wallboards watching the whole workspace, then `agents` SDK clients, each
 * subscribed to its team, connecting within `spreadMs`. Measures how long after the last connect
 * every view is complete, how many presence frames the storm cost, and whether anyone flapped.
 * The storm test (storm.test.ts) asserts on the report; the `scale` benchmark reports it.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { complete, converged, type Floor, openFloor } from '#test/load/floor.ts';
import type { SigningSettings } from '#local/tokens.ts';

export interface StormOptions {
  wsUrl: string;
  signing: SigningSettings;
  /** The stack's delivery barrier: every committed change delivered. */
  delivered: () => Promise<void>;
  workspace: string;
  agents: number;
  /** 25 agents a team, 3 wallboards. */
  teamSize?: number;
  wallboards?: number;
  /** The agents connect evenly over this long: 10 s, the storm BENCHMARKS.md measures. */
  spreadMs?: number;
  /** The agents' SDK heartbeat interval: 20 s. */
  heartbeatIntervalMs?: number;
  /**
   * Stop waiting this long after the last connect() call and report what was reached
   * (`convergeMs` null) instead of waiting for ever. Unset: wait (the test's own timeout ends it).
   */
  giveUpMs?: number;
  /** Progress every 5 s (ready agents, agents online at each wallboard, complete team rosters). */
  log?: (line: string) => void;
}

export interface StormReport {
  agents: number;
  wallboards: number;
  teamSize: number;
  /** From the first to the last `connect()` call. */
  connectSpanMs: number;
  /** From the last `connect()` call until every `connect()` resolved. */
  lastReadyMs: number;
  /** From the last `connect()` call until every wallboard and every team roster was complete; null: not within giveUpMs. */
  convergeMs: number | null;
  /** From the first `connect()` call until then. */
  stormMs: number | null;
  /** Agents whose connect() resolved, agents online at each wallboard, and complete team rosters, at the end. */
  ready: number;
  onlineAtWallboards: number[];
  completeTeamRosters: number;
  /** Up to 10 incomplete team rosters: whose, and which teammates were missing or not online. */
  incomplete: string[];
  /** `presence` frames each wallboard received. */
  wallboardFrames: number[];
  /** `presence` frames every client received (wallboards and agents): what API Gateway would bill. */
  presenceFrames: number;
  /** presenceFrames / agents. */
  postsPerAgent: number;
  /** Changes per frame at the wallboards. */
  changesPerWallboardFrame: number;
  /**
   * The longest wait between two presence frames at any wallboard, from its first storm frame
   * until the storm converged (changes were pending all along): how far apart its batches came.
   */
  wallboardMaxGapMs: number;
  /** `offline` changes of a storm agent seen by any observer (must be none). */
  flaps: string[];
  /** Errors the clients reported (server error replies, failed connections). */
  clientErrors: string[];
}

export async function runStorm(options: StormOptions): Promise<{ report: StormReport; floor: Floor }> {
  const teamSize = options.teamSize ?? 25;
  const settings = {
    wsUrl: options.wsUrl,
    signing: options.signing,
    workspace: options.workspace,
    agents: options.agents,
    teamSize,
    wallboards: options.wallboards ?? 3,
    spreadMs: options.spreadMs ?? 10_000,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 20_000,
  };
  const floor = await openFloor(settings);
  const progress = options.log
    ? setInterval(() => {
        const ready = floor.agents.filter((agent) => agent.readyAt > 0).length;
        const online = floor.wallboards.map((board) => [...board.held].filter(([id, held]) => id.startsWith('agent-') && held.status === 'online').length);
        const rosters = floor.agents.filter((agent) => [...agent.client.roster.values()].filter((e) => e.status === 'online').length >= Math.min(teamSize, settings.agents)).length;
        const errors = floor.agents.reduce((sum, agent) => sum + agent.errors.length, 0);
        const first = floor.agents.find((agent) => agent.errors.length > 0)?.errors[0];
        options.log?.(`storm: ${ready} ready, wallboards see ${online.join('/')} online, ${rosters} team rosters full, ${errors} client errors${first ? ` (first: ${first})` : ''}`);
      }, 5000)
    : undefined;
  try {
    // Watch before the first agent connects, so each view's completion is seen when it happens.
    const done = converged(floor, settings);
    const connected = floor.connectAll();
    let convergedAt: number | null;
    if (options.giveUpMs === undefined) {
      await connected;
      convergedAt = await done;
    } else {
      // The deadline counts from the last connect() call: every agent has started by spreadMs.
      const spread = settings.spreadMs;
      const giveUp = new Promise<null>((resolve) => setTimeout(() => resolve(null), spread + options.giveUpMs!).unref());
      convergedAt = await Promise.race([connected.then(() => done), giveUp]);
    }
    await options.delivered();
    const wallboardFrames = floor.wallboards.map((board) => board.frames);
    const presenceFrames = wallboardFrames.reduce((a, b) => a + b, 0) + floor.agents.reduce((sum, agent) => sum + agent.counter.frames, 0);
    const isAgent = (userId: string) => userId.startsWith('agent-');
    const flaps = [
      ...floor.wallboards.flatMap((board, w) =>
        board.receipts.filter((r) => isAgent(r.userId) && r.status === 'offline').map((r) => `wallboard-${w} saw ${r.userId} ${r.reason}`),
      ),
      ...floor.agents.flatMap((agent) =>
        agent.presence.filter((r) => isAgent(r.userId) && r.status === 'offline').map((r) => `${agent.userId} saw ${r.userId} ${r.reason}`),
      ),
    ];
    const wallboardChanges = floor.wallboards.reduce((sum, board) => sum + board.receipts.length, 0);
    const stormEnd = convergedAt ?? Number.POSITIVE_INFINITY;
    const wallboardMaxGapMs = Math.max(
      0,
      ...floor.wallboards.map((board) => {
        const times = [...new Set(board.receipts.filter((r) => isAgent(r.userId) && r.receivedAt <= stormEnd).map((r) => r.receivedAt))].sort((a, b) => a - b);
        return times.reduce((gap, time, i) => (i === 0 ? 0 : Math.max(gap, time - times[i - 1]!)), 0);
      }),
    );
    const report: StormReport = {
      agents: settings.agents,
      wallboards: settings.wallboards,
      teamSize,
      connectSpanMs: floor.lastConnectAt - floor.firstConnectAt,
      lastReadyMs: floor.lastReadyAt - floor.lastConnectAt,
      convergeMs: convergedAt === null ? null : convergedAt - floor.lastConnectAt,
      stormMs: convergedAt === null ? null : convergedAt - floor.firstConnectAt,
      ready: floor.agents.filter((agent) => agent.readyAt > 0).length,
      onlineAtWallboards: floor.wallboards.map((board) => [...board.held].filter(([id, held]) => id.startsWith('agent-') && held.status === 'online').length),
      completeTeamRosters: floor.agents.filter((agent) => complete(agent, settings)).length,
      incomplete: floor.agents
        .filter((agent) => !complete(agent, settings))
        .slice(0, 10)
        .map((agent) => {
          const start = Math.floor(agent.index / teamSize) * teamSize;
          const missing = Array.from({ length: Math.min(teamSize, settings.agents - start) }, (_, k) => `agent-${start + k}`)
            .filter((id) => agent.client.roster.get(id)?.status !== 'online')
            .map((id) => `${id}:${agent.client.roster.get(id)?.status ?? 'absent'}`);
          return `${agent.userId} (ready ${agent.readyAt > 0}) lacks ${missing.join(' ')}`;
        }),
      wallboardFrames,
      presenceFrames,
      postsPerAgent: Math.round((presenceFrames / settings.agents) * 100) / 100,
      wallboardMaxGapMs,
      changesPerWallboardFrame: Math.round((wallboardChanges / Math.max(1, wallboardFrames.reduce((a, b) => a + b, 0))) * 10) / 10,
      flaps,
      clientErrors: [
        ...floor.wallboards.flatMap((board, w) => board.errors.map((e) => `wallboard-${w}: ${e}`)),
        ...floor.agents.flatMap((agent) => agent.errors.map((e) => `${agent.userId}: ${e}`)),
      ],
    };
    return { report, floor };
  } catch (error) {
    floor.close();
    throw error;
  } finally {
    clearInterval(progress);
  }
}

/**
 * The storm with its clients in a child process (storm-clients.ts); `delivered` runs here, on
 * the stack's side.
 */
export function runStormInChild(options: StormOptions, timeoutMs = 600_000): Promise<StormReport> {
  const { delivered, log, ...input } = options;
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./storm-clients.ts', import.meta.url))], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise<StormReport>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the storm did not finish in ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', (message: 'delivered?' | { log: string } | { report: StormReport } | { error: string }) => {
      if (message === 'delivered?') void delivered().then(() => child.send('delivered'), reject);
      else if ('log' in message) log?.(message.log);
      else if ('report' in message) resolve(message.report);
      else reject(new Error(`storm clients failed: ${message.error}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`storm clients exited with ${code} before reporting`));
    });
    child.send({ ...input, progress: log !== undefined });
  });
}
