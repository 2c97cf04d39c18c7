#!/usr/bin/env node
/**
 * The `weft` command. Each subcommand lives in its own file and exports `run(argv): Promise<number>` (the exit
 * code); they are imported on demand so `weft tokenize` does not load the model code.
 * Errors print as `weft: <message>` with exit code 1; set WEFT_DEBUG=1 for the stack.
 */
import { WeftError } from '../errors.js';

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }> = {
  generate: { summary: 'generate text from a model (default: the embedded stories260K)', load: () => import('./generate.js') },
  chat: { summary: 'interactive chat with a model, streaming tokens', load: () => import('./chat.js') },
  forward: { summary: 'print raw logits for token ids (for exactness checks)', load: () => import('./forward.js') },
  tokenize: { summary: 'print the token ids of a text', load: () => import('./tokenize.js') },
  cache: { summary: 'list (ls) or delete (clear) the models downloaded from URLs and hub ids', load: () => import('./cache.js') },
};

/** The package's version, from the package.json two folders up (src/cli or dist/cli). */
async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return (JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `usage: weft <command> [options]  (weft --version: the version)\n\ncommands:\n${lines.join('\n')}\n\nRun \`weft <command> --help\` for a command's options.`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v') {
    console.log(`weft ${await version()}`);
    return 0;
  }
  if (!name || name === '--help' || name === '-h') {
    console.log(usage());
    return name ? 0 : 1;
  }
  const cmd = COMMANDS[name];
  if (!cmd) throw new WeftError('E_OPTION', `unknown command '${name}'\n${usage()}`);
  return (await cmd.load()).run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (process.env.WEFT_DEBUG) console.error(e);
    else console.error(`weft: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  },
);
