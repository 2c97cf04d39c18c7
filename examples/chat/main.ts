/**
 * The chat page. It only draws: the model and the generation run in worker.ts, so the page stays responsive while
 * hundreds of megabytes download and tokens are computed.
 *
 *   model picker ─▶ worker 'load' ─▶ progress bar (bytes of all files, speed) ─▶ 'loaded'
 *   Send ─▶ history + message ─▶ worker 'generate' ─▶ tokens appended as they come (tokens/s) ─▶ 'done'
 *   Stop ─▶ worker 'stop' (AbortSignal of the load or generation)
 */
import type { ChatMessage } from 'weftjs';
import type { FromWorker, ModelChoice, ToWorker } from './protocol.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const send = (m: ToWorker) => worker.postMessage(m);

const history: ChatMessage[] = [];
let busy: 'load' | 'generate' | null = null;
let loaded = false;
let started = 0;
let reply: HTMLSpanElement | null = null;
let replyText = '';

function setBusy(state: typeof busy) {
  busy = state;
  $<HTMLButtonElement>('stop').disabled = state === null;
  $<HTMLButtonElement>('send').disabled = state !== null || !loaded;
  for (const id of ['load-url', 'model-file', 'model-folder']) $<HTMLInputElement>(id).disabled = state === 'generate';
  document.body.dataset.state = state ?? (loaded ? 'ready' : 'idle');
}

function load(model: ModelChoice) {
  loaded = false;
  started = performance.now();
  $<HTMLProgressElement>('progress').value = 0;
  $('load-status').textContent = 'starting…';
  setBusy('load');
  send({ type: 'load', model });
}

$('load-url').onclick = () => {
  const v = $<HTMLInputElement>('model-url').value.trim();
  // A URL relative to this page (e.g. /models/x.gguf) is made absolute; anything else is a hub id.
  load(/^(https?:)?\/|^\.\.?\//.test(v) ? new URL(v, location.href).href : v);
};
$<HTMLInputElement>('model-file').onchange = (e) => {
  const file = (e.target as HTMLInputElement).files?.[0];
  if (file) load(file);
};
$<HTMLInputElement>('model-folder').onchange = (e) => {
  const files = [...((e.target as HTMLInputElement).files ?? [])];
  if (files.length) load(files);
};

$('send').onclick = () => {
  const content = $<HTMLTextAreaElement>('prompt').value;
  history.push({ role: 'user', content });
  addTurn('user', content);
  $<HTMLTextAreaElement>('prompt').value = '';
  reply = addTurn('assistant', '');
  replyText = '';
  started = performance.now();
  $('gen-status').textContent = 'generating…';
  delete $('gen-status').dataset.finish;
  setBusy('generate');
  send({
    type: 'generate',
    messages: history,
    options: { max_new_tokens: Number($<HTMLInputElement>('max-tokens').value), temperature: Number($<HTMLInputElement>('temperature').value) },
  });
};
$('stop').onclick = () => send({ type: 'stop' });
$('clear').onclick = () => {
  history.length = 0;
  $('history').textContent = '';
};

function addTurn(role: string, text: string): HTMLSpanElement {
  const span = document.createElement('span');
  span.className = role;
  span.textContent = text;
  $('history').append(span);
  return span;
}

const mb = (n: number) => (n / 1e6).toFixed(1);

worker.onmessage = ({ data: m }: MessageEvent<FromWorker>) => {
  switch (m.type) {
    case 'progress': {
      const s = (performance.now() - started) / 1000;
      const bar = $<HTMLProgressElement>('progress');
      bar.max = m.total || 1;
      bar.value = m.loaded;
      $('load-status').textContent = `${m.file}: ${mb(m.loaded)} / ${mb(m.total)} MB, ${mb(m.loaded / Math.max(s, 1e-3))} MB/s`;
      break;
    }
    case 'loaded':
      loaded = true;
      $<HTMLProgressElement>('progress').value = $<HTMLProgressElement>('progress').max;
      $('load-status').textContent = `${m.name}: ${mb(m.weightBytes)} MB of weights in ${(m.loadMs / 1000).toFixed(2)} s; ${m.chatTemplate ? 'chat template' : 'no chat template: plain text continuation'}`;
      setBusy(null);
      break;
    case 'token':
      replyText += m.text;
      reply!.textContent = replyText;
      $('gen-status').textContent = `${((performance.now() - started) / 1000).toFixed(1)} s`;
      break;
    case 'done':
      history.push({ role: 'assistant', content: replyText });
      $('gen-status').textContent = `${m.tokens} tokens, ${m.tokensPerS.toFixed(1)} tokens/s (${m.finishReason})`;
      $('gen-status').dataset.finish = m.finishReason;
      setBusy(null);
      break;
    case 'error':
      (busy === 'generate' ? $('gen-status') : $('load-status')).textContent = `error: ${m.message}`;
      if (busy === 'generate') history.pop(); // the user message that got no answer
      setBusy(null);
      break;
  }
};
setBusy(null);
