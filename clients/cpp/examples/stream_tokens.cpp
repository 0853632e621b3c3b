// Streams a toy model's logits to Tally through one Session and prints the tokens.
//
//   tally_stream_example --target unix:/tmp/tally.sock [--vocab 256] [--steps 12]
//
// The "model" is a hash of the last token: every logit is a multiple of 1/16 in [-4, 4], so it is
// exact in float32, float16 and bfloat16. Four sequences decode with continuous batching
// (two join later, one leaves early), once per dtype, and the example checks its own answers:
// the greedy sequence's tokens are the argmax of the rows it sent, every dtype gives the float32
// tokens, and a bad step is refused without ending the session. It exits 1 on any mismatch.
// clients/python/tests/test_cpp_example.py runs the same schedule with the Python client and
// checks that both languages get the same tokens.
#include <tally/client.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace {

// The toy model: the logits after token `last` (same function as tests/toy_model.py).
std::vector<float> toy_logits(uint32_t last, uint32_t vocab) {
  std::vector<float> out(vocab);
  for (uint32_t v = 0; v < vocab; ++v) {
    uint32_t h = (last * 0x9E3779B1u) ^ (v * 0x85EBCA77u);
    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    h ^= h >> 12;
    out[v] = static_cast<float>(static_cast<int>(h % 129u) - 64) / 16.0f;
  }
  return out;
}

uint32_t bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  return x;
}

// float -> bfloat16 bits, round to nearest even.
uint16_t to_bf16(float f) {
  uint32_t x = bits(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FC0;  // NaN
  x += 0x7FFFu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}

// float -> IEEE half bits, round to nearest even.
uint16_t to_f16(float f) {
  uint32_t x = bits(f);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t mant = x & 0x7FFFFFu;
  int exp = static_cast<int>((x >> 23) & 0xFFu);
  if (exp == 0xFF) return static_cast<uint16_t>(sign | 0x7C00u | (mant ? 0x200u : 0u));
  int e = exp - 127 + 15;
  if (e >= 0x1F) return static_cast<uint16_t>(sign | 0x7C00u);
  if (e <= 0) {
    if (e < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000u;
    uint32_t shift = static_cast<uint32_t>(14 - e);
    uint32_t half = mant >> shift, rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1u))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = (static_cast<uint32_t>(e) << 10) | (mant >> 13), rem = mant & 0x1FFFu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) ++half;
  return static_cast<uint16_t>(sign | half);
}

struct Seq {
  uint64_t id;
  std::vector<int32_t> prompt;
  int joins;       // the step at which it joins the batch
  int max_tokens;  // it leaves after this many tokens
  tally::v1::SamplingParams params;
  std::vector<int32_t> output;
};

std::vector<Seq> schedule(int steps) {
  std::vector<Seq> seqs(4);
  seqs[0] = {1, {4}, 0, steps, {}, {}};
  seqs[0].params.set_temperature(0.0f);  // greedy
  seqs[1] = {2, {9, 8}, 0, 6, {}, {}};
  seqs[1].params.set_temperature(0.8f);
  seqs[1].params.set_seed(42);
  seqs[2] = {3, {1, 2}, 2, steps, {}, {}};
  seqs[2].params.set_temperature(1.0f);
  seqs[2].params.set_top_k(20);
  seqs[2].params.set_seed(7);
  seqs[3] = {4, {100}, 4, steps, {}, {}};
  seqs[3].params.set_temperature(0.7f);
  seqs[3].params.set_top_p(0.9f);
  seqs[3].params.set_repetition_penalty(1.3f);
  seqs[3].params.set_seed(3);
  return seqs;
}

const char* dtype_name(tally::v1::DType d) {
  return d == tally::v1::DTYPE_FLOAT16 ? "float16"
         : d == tally::v1::DTYPE_BFLOAT16 ? "bfloat16" : "float32";
}

