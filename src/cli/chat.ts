/**
 * `weft chat`: an interactive chat in the terminal. Each line read from stdin is a user message; the answer
 * streams as it is generated. The conversation goes through the tokenizer's chat template, and each turn reuses
 * the KV cache of the previous one. A model without a chat template (like the embedded stories260K) gets each line
 * continued as plain text instead, with a note saying so. Ctrl-C stops the current answer; Ctrl-D (end of input)
 * ends the chat.
 */
import { createInterface } from 'node:readline';
import { WeftError } from '../errors.js';
import type { ChatMessage, GenerateResult, LanguageModel } from '../generation/generate.js';
import { chatStream, stream } from '../generation/generate.js';
import { loadModelFromOptions, MODEL_OPTIONS, MODEL_USAGE, parseOptions, SAMPLING_OPTIONS, SAMPLING_USAGE, samplingFromOptions } from './common.js';

const USAGE = `usage: weft chat [--model PATH] [--system TEXT] [options]

Without --model, chats with the embedded stories260K (which has no chat template: lines are continued as text).
${MODEL_USAGE}
  --system TEXT            a system message to start the conversation with
${SAMPLING_USAGE}`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOptions(argv, { ...MODEL_OPTIONS, ...SAMPLING_OPTIONS, system: { type: 'string' } }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const options = samplingFromOptions(values);
  const lm = await loadModelFromOptions(values, true);
  const templated = hasChatTemplate(lm);
  if (!templated) console.error(`note: ${lm.source} has no chat template; each line you type is continued as plain text.`);

  const interactive = process.stdin.isTTY === true;
  const lines = createInterface({ input: process.stdin, terminal: interactive });
  let current: AbortController | null = null;
  lines.on('SIGINT', () => (current ? current.abort() : lines.close()));
  const messages: ChatMessage[] = values.system !== undefined ? [{ role: 'system', content: values.system }] : [];
  try {
    if (interactive) process.stdout.write('> ');
    for await (const line of lines) {
      if (line.trim() !== '') {
        current = new AbortController();
        const user: ChatMessage = { role: 'user', content: line };
        const answer = templated ? chatStream(lm, [...messages, user], { ...options, signal: current.signal }) : stream(lm, line, { ...options, signal: current.signal });
        const result = await printStream(answer);
        current = null;
        if (templated) messages.push(user, { role: 'assistant', content: result.text });
      }
      if (interactive) process.stdout.write('> ');
    }
  } finally {
    lines.close();
    lm.model.dispose();
  }
  return 0;
}

/** Whether the tokenizer can render a conversation (applyChatTemplate throws E_MISSING when it has no template). */
function hasChatTemplate(lm: LanguageModel): boolean {
  if (!lm.tokenizer) return false;
  try {
    lm.tokenizer.applyChatTemplate([{ role: 'user', content: 'hi' }], { add_generation_prompt: true });
    return true;
  } catch (e) {
    if (e instanceof WeftError && e.code === 'E_MISSING') return false;
    throw e;
  }
}

/** Writes the pieces as they come and ends the answer with a newline. */
async function printStream(pieces: AsyncGenerator<string, GenerateResult, void>): Promise<GenerateResult> {
  for (;;) {
    const step = await pieces.next();
    if (step.done) {
      process.stdout.write('\n');
      return step.value;
    }
    process.stdout.write(step.value);
  }
}
