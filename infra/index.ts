/**
 * What another CDK app imports to run the presence service in its own stack: the PresenceService
 * construct, its props, and the table factory for a table it should share (README, "Embedding").
 */
export { type PresenceAuth, PresenceService, type PresenceServiceProps, PresenceServicePropsError, type PresenceTimings } from './presence-service.ts';
export { newJwtSecret, newPresenceTable } from './presence-table.ts';
