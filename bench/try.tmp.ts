import { startDynamoDbLocal } from '#local/dynamodb-local.ts';
import { simulateHour } from './units.ts';
const db = await startDynamoDbLocal();
try {
  for (const active of [false, true]) console.log(JSON.stringify(await simulateHour(db.endpoint, { heartbeatSeconds: 30, leaseSeconds: 90, active })));
} finally { await db.stop(); }
