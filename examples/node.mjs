// Generate text with the model embedded in the package (or pass a model path as the first argument).
// Run from the repository after `npm ci`: node examples/node.mjs [model] [tokenizer]
import { fileURLToPath } from 'node:url';
import { loadModel, generate, stream } from '../dist/index.js';

const model = process.argv[2] ?? fileURLToPath(new URL('../assets/stories260K.bin', import.meta.url));
const lm = await loadModel(model, { tokenizer: process.argv[3] });

const out = await generate(lm, 'Once upon a time', { max_new_tokens: 40, temperature: 0 });
console.log(JSON.stringify({ text: out.text, finishReason: out.finishReason, ids: out.ids.length }));

for await (const piece of stream(lm, 'The cat', { max_new_tokens: 30, temperature: 0.8, seed: 42 })) process.stdout.write(piece);
process.stdout.write('\n');
lm.model.dispose();
