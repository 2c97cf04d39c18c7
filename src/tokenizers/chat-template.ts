/**
 * Chat templates (Jinja, from tokenizer_config.json or GGUF) rendered with @huggingface/jinja, the engine
 * transformers.js uses, so the text is byte for byte what Hugging Face's `apply_chat_template` makes.
 *
 * A template comes from a downloaded file, so rendering is bounded: a template that loops without end
 * (`range(100000000)`, nested loops, recursive macros) stops after MAX_STEPS evaluations (each item a `range()`
 * builds counts as one) with an error that names the template, the expression it was at and why.
 */
import { Interpreter, Template } from '@huggingface/jinja';
import { WeftError } from '../errors.js';

export interface ChatMessage {
  role: string;
  content: string;
}

/** Evaluations one render may take: the reference templates (Llama 3, Qwen3, Gemma 3) take under 100 per conversation. */
export const MAX_STEPS = 200_000;

type Node = { type: string; value?: unknown; callee?: Node; property?: Node; object?: Node; args?: Node[] };

/** What an AST node is, for an error message: `call raise_exception`, `for loop`, `identifier messages`, … */
function describe(node: Node | null): string {
  if (!node) return 'the template';
  const name = (n: Node | undefined): string =>
    !n ? '?' : n.type === 'Identifier' ? String(n.value) : n.type === 'MemberExpression' ? `${name(n.object)}.${name(n.property)}` : n.type;
  if (node.type === 'CallExpression') return `a call of ${name(node.callee)}()`;
  if (node.type === 'Identifier' || node.type === 'MemberExpression') return name(node);
  return `a ${node.type}`;
}

/**
 * Counts evaluations and remembers the innermost node an error came from. The engine builds its own Interpreter
 * inside `Template.render`, so the budget is installed on the prototype for the duration of one (synchronous)
 * render and removed right after: no other code can run in between.
 */
interface RenderState {
  steps: number;
  failedAt: Node | null;
}

function withStepBudget<T>(state: RenderState, render: () => T): T {
  const proto = Interpreter.prototype as unknown as { evaluate: (statement: Node, env: unknown) => unknown };
  const original = proto.evaluate;
  proto.evaluate = function (this: unknown, statement: Node, env: unknown): unknown {
    if (++state.steps > MAX_STEPS) throw new StepLimit();
    try {
      if (statement?.type === 'CallExpression' && statement.callee?.type === 'Identifier' && statement.callee.value === 'range') {
        // range() builds its whole list at once: check its size before the engine allocates it (arguments are
        // expressions without side effects, so evaluating them twice is harmless).
        const args = (statement.args ?? []).map((a) => (original.call(this, a, env) as { value: unknown }).value);
        state.steps += rangeLength(args); // building the list costs a step per item
      }
      return original.call(this, statement, env);
    } catch (e) {
      state.failedAt ??= statement ?? null;
      throw e;
    }
  };
  try {
    return render();
  } finally {
    proto.evaluate = original;
  }
}

class StepLimit extends Error {}

/** The length of the list `range(start?, stop, step?)` builds; past MAX_STEPS it is refused before it is built. */
function rangeLength(args: unknown[]): number {
  if (!args.every((a) => typeof a === 'number')) return 0; // the engine reports bad arguments itself
  const [a, b, c] = args as number[];
  const [start, stop, step] = b === undefined ? [0, a!, 1] : [a!, b, c ?? 1];
  const count = step === 0 ? 0 : Math.max(0, Math.ceil((stop - start) / step));
  if (count > MAX_STEPS) throw new StepLimit();
  return count;
}

const compiled = new Map<string, Template>();

/**
 * Renders a Hugging Face chat template given the messages, `add_generation_prompt` and any other template
 * variables (special-token strings, tools, …). `name` says which template, for errors.
 */
export function renderChatTemplate(source: string, messages: ChatMessage[], variables: Record<string, unknown>, name = 'chat_template'): string {
  let template = compiled.get(source);
  if (!template) {
    try {
      template = new Template(source);
    } catch (e) {
      throw new WeftError('E_TOKENIZER', `${name} does not parse: ${(e as Error).message}`);
    }
    compiled.set(source, template);
  }
  const state: RenderState = { steps: 0, failedAt: null };
  const t = template;
  try {
    const out = withStepBudget(state, () => t.render({ add_generation_prompt: false, ...variables, messages }));
    return out;
  } catch (e) {
    if (e instanceof StepLimit) {
      throw new WeftError('E_TOKENIZER', `${name} did not finish rendering within ${MAX_STEPS} steps (at ${describe(state.failedAt)}): an unbounded loop?`);
    }
    throw new WeftError('E_TOKENIZER', `${name} failed to render at ${describe(state.failedAt)}: ${(e as Error).message}`, { cause: e });
  }
}
