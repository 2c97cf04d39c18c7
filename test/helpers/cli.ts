/** Running the `weft` command as a user does: a child process through tsx on the sources. */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

/** The project root, where the CLI runs. */
export const ROOT = resolve(__dirname, '../..');
/** Each test spawns one or more Node processes (~1 s each, more on a busy machine). */
export const SPAWN_TIMEOUT = 60_000;

/** Runs `weft <args>` with optional stdin and extra environment variables; resolves with the exit code and output. */
export function weft(args: string[], input?: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn('npx', ['tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}
