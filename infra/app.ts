/**
 * The CDK app: a stateful stack (table, bus, signing secret) and a stateless stack (everything else),
 * both checked by cdk-nag. `npx cdk synth` works offline; configuration is CDK context (infra/config.ts).
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildPresenceApp } from './presence-app.ts';

const app = new App();
buildPresenceApp(app);
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
