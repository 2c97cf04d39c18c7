import { Template } from '@huggingface/jinja';
import { WeftError } from '../errors.js';

export interface ChatMessage {
  role: string;
  content: string;
}

const compiled = new Map<string, Template>();

/**
 * Renders a Hugging Face chat template (Jinja) with @huggingface/jinja, given the messages, `add_generation_prompt`
 * and any other template variables (special-token strings, tools, …).
 */
export function renderChatTemplate(source: string, messages: ChatMessage[], variables: Record<string, unknown>): string {
  let template = compiled.get(source);
  if (!template) {
    try {
      template = new Template(source);
    } catch (e) {
      throw new WeftError('E_TOKENIZER', `chat_template does not parse: ${(e as Error).message}`);
    }
    compiled.set(source, template);
  }
  try {
    return template.render({ add_generation_prompt: false, ...variables, messages });
  } catch (e) {
    throw new WeftError('E_TOKENIZER', `chat_template failed to render: ${(e as Error).message}`);
  }
}
