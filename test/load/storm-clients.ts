/**
 * Child process of the connect storm: runs the storm's clients (test/load/storm.ts) apart from the
 * stack, as bench/fanout-client.ts does for the fan-out, so the 1,000 SDK clients do not share the
 * stack's one thread. Talks to its parent over IPC: `{options}` in; `delivered?` out (the parent
 * answers once the stack's delivery barrier passed); `{report}` out.
 */
import { runStorm, type StormOptions } from '#test/load/storm.ts';

type Input = Omit<StormOptions, 'delivered' | 'log'> & { progress?: boolean };
const send = (message: unknown) => process.send?.(message);

process.once('message', async (input: Input) => {
  let answer: (() => void) | undefined;
  process.on('message', (message) => message === 'delivered' && answer?.());
  try {
    const { report, floor } = await runStorm({
      ...input,
      delivered: () =>
        new Promise<void>((resolve) => {
          answer = resolve;
          send('delivered?');
        }),
      ...(input.progress ? { log: (line: string) => send({ log: line }) } : {}),
    });
    floor.close();
    send({ report });
  } catch (error) {
    send({ error: String((error as Error).stack ?? error) });
  }
  process.disconnect();
});
