/**
 * `npm run bench [-- --quick]`: every benchmark scenario, one markdown table on
 * stdout, bench/results/latest.json. Measures and reports; asserts nothing.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { startDynamoDbLocal } from '#local/dynamodb-local.ts';
import { costPer1000AgentHours, loadPrices, PRICES_FILE, worstCaseDetectionSeconds } from './cost.ts';
import { best as bestRun, dynamoReadCeiling, fanoutFloorMs, postCeiling, sdkCpuPerPost } from './ceilings.ts';
import { bundlesScenario, bundlesTable } from './bundles.ts';
import { historyScenario, historyTable } from './history.ts';
import { machine, round } from './lib.ts';
import { detectionScenario, fanoutScenario, heartbeatScenario, readyScenario } from './live.ts';
import { queryScenario, sweepScenario } from './scale.ts';
import { type HourResult, simulateHour } from './units.ts';
import { deliveryReadsScenario, sizeScenario, snapshotScenario, stormScenario } from './workspaces.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const quick = process.argv.includes('--quick');
/** `--scale-only`: only the large-workspace scenarios; their `scale` section replaces the one in latest.json. */
const scaleOnly = process.argv.includes('--scale-only');
/** `--bundles-only`: only each function's bundle size and cold start; the `bundles` section replaces the one in latest.json. */
const bundlesOnly = process.argv.includes('--bundles-only');
/** `--history-only`: only the status history costs; the `history` section replaces the one in latest.json. */
const historyOnly = process.argv.includes('--history-only');
/** The local stack's defaults: chunks of 100 connections, posted by 2 worker threads. */
const DEFAULT_CHUNK_SIZE = 100;
const DEFAULT_WORKERS = 2;
const sizes = quick
  ? { fanout: [100, 500], changes: 50, agents: 10_000, due: 100, online: 100, beatSeconds: 4, detection: 4 }
  : { fanout: [100, 500, 1000], changes: 60, agents: 100_000, due: 1_000, online: 1_000, beatSeconds: 10, detection: 10 };

const log = (message: string) => process.stderr.write(`bench: ${message}\n`);
const startedAt = performance.now();
const elapsed = () => `${((performance.now() - startedAt) / 1000).toFixed(0)} s`;

/** A `--<section>-only` run: replaces that one section of latest.json, keeps the others, prints its table. */
function writeSection(name: string, value: unknown, table: string): void {
  const file = new URL('./results/latest.json', import.meta.url);
  const previous = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  writeFileSync(file, `${JSON.stringify({ ...previous, [name]: value }, null, 2)}\n`);
  process.stdout.write(`${table}\n`);
  log(`done in ${elapsed()}; wrote the ${name} section of bench/results/latest.json`);
}

if (bundlesOnly) {
  log('bundles: each function built as CDK builds it, then loaded in fresh Node processes');
  const bundles = await bundlesScenario();
  writeSection('bundles', bundles, bundlesTable(bundles));
  process.exit(0);
}

/** Recording costs at 4 transitions an agent-day; the report over 1,000 agents (200 with --quick) and 30 days. */
async function historyScenarios() {
  const fresh = await startDynamoDbLocal();
  try {
    const writes = await historyScenario(fresh.endpoint, { agents: 50, days: 30, perDay: 4 });
    const reads = await historyScenario(fresh.endpoint, { agents: quick ? 200 : 1000, days: 30, perDay: 1 });
    return { ...writes, report: reads.report };
  } finally {
    await fresh.stop();
  }
}

if (historyOnly) {
  log('history: recording costs, and a 30-day report');
  const history = await historyScenarios();
  writeSection('history', history, historyTable(history));
  process.exit(0);
}

