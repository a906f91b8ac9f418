/**
 * What this machine can do at all, independent of the presence design: how many reads a second
 * DynamoDB Local answers, and how many `@connections` posts a second the AWS SDK gets through to
 * the emulator in one Node process. A heartbeat needs at least one read, and a fan-out to N
 * clients needs N posts, so these bound the heartbeat and fan-out numbers from above and below.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import WebSocket from 'ws';
import { ApiGatewayConnectionGateway } from '#adapters/api-gateway.ts';
import { startLocalStack } from '#local/stack.ts';
import { mintToken } from '#local/tokens.ts';
import { CapacityMeter, meteredClient, newTable, round, saturate, silentLogger } from './lib.ts';

/** What every ceiling posts: one presence message, as fan-out sends it. */
const MESSAGE = { type: 'presence', userId: 'alice', name: 'Alice', teams: ['sales'], status: 'away', previous: 'online', reason: 'manual', at: 0 };

export interface CeilingRun {
  concurrency: number;
  perSecond: number;
}

async function ceiling(concurrency: number, seconds: number, once: () => Promise<unknown>): Promise<CeilingRun> {
  const { done, elapsed } = await saturate(concurrency, seconds, once);
  return { concurrency, perSecond: Math.round(done / elapsed) };
}

/** Strongly consistent GetItem of one small item, as the heartbeat's read is. */
export async function dynamoReadCeiling(dynamoEndpoint: string, concurrencies: number[], seconds: number): Promise<CeilingRun[]> {
  const db = meteredClient(dynamoEndpoint, new CapacityMeter());
  try {
    const tableName = await newTable(db.client, 'ceiling');
    const Key = { pk: 'WS#ceiling', sk: 'AGENT#u' };
    await db.doc.send(new PutCommand({ TableName: tableName, Item: { ...Key, name: 'U', version: 1 } }));
    const runs: CeilingRun[] = [];
    for (const concurrency of concurrencies) {
      runs.push(await ceiling(concurrency, seconds, () => db.doc.send(new GetCommand({ TableName: tableName, Key, ConsistentRead: true }))));
    }
    return runs;
  } finally {
    db.client.destroy();
  }
}

/** Posts of one presence message through the real adapter and SDK to one emulator connection. */
export async function postCeiling(dynamoEndpoint: string, concurrencies: number[], seconds: number): Promise<CeilingRun[]> {
  const secret = 'bench-ceiling-secret-0123456789abcdef';
  const stack = await startLocalStack({
    httpPort: 0,
    wsPort: 0,
    sweepTimer: false,
    logger: silentLogger,
    env: {
      PRESENCE_JWT_SECRET: secret,
      PRESENCE_DYNAMODB_ENDPOINT: dynamoEndpoint,
      PRESENCE_TABLE_NAME: `bench-posts-${randomUUID().slice(0, 8)}`,
    },
  });
  const client = new ApiGatewayManagementApiClient({
    endpoint: stack.emulator.managementUrl,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  let socket: WebSocket | undefined;
  try {
    const token = await mintToken({ workspace: 'ceiling', user: 'reader' }, { secret });
    socket = new WebSocket(`${stack.wsUrl}?token=${token}`);
    const ws = socket;
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    await stack.emulator.idle();
    const connectionId = stack.emulator.connectionIds()[0];
    if (!connectionId) throw new Error('the ceiling client did not connect');
    const gateway = new ApiGatewayConnectionGateway({ client, requestTimeoutMs: 3000 });
    const runs: CeilingRun[] = [];
    for (const concurrency of concurrencies) runs.push(await ceiling(concurrency, seconds, () => gateway.post(connectionId, MESSAGE)));
    return runs;
  } finally {
    socket?.close();
    client.destroy();
    await stack.stop();
  }
}

export function best(runs: CeilingRun[]): CeilingRun {
  const top = [...runs].sort((a, b) => b.perSecond - a.perSecond)[0];
  if (!top) throw new Error('no ceiling run');
  return top;
}

/** The fastest a fan-out to `clients` can finish when every post costs 1 / postsPerSecond of the process. */
export function fanoutFloorMs(clients: number, postsPerSecond: number): number {
  return round((clients / postsPerSecond) * 1000, 0);
}

/**
 * CPU time the AWS SDK spends per `@connections` post in the posting process, measured against a
 * stub endpoint in a child process that answers 200 at once: the part of a fan-out that stays in
 * the Lambda on AWS, where API Gateway does the delivery.
 */
export async function sdkCpuPerPost(posts: number, concurrency: number): Promise<{ cpuMsPerPost: number; postsPerSecond: number }> {
  const { spawn } = await import('node:child_process');
  const stub = spawn(
    process.execPath,
    [
      '-e',
      "require('http').createServer((q,s)=>{q.resume();q.on('end',()=>{s.writeHead(200,{'content-length':0});s.end();});}).listen(0,'127.0.0.1',function(){process.stdout.write(String(this.address().port)+'\\n');});",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const port = await new Promise<number>((resolve, reject) => {
      stub.stdout.once('data', (data: Buffer) => resolve(Number(String(data).trim())));
      stub.once('error', reject);
    });
    const client = new ApiGatewayManagementApiClient({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const gateway = new ApiGatewayConnectionGateway({ client, requestTimeoutMs: 3000 });
    const send = async (count: number) => {
      let i = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (i++ < count) await gateway.post('conn-ceiling', MESSAGE);
        }),
      );
    };
    await send(Math.min(500, posts)); // warm up: JIT, sockets
    const cpu = process.cpuUsage();
    const started = performance.now();
    await send(posts);
    const wallMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    client.destroy();
    return {
      cpuMsPerPost: round((used.user + used.system) / 1000 / posts, 3),
      postsPerSecond: Math.round(posts / (wallMs / 1000)),
    };
  } finally {
    stub.kill();
  }
}
