// Writes a Hugging Face-style tokenizer.json of Llama 3's vocabulary (V = 128,256) from the npm
// package llama3-tokenizer-js, for `tally vocab import` benchmarks and tests. Not committed: the
// vocabulary's licence follows its model (the Llama 3 Community Licence); the package's code is MIT.
//
//   npm install --prefix /tmp/llama3 llama3-tokenizer-js@1.2.0
//   node bench/vocab/llama3-tokenizer-json.mjs /tmp/llama3 /tmp/llama3-tokenizer.json
//
// The package ships model.vocab as its token strings in id order (GPT-2's byte-to-unicode form)
// and the 256 special tokens after them; merges are left out (registration does not read them).
import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const [prefix, out] = process.argv.slice(2);
if (!prefix || !out) {
  console.error("usage: node llama3-tokenizer-json.mjs NPM_PREFIX OUT.json");
  process.exit(2);
}
const require = createRequire(join(prefix, "node_modules", "noop.js"));
const { default: tokenizer } = await import(require.resolve("llama3-tokenizer-js"));
const pieces = tokenizer.vocabById;
const special = new Set(pieces.slice(128000));
const vocab = {};
const added = [];
pieces.forEach((piece, id) => {
  if (special.has(piece)) {
    added.push({ id, content: piece, single_word: false, lstrip: false, rstrip: false,
      normalized: false, special: true });
  } else {
    vocab[piece] = id;
  }
});
writeFileSync(out, JSON.stringify({
  version: "1.0",
  added_tokens: added,
  pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
  decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: { type: "BPE", vocab, merges: [] },
}));
console.log(`wrote ${out}: ${pieces.length} tokens, ${added.length} special`);
