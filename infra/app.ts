/** The CDK app. `npx cdk synth` works offline; `-c stage=<name>` names the stage (default `dev`). */
import { App } from 'aws-cdk-lib';
import { PresenceStatefulStack } from './stateful-stack.ts';

const app = new App();
const stage = (app.node.tryGetContext('stage') as string | undefined) ?? 'dev';
new PresenceStatefulStack(app, `Presence-${stage}-Stateful`, {
  description: `Presence service (${stage}): table and event bus`,
});
app.synth();
