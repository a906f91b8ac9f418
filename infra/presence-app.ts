/** Builds both stacks of one stage into an app; app.ts and the tests share it. */
import type { App } from 'aws-cdk-lib';
import { readDeployConfig } from './config.ts';
import { PresenceStatefulStack } from './stateful-stack.ts';
import { PresenceStatelessStack } from './stateless-stack.ts';

export function buildPresenceApp(app: App) {
  const config = readDeployConfig(app.node);
  const stateful = new PresenceStatefulStack(app, `Presence-${config.stage}-Stateful`, {
    description: `Presence service (${config.stage}): table, event bus and token secret`,
    createJwtSecret: config.jwt.mode === 'secret' && !config.jwt.secretArn,
  });
  const stateless = new PresenceStatelessStack(app, `Presence-${config.stage}-Stateless`, {
    description: `Presence service (${config.stage}): APIs, functions, sweeper, alarms`,
    config,
    table: stateful.table,
    bus: stateful.bus,
    ...(stateful.jwtSecret ? { jwtSecret: stateful.jwtSecret } : {}),
  });
  return { config, stateful, stateless };
}