// One decode loop with continuous batching; returns each sequence's tokens. Sets `ok` false
// when a greedy token is not the argmax of its row or a row failed.
std::map<uint64_t, std::vector<int32_t>> decode(tally::Session& session, uint32_t vocab, int steps,
                                                tally::v1::DType dtype, bool verbose, bool& ok) {
  std::vector<Seq> seqs = schedule(steps);
  std::vector<Seq*> active;
  std::map<uint64_t, std::vector<int32_t>> out;
  size_t joined = 0;
  for (int step = 0; joined < seqs.size() || !active.empty(); ++step) {
    for (Seq& s : seqs) {
      if (s.joins == step) {
        session.add(s.id, s.params, s.prompt);
        active.push_back(&s);
        ++joined;
        if (verbose) std::printf("step %2d  + seq %llu joins\n", step, (unsigned long long)s.id);
      }
    }
    if (active.empty()) continue;
    std::vector<uint64_t> ids;
    std::vector<float> rows;  // [active x vocab], row-major
    for (Seq* s : active) {
      ids.push_back(s->id);
      int32_t last = s->output.empty() ? s->prompt.back() : s->output.back();
      std::vector<float> row = toy_logits(static_cast<uint32_t>(last), vocab);
      rows.insert(rows.end(), row.begin(), row.end());
    }
    std::vector<tally::Choice> choices;
    if (dtype == tally::v1::DTYPE_FLOAT32) {
      choices = session.step(ids, rows.data(), vocab);
    } else {
      std::vector<uint16_t> half(rows.size());
      std::transform(rows.begin(), rows.end(), half.begin(),
                     dtype == tally::v1::DTYPE_BFLOAT16 ? to_bf16 : to_f16);
      choices = session.step(ids, half.data(), vocab, dtype);
    }
    if (verbose) std::printf("step %2d  %zu rows:", step, ids.size());
    std::vector<Seq*> still;
    for (size_t i = 0; i < active.size(); ++i) {
      Seq* s = active[i];
      const tally::Choice& c = choices[i];
      if (c.error) {
        std::printf("\nrow %zu failed: %s\n", i, c.error->what());
        ok = false;
      }
      if (!s->params.has_temperature() || s->params.temperature() == 0.0f) {
        const float* row = rows.data() + i * vocab;
        int32_t argmax = static_cast<int32_t>(std::max_element(row, row + vocab) - row);
        if (c.token_id != argmax) {
          std::printf("\nMISMATCH: greedy seq %llu chose %d, argmax is %d\n",
                      (unsigned long long)s->id, c.token_id, argmax);
          ok = false;
        }
      }
      if (verbose) {
        std::printf("  %llu:%d (logprob %.3f, rank %u)", (unsigned long long)s->id, c.token_id,
                    c.logprob, c.rank);
      }
      s->output.push_back(c.token_id);
      if (static_cast<int>(s->output.size()) >= s->max_tokens || c.finished()) {
        session.remove(s->id);  // travels with the next step
      } else {
        still.push_back(s);
      }
    }
    if (verbose) std::printf("\n");
    active = still;
  }
  session.flush();
  for (const Seq& s : seqs) out[s.id] = s.output;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string target = "127.0.0.1:50051";
  uint32_t vocab = 256;
  int steps = 12;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--target") target = argv[i + 1];
    else if (a == "--vocab") vocab = static_cast<uint32_t>(std::atoi(argv[i + 1]));
    else if (a == "--steps") steps = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: %s [--target ADDR] [--vocab N] [--steps N]\n", argv[0]);
      return 2;
    }
  }

  try {
    auto channel = tally::connect(target);
    tally::Client client(channel);
    tally::v1::ServerInfo info = client.server_info();
    std::printf("Tally %s at %s\n", info.version().c_str(), target.c_str());

    bool ok = true;
    std::map<tally::v1::DType, std::map<uint64_t, std::vector<int32_t>>> runs;
    for (tally::v1::DType dtype : {tally::v1::DTYPE_FLOAT32, tally::v1::DTYPE_FLOAT16,
                                   tally::v1::DTYPE_BFLOAT16}) {
      tally::Session session(channel);
      bool verbose = dtype == tally::v1::DTYPE_FLOAT32;
      if (verbose) std::printf("-- %s\n", dtype_name(dtype));
      runs[dtype] = decode(session, vocab, steps, dtype, verbose, ok);

      if (dtype == tally::v1::DTYPE_FLOAT32) {
        // A bad step is refused as a whole and the session goes on.
        std::vector<float> row = toy_logits(0, vocab);
        try {
          session.step({999}, row.data(), vocab);
          std::printf("MISMATCH: a step for an unknown sequence was accepted\n");
          ok = false;
        } catch (const tally::StepError& e) {
          std::printf("refused as expected: %s (reason %s, field %s)\n", e.what(),
                      e.reason().c_str(), e.field().c_str());
          ok = ok && e.reason() == "UNKNOWN_SEQUENCE" && e.field() == "row_sequence_ids[0]";
        }
        tally::v1::SamplingParams greedy;
        greedy.set_temperature(0.0f);
        session.add(1000, greedy);
        auto after = session.step({1000}, row.data(), vocab);
        ok = ok && after.size() == 1 && !after[0].error;
      }
      grpc::Status end = session.close();
      if (!end.ok()) throw tally::Error::from_grpc(end);
    }

    for (const auto& [id, tokens] : runs[tally::v1::DTYPE_FLOAT32]) {
      std::printf("tokens %llu:", (unsigned long long)id);
      for (int32_t t : tokens) std::printf(" %d", t);
      std::printf("\n");
    }
    for (tally::v1::DType dtype : {tally::v1::DTYPE_FLOAT16, tally::v1::DTYPE_BFLOAT16}) {
      bool same = runs[dtype] == runs[tally::v1::DTYPE_FLOAT32];
      std::printf("%s tokens %s float32's\n", dtype_name(dtype), same ? "==" : "!=");
      ok = ok && same;
    }
    // The same float32 run with the logits in shared memory, where the server can map them.
    if (info.shared_memory().supported()) {
      tally::Session shm(channel, true);
      bool quiet = false;
      auto via_shm = decode(shm, vocab, steps, tally::v1::DTYPE_FLOAT32, quiet, ok);
      grpc::Status end = shm.close();
      if (!end.ok()) throw tally::Error::from_grpc(end);
      bool same = via_shm == runs[tally::v1::DTYPE_FLOAT32];
      std::printf("shared-memory tokens %s inline\n", same ? "==" : "!=");
      ok = ok && same;
    } else {
      std::printf("shared memory not offered here: %s\n",
                  info.shared_memory().unsupported_reason().c_str());
    }
    std::printf(ok ? "tokens OK\n" : "tokens MISMATCH\n");
    return ok ? 0 : 1;
  } catch (const tally::Error& e) {
    std::fprintf(stderr, "error: %s (reason %s, field %s)\n", e.what(), e.reason().c_str(),
                 e.field().c_str());
    return 1;
  }
}