const db = await startDynamoDbLocal();
try {
  // Last in a whole run: the storm leaves DynamoDB Local (one JVM for every scenario) slow for a
  // while, which would skew the scenarios after it.
  const runScale = async () => {
    log(`large workspaces: sizes, storm of 1,000 agents, snapshot of 5,000 users (${elapsed()})`);
    return scaleScenarios();
  };
  if (scaleOnly) {
    const scale = await runScale();
    writeSection('scale', scale, scaleTable(scale));
    await db.stop();
    process.exit(0);
  }
  const prices = loadPrices();

  log(`agent-hours at 30/60/120 s heartbeats (${elapsed()})`);
  const hours: Record<string, { connected: HourResult; active: HourResult }> = {};
  for (const beat of [30, 60, 120]) {
    // Three beats per lease, as the local stack and the page configure clients.
    const lease = beat * 3;
    hours[beat] = {
      connected: await simulateHour(db.endpoint, { heartbeatSeconds: beat, leaseSeconds: lease, active: false }),
      active: await simulateHour(db.endpoint, { heartbeatSeconds: beat, leaseSeconds: lease, active: true }),
    };
  }
  const costs = Object.fromEntries(
    Object.entries(hours).map(([beat, h]) => [beat, { connected: costPer1000AgentHours(h.connected, prices), active: costPer1000AgentHours(h.active, prices) }]),
  );

  log(`sweep over ${sizes.agents} agents (${elapsed()})`);
  const sweep = await sweepScenario(db.endpoint, sizes.agents, sizes.due);
  log(`query over ${sizes.agents} agents (${elapsed()})`);
  const query = await queryScenario(db.endpoint, sizes.agents, sizes.online);
  log(`fan-out ${sizes.fanout.join('/')} clients (${elapsed()})`);
  const fanout = await fanoutScenario(db.endpoint, sizes.fanout, sizes.changes);
  // The same fan-out with every post made by the handler itself, as before the fan-out was split.
  const fanoutInline = quick ? [] : await fanoutScenario(db.endpoint, [500], sizes.changes, { workers: 0 });
  log(`heartbeats (${elapsed()})`);
  const heartbeat = await heartbeatScenario(db.endpoint, [1, 8, 32], sizes.beatSeconds);
  log(`machine ceilings: DynamoDB Local reads, SDK posts (${elapsed()})`);
  const readRuns = await dynamoReadCeiling(db.endpoint, [1, 8, 32], quick ? 2 : 4);
  const postRuns = await postCeiling(db.endpoint, [1, 16, 64], quick ? 2 : 4);
  const sdk = await sdkCpuPerPost(quick ? 2000 : 5000, 32);
  log(`detection (${elapsed()})`);
  const detection = await detectionScenario(db.endpoint, sizes.detection);
  log(`npm start (${elapsed()})`);
  const ready = await readyScenario();
  log(`bundles and cold starts (${elapsed()})`);
  const bundles = await bundlesScenario();
  log(`status history (${elapsed()})`);
  const history = await historyScenarios();
  const scale = await runScale();

  const largest = fanout[fanout.length - 1];
  const at500 = fanout.find((run) => run.clients === 500);
  const best = [...heartbeat].sort((a, b) => b.perSecond - a.perSecond)[0];
  const h30 = hours['30'];
  if (!largest || !best || !h30) throw new Error('a scenario returned nothing');
  const cost = (beat: number) => round(costs[beat]?.connected.total ?? Number.NaN, 4);
  const reads = bestRun(readRuns);
  const posts = bestRun(postRuns);
  const ceilings = {
    dynamodbReadsPerSecond: reads.perSecond,
    dynamodbReadRuns: readRuns,
    // A heartbeat makes `requestsPerBeat` requests; none can be served faster than the best read.
    heartbeatsPerSecondAtMost: Math.round(reads.perSecond / Math.max(1, best.requestsPerBeat)),
    postsPerSecond: posts.perSecond,
    postRuns,
    fanoutFloorMsAt500: fanoutFloorMs(500, posts.perSecond),
    // The SDK's own CPU per post (stub endpoint in another process): what stays in the Lambda on
    // AWS. A 256 MB function has about 256/1769 of a vCPU.
    sdkCpuMsPerPost: sdk.cpuMsPerPost,
    sdkCpuMsFor500Posts: round(500 * sdk.cpuMsPerPost, 0),
    projectedFanoutMsAt500On256MbLambda: round((500 * sdk.cpuMsPerPost * 1769) / 256, 0),
    // With the fan-out split: one chunk's CPU in the fan-out function (1,769 MB, one vCPU), before
    // the invocation's own latency; the chunks of a fan-out run at once.
    projectedChunkCpuMsOnFanoutFunction: round(DEFAULT_CHUNK_SIZE * sdk.cpuMsPerPost, 0),
  };
  // What 1,000 connected agent-hours at 30 s beats cost before any DynamoDB unit or handler
  // millisecond: the heartbeat messages, connection-minutes, invocations and the sweeper's share.
  const b30 = costs['30']?.connected;
  const costFloor30 = b30 ? round(b30.apiGatewayMessages + b30.apiGatewayConnectionMinutes + b30.lambdaRequests + b30.sweeperFixedShare + b30.eventBridge, 4) : Number.NaN;

  const results = {
    machine: machine(),
    date: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    fanout: {
      clients: largest.clients,
      p50Ms: largest.p50Ms,
      p95Ms: largest.p95Ms,
      p99Ms: largest.p99Ms,
      runs: fanout,
      chunkSize: DEFAULT_CHUNK_SIZE,
      workers: DEFAULT_WORKERS,
      inlineRuns: fanoutInline,
    },
    heartbeat: { perSecond: best.perSecond, p99Ms: best.p99Ms, concurrency: best.concurrency, runs: heartbeat },
    detection: {
      ...detection,
      timeoutLagMs: detection.timeoutLagMs.max,
      idleLagMs: detection.idleLagMs.max,
      timeoutLagP50Ms: detection.timeoutLagMs.p50,
      idleLagP50Ms: detection.idleLagMs.p50,
    },
    dynamodb: {
      wruPerConnectedAgentHour: h30.connected.wru,
      wruPerActiveAgentHour: h30.active.wru,
      rruPerConnectedAgentHour: h30.connected.rru,
      rruPerActiveAgentHour: h30.active.rru,
      wruByTarget: { connected: h30.connected.wruByTarget, active: h30.active.wruByTarget },
      capacitySource: h30.active.capacitySource,
      hours,
    },
    costUsdPer1000AgentHours: { 30: cost(30), 60: cost(60), 120: cost(120) },
    costUsdPer1000ActiveAgentHours: Object.fromEntries([30, 60, 120].map((b) => [b, round(costs[b]?.active.total ?? Number.NaN, 4)])),
    costBreakdown: costs,
    costFloorUsdPer1000AgentHoursAt30: costFloor30,
    ceilings,
    worstCaseTimeoutDetectionSeconds: Object.fromEntries([30, 60, 120].map((b) => [b, worstCaseDetectionSeconds(b * 3, 5)])),
    prices: { file: PRICES_FILE, asOf: prices.asOf, region: prices.region },
    sweep: {
      ...sweep,
      agents: sweep.agents,
      due: sweep.due,
      itemsReadPerTransition: sweep.itemsReadPerTransition,
      baselineItemsReadPerTransition: sweep.baselineItemsReadPerTransition,
    },
    query: { ...query, agents: query.agents, online: query.online, itemsReadPerAgent: query.itemsReadPerAgent },
    readyMs: ready.readyMs,
    readyReportedSeconds: ready.reportedSeconds,
    scale,
    bundles,
    history,
  };

  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/latest.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);

  const mark = (ok: boolean) => (ok ? 'met' : '**missed**');
  const rows: string[][] = [
    [
      `fan-out p50 / p95 / p99 (time until every client has it; chunks of ${DEFAULT_CHUNK_SIZE} over ${DEFAULT_WORKERS} worker threads)`,
      fanout.map((r) => `${r.clients} clients: ${r.p50Ms} / ${r.p95Ms} / ${r.p99Ms} ms`).join('; '),
      'p99 at 500 <= 100 ms',
      at500 ? mark(at500.p99Ms <= 100) : 'not run',
    ],
    ...fanoutInline.map((r) => [
      'fan-out without the parallel chunks (every post by the handler), p50 / p95 / p99',
      `${r.clients} clients: ${r.p50Ms} / ${r.p95Ms} / ${r.p99Ms} ms`,
      '',
      '',
    ]),
    [
      'ceiling: SDK posts per second to the emulator, one process (best of c=1/16/64)',
      `${postRuns.map((r) => `c=${r.concurrency}: ${r.perSecond}/s`).join('; ')}: a fan-out to 500 takes at least ${ceilings.fanoutFloorMsAt500} ms here; the SDK alone spends ${sdk.cpuMsPerPost} ms of CPU a post (${ceilings.sdkCpuMsFor500Posts} ms for 500 in one thread, about ${ceilings.projectedFanoutMsAt500On256MbLambda} ms in one 256 MB Lambda; ${ceilings.projectedChunkCpuMsOnFanoutFunction} ms for a chunk of ${DEFAULT_CHUNK_SIZE} in the one-vCPU fan-out function)`,
      '',
      '',
    ],
    ['heartbeats (handler, best of c=1/8/32)', `${heartbeat.map((r) => `c=${r.concurrency}: ${r.perSecond}/s p99 ${r.p99Ms} ms`).join('; ')} (${Math.round(best.writeShare * 100)}% write)`, '>= 2,000/s', mark(best.perSecond >= 2000)],
    [
      'ceiling: DynamoDB Local consistent reads per second (best of c=1/8/32)',
      `${readRuns.map((r) => `c=${r.concurrency}: ${r.perSecond}/s`).join('; ')}: at ${best.requestsPerBeat} requests a beat, at most ${ceilings.heartbeatsPerSecondAtMost} beats/s here`,
      '',
      '',
    ],
    ['timeout lag past lease (p50 / max)', `${detection.timeoutLagMs.p50} / ${detection.timeoutLagMs.max} ms (${detection.samples} samples)`, '<= 5 s', mark(detection.timeoutLagMs.max <= 5000)],
    ['idle lag past deadline (p50 / max)', `${detection.idleLagMs.p50} / ${detection.idleLagMs.max} ms`, '<= 6 s', mark(detection.idleLagMs.max <= 6000)],
    ['WRU per connected (never active) agent-hour, 30 s beats', `${h30.connected.wru} (${fmtTargets(h30.connected.wruByTarget)})`, '<= 90', mark(h30.connected.wru <= 90)],
    ['WRU per active agent-hour, 30 s beats', `${h30.active.wru} (${fmtTargets(h30.active.wruByTarget)})`, '<= 90', mark(h30.active.wru <= 90)],
    ['RRU per connected / active agent-hour', `${h30.connected.rru} / ${h30.active.rru}`, '', ''],
    ...[30, 60, 120].map((b) => [
      `USD per 1,000 agent-hours, ${b} s beats, ${b * 3} s lease (connected / active)`,
      `$${cost(b)} / $${round(costs[b]?.active.total ?? Number.NaN, 4)}; worst-case timeout detection ${worstCaseDetectionSeconds(b * 3, 5)} s`,
      b === 30 ? `<= $0.20 (floor before DynamoDB: $${costFloor30})` : '',
      b === 30 ? `${mark(cost(30) <= 0.2)} / ${mark((costs[30]?.active.total ?? Infinity) <= 0.2)}` : '',
    ]),
    ['sweep items read per transition (Scan baseline)', `${sweep.itemsReadPerTransition} (${sweep.baselineItemsReadPerTransition}) at ${sweep.agents} agents, ${sweep.due} due; pass ${sweep.passMs} ms (${sweep.baselinePassMs} ms)`, '<= 1.2', mark(sweep.itemsReadPerTransition <= 1.2)],
    ['query items read per agent returned', `${query.itemsReadPerAgent} (${query.returned} of ${query.agents}, ${query.queryMs} ms)`, '<= 1.5', mark(query.itemsReadPerAgent <= 1.5)],
    ['npm start to ready', `${ready.readyMs} ms`, '<= 5 s', mark(ready.readyMs <= 5000)],
  ];
  const table = [
    `Benchmark (${results.mode}), ${results.date.slice(0, 10)}, ${results.machine}; DynamoDB Local; prices ${prices.region} as of ${prices.asOf}`,
    '',
    '| scenario | measured | target | |',
    '| --- | --- | --- | --- |',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    '',
    `DynamoDB units: ${h30.active.capacitySource}.`,
    '',
    scaleTable(scale),
    '',
    bundlesTable(bundles),
    '',
    historyTable(history),
  ].join('\n');
  process.stdout.write(`${table}\n`);
  log(`done in ${elapsed()}; wrote bench/results/latest.json`);
} finally {
  await db.stop();
}

