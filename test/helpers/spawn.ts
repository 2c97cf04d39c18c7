/**
 * Long-running child processes for tests (a Vite dev server, workerd): started with a pipe on stdout/stderr, ready
 * once the output matches `ready` (or at once without it), stopped by pid — never by name, so nothing else on the
 * machine is touched.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface Server {
  child: ChildProcess;
  /** The first match of `ready` in the output ([''] without `ready`). */
  match: RegExpMatchArray;
  /** Everything the process printed so far. */
  output(): string;
  stop(): Promise<void>;
}

export async function startProcess(command: string, args: string[], options: SpawnOptions & { ready?: RegExp; timeoutMs?: number }): Promise<Server> {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const stop = () =>
    new Promise<void>((ok) => {
      if (child.exitCode !== null || child.signalCode !== null) return ok();
      const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => {
        clearTimeout(force);
        ok();
      });
      child.kill('SIGTERM');
    });
  const match = await new Promise<RegExpMatchArray>((ok, fail) => {
    const timer = setTimeout(() => done(new Error(`${command} not ready after ${options.timeoutMs ?? 60_000} ms:\n${out}`)), options.timeoutMs ?? 60_000);
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = out.replace(/\x1b\[[0-9;]*m/g, '').match(options.ready!);
      if (m) done(null, m);
    };
    const onExit = (code: number | null) => done(new Error(`${command} exited (${code}) before it was ready:\n${out}`));
    function done(err: Error | null, m?: RegExpMatchArray) {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.stderr!.off('data', onData);
      child.off('exit', onExit);
      child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
      if (err) void stop().then(() => fail(err));
      else ok(m!);
    }
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', onExit);
    if (!options.ready) done(null, ['']);
  });
  return { child, match, output: () => out, stop };
}
