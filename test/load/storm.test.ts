/**
 * The connect storm on the local stack (real clock, sweeper timer on, the delivery consumer on
 * DynamoDB Local's stream): 3 wallboards watch the workspace, then the agents, each an SDK
 * client subscribed to its team of 25, connect within 10 s, from a child process. Every view
 * must become complete, nobody may flap offline, and the wallboards must get a few batched
 * messages rather than one per arrival. No timed assertion: the times are printed.
 *
 * SMALLER THAN ASKED: the storm of the issue is 1,000 agents in 10 s. On this machine (2 cores,
 * the stack, its emulator and its management endpoint in one process) that storm does not
 * converge today: `@connections` posts pass the 3 s post timeout (AbortError), `$connect` and
 * `subscribe` answer internal errors, wallboards miss changes for good and agents time out
 * after the lease (measured, BENCHMARKS.md "Large workspaces"; the bench's `scale.storm` runs
 * the 1,000). 500 in 10 s shows the same errors. STORM_AGENTS=1000 runs the real size here.
 * At 200 it also found the SDK dropping teammates from a snapshot (fixed in 66b0323).
 */
import { randomUUID } from 'node:crypto';
import { expect, inject, it } from 'vitest';
import type { Logger } from '#app/ports.ts';
import { startLocalStack } from '#local/stack.ts';
import { runStormInChild } from '#test/load/storm.ts';

const AGENTS = Number(process.env.STORM_AGENTS ?? 200);

it(
  `${AGENTS} agents connect within 10 s: every view complete, no flap, a few batched frames per wallboard`,
  async () => {
    const errors: string[] = [];
    const logger: Logger = {
      info() {},
      warn() {},
      error: (message, ...extra) => errors.push(`${message} ${JSON.stringify(extra).slice(0, 300)}`),
    };
    const stack = await startLocalStack({
      httpPort: 0,
      wsPort: 0,
      logger,
      env: {
        PRESENCE_JWT_SECRET: 'storm-test-secret-0123456789abcdef-0123',
        PRESENCE_DYNAMODB_ENDPOINT: inject('dynamoEndpoint'),
        PRESENCE_TABLE_NAME: `storm-${randomUUID()}`,
        // The defaults otherwise: a 90 s lease, heartbeats every 20 s, a sweep every 5 s.
      },
    });
    try {
      const report = await runStormInChild({
        wsUrl: stack.wsUrl,
        signing: stack.signing,
        delivered: () => stack.delivered(),
        workspace: `storm-${randomUUID().slice(0, 8)}`,
        agents: AGENTS,
        spreadMs: 10_000,
        heartbeatIntervalMs: 20_000,
        log: (line) => console.log(line),
        // Not a timed assertion: past this, the run reports what it reached instead of hanging.
        giveUpMs: Number(process.env.STORM_GIVE_UP_MS ?? 240_000),
      });
      const { flaps, clientErrors, ...numbers } = report;
      console.log(`storm: ${JSON.stringify(numbers)}`);
      console.log(`storm: flaps ${JSON.stringify(flaps.slice(0, 10))}; client errors ${JSON.stringify(clientErrors.slice(0, 10))}`);

      // Every connect() resolved and every view converged (runStorm waits for both).
      expect(report.incomplete).toEqual([]);
      expect({ ready: report.ready, completeTeamRosters: report.completeTeamRosters, onlineAtWallboards: report.onlineAtWallboards }).toEqual({
        ready: AGENTS,
        completeTeamRosters: AGENTS,
        onlineAtWallboards: [AGENTS, AGENTS, AGENTS],
      });
      expect(flaps).toEqual([]);
      expect(clientErrors).toEqual([]);
      expect(errors).toEqual([]);
      // A few batched messages per wallboard, not one per arrival.
      for (const frames of report.wallboardFrames) expect(frames).toBeLessThan(AGENTS / 4);
    } finally {
      await stack.stop();
    }
  },
  600_000,
);