function fmtTargets(byTarget: Record<string, number>): string {
  return Object.entries(byTarget)
    .map(([name, units]) => `${name} ${units}`)
    .join(', ');
}

/** Large workspaces: per size (--quick: 20 and 200 only, 20 transitions each), the storm, the snapshot. */
async function scaleScenarios() {
  const usd = loadPrices().apiGatewayWebSocket.usdPerMillionMessages;
  // Each on a DynamoDB Local of its own: one JVM that had held a storm, 2,000 connections closing
  // at once and tens of thousands of items slowed every later scenario by minutes.
  const fresh = async <T>(label: string, run: (endpoint: string) => Promise<T>): Promise<T> => {
    log(`scale: ${label} (${elapsed()})`);
    const own = await startDynamoDbLocal();
    try {
      return await run(own.endpoint);
    } finally {
      await own.stop();
    }
  };
  const storm = await fresh('storm', (endpoint) => stormScenario(endpoint, 1000, quick ? 30_000 : 60_000));
  const snapshot = await fresh('snapshot', (endpoint) => snapshotScenario(endpoint, 5000));
  const deliveryReads = [];
  for (const connections of [20, 200, 2000, 5000]) deliveryReads.push(await fresh(`delivery reads at ${connections}`, (endpoint) => deliveryReadsScenario(endpoint, connections)));
  const sizes = [];
  for (const agents of quick ? [20, 200] : [20, 200, 2000]) sizes.push(await fresh(`${agents} agents`, (endpoint) => sizeScenario(endpoint, agents, quick ? 20 : 40, 250, usd)));
  return {
    deliveryReads,
    sizes,
    sizesNote: quick ? 'quick: 20 and 200 agents only (2,000 skipped), 20 transitions each' : '40 transitions each',
    storm: { ...storm, giveUpMs: quick ? 30_000 : 60_000 },
    snapshot,
  };
}

function scaleTable(scale: Awaited<ReturnType<typeof scaleScenarios>>): string {
  const s = scale.storm;
  const converged = s.convergeMs === null ? `did not converge within ${s.giveUpMs / 1000} s of the last connect` : `converged ${s.convergeMs} ms after the last connect`;
  return [
    '| large workspaces | measured | target | |',
    '| --- | --- | --- | --- |',
    `| storm: ${s.agents} agents in ${Math.round(s.connectSpanMs / 1000)} s, teams of ${s.teamSize}, ${s.wallboards} wallboards | ${converged}; ${s.ready} connected, wallboards hold ${s.onlineAtWallboards.join('/')} online, ${s.completeTeamRosters} complete team rosters; ${s.postsPerAgent} presence frames per arriving agent, ${s.wallboardFrames.join('/')} frames per wallboard, at most ${s.wallboardMaxGapMs} ms apart; ${s.flaps} flaps, ${s.clientErrors} client errors, ${s.stackErrors} stack errors, ${s.stackWarnings} warnings | converged <= 15 s, no flap | ${s.convergeMs !== null && s.convergeMs <= 15_000 && s.flaps === 0 ? 'met' : '**missed**'} |`,
    `| snapshot of ${scale.snapshot.users} users | ${scale.snapshot.parts} parts, ${scale.snapshot.bytes} bytes, last part after ${scale.snapshot.ms} ms | | |`,
    ...scale.sizes.map(
      (z) =>
        `| ${z.agents} agents, ${z.wallboards} wallboard(s): messages per agent-hour, USD per 1,000 agent-hours (messages), commit to team subscriber p50 / p99, to wallboard p50 / p99 | ${z.messagesPerAgentHour} (${z.messagesPerTransition} per transition), $${z.usdPer1000AgentHours}; ${z.p50Ms} / ${z.p99Ms} ms; ${z.wallboardP50Ms} / ${z.wallboardP99Ms} ms${z.failedChanges ? `; ${z.failedChanges} setStatus failed` : ''} | | |`,
    ),
    `| sizes | ${scale.sizesNote} | | |`,
    ...scale.deliveryReads.map(
      (r) =>
        `| consumer reads for one team agent's transition, ${r.connections} team subscribers + ${r.wallboards} wallboard(s) | ${r.audienceReadUnits} read units in ${r.audienceQueries} Queries for an audience of ${r.audienceConnections} (${r.posts} posts); listing the workspace would read ${r.workspaceListReadUnits} | grows with the audience, not N | |`,
    ),
  ].join('\n');
}
