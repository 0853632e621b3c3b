// A small header-only C++ client for Tally, the gRPC sampling sidecar.
//
//   auto channel = tally::connect("unix:/run/tally/tally.sock");
//   tally::Session session(channel);
//   tally::v1::SamplingParams p;
//   p.set_temperature(0.7f); p.set_top_p(0.9f); p.set_seed(42); p.add_eos_token_ids(2);
//   session.add(1, p, {/* prompt token ids */});
//   std::vector<tally::Choice> out = session.step({1}, logits, vocab);   // const float* [rows*vocab]
//
// Rows are row-major buffers: `const float*` for float32, `const uint16_t*` for the raw bits of
// float16 or bfloat16 (nothing is converted: the bytes go out as they are, little-endian).
// Sampling parameters are the generated `tally::v1::SamplingParams`. Errors throw `tally::Error`
// (gRPC status code, Tally error code from ErrorInfo.reason, offending field from BadRequest);
// a step the server refused as a whole throws `tally::StepError` and the session goes on; a row
// that failed alone comes back with `Choice::error` set and `token_id == -1`.
//
// Shared memory (docs/shared-memory.md): `tally::Session session(channel, true)` writes each step's
// logits once into a sealed memfd of this process that the server maps read-only, and the step
// only names the bytes (the server must be on this host, JDK 22+, over its Unix socket or
// loopback). The step's response frees the bytes for the next step.
//
// Needs the stubs generated from proto/tally/v1/sampler.proto and google/rpc/{status,
// error_details}.proto (the CMake project in clients/cpp does it) and grpc++. A Session is not
// thread-safe; a channel is.
#pragma once

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "tally/v1/sampler.grpc.pb.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tally/client.hpp sends host-order tensors: it needs a little-endian host"
#endif

namespace tally {

// A request Tally refused or could not serve.
class Error : public std::runtime_error {
 public:
  Error(grpc::StatusCode code, const std::string& message, std::string reason = {},
        std::string field = {})
      : std::runtime_error(describe(code, message, reason)),
        code_(code), message_(message), reason_(std::move(reason)), field_(std::move(field)) {}

  // The gRPC status code, e.g. grpc::StatusCode::INVALID_ARGUMENT.
  grpc::StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // Tally's stable error code (google.rpc.ErrorInfo.reason), e.g. "INVALID_PARAMS"; empty when
  // the failure did not come from Tally (a dead connection, a deadline).
  const std::string& reason() const { return reason_; }
  // The offending request field (google.rpc.BadRequest), e.g. "params[0].top_p"; may be empty.
  const std::string& field() const { return field_; }

  static Error from_status(const google::rpc::Status& status) {
    std::string reason, field;
    for (const auto& detail : status.details()) {
      google::rpc::ErrorInfo info;
      google::rpc::BadRequest bad;
      if (detail.UnpackTo(&info)) {
        reason = info.reason();
        auto it = info.metadata().find("field");
        if (field.empty() && it != info.metadata().end()) field = it->second;
      } else if (detail.UnpackTo(&bad) && bad.field_violations_size() > 0) {
        field = bad.field_violations(0).field();
      }
    }
    return Error(static_cast<grpc::StatusCode>(status.code()), status.message(), reason, field);
  }

  static Error from_grpc(const grpc::Status& status) {
    google::rpc::Status rich;
    if (!status.error_details().empty() && rich.ParseFromString(status.error_details()) &&
        rich.code() == status.error_code()) {
      return from_status(rich);
    }
    return Error(status.error_code(), status.error_message());
  }

 private:
  static std::string describe(grpc::StatusCode code, const std::string& message,
                              const std::string& reason) {
    static const char* const names[] = {
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
        "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
        "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
        "UNAUTHENTICATED"};
    int c = static_cast<int>(code);
    std::string text = "[";
    text += (c >= 0 && c <= 16) ? names[c] : std::to_string(c);
    if (!reason.empty()) text += "/" + reason;
    return text + "] " + message;
  }

  grpc::StatusCode code_;
  std::string message_, reason_, field_;
};

// A whole session step refused (SessionResponse.error): nothing of it was applied, the session
// goes on.
class StepError : public Error {
 public:
  explicit StepError(const Error& e) : Error(e) {}
};

struct TokenLogprob {
  int32_t token_id;
  float logprob;
};

// One row's answer.
struct Choice {
  int32_t token_id = -1;          // -1 when the row failed
  float logprob = 0;              // raw log-softmax of the chosen token
  float processed_logprob = 0;    // what the selector drew it with (0 for greedy)
  uint32_t rank = 0;              // 1 = the most likely token
  uint64_t seed = 0;              // the seed the row was drawn with
  v1::FinishReason finish_reason = v1::FINISH_REASON_NONE;
  std::vector<TokenLogprob> top_logprobs;  // best first
  std::optional<Error> error;     // set when this row failed alone

  bool finished() const {
    return finish_reason == v1::FINISH_REASON_EOS_TOKEN ||
           finish_reason == v1::FINISH_REASON_STOP_TOKEN;
  }

  static Choice from_proto(const v1::TokenChoice& c) {
    Choice out;
    out.token_id = c.token_id();
    out.logprob = c.logprob();
    out.processed_logprob = c.processed_logprob();
    out.rank = c.rank();
    out.seed = c.seed();
    out.finish_reason = c.finish_reason();
    out.top_logprobs.reserve(c.top_logprobs_size());
    for (const auto& t : c.top_logprobs()) out.top_logprobs.push_back({t.token_id(), t.logprob()});
    if (c.has_error()) out.error = Error::from_status(c.error());
    return out;
  }
};

// A channel to "unix:/path" or "host:port". Pass grpc::SslCredentials(...) for TLS.
inline std::shared_ptr<grpc::Channel> connect(
    const std::string& target,
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials()) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(-1);
  return grpc::CreateCustomChannel(target, credentials, args);
}

namespace detail {
inline void fill(v1::Logits* out, v1::DType dtype, uint32_t rows, uint32_t vocab,
                 const void* data, size_t element_size) {
  out->set_dtype(dtype);
  out->set_rows(rows);
  out->set_vocab_size(vocab);
  out->set_data(data, static_cast<size_t>(rows) * vocab * element_size);  // the one copy
}

inline std::vector<Choice> choices(const google::protobuf::RepeatedPtrField<v1::TokenChoice>& in) {
  std::vector<Choice> out;
  out.reserve(in.size());
  for (const auto& c : in) out.push_back(Choice::from_proto(c));
  return out;
}
}  // namespace detail

// A sealed memfd of this process, mapped for writing: the place a Session writes its steps.
// The server opens it as /proc/PID/fd/FD, read-only; it dies with the process.
class SharedRegion {
 public:
  explicit SharedRegion(size_t byte_size, std::string name)
      : name_(std::move(name)), size_((byte_size + 4095) / 4096 * 4096) {
    fd_ = memfd_create(name_.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd_ < 0) fail("memfd_create");
    if (ftruncate(fd_, static_cast<off_t>(size_)) != 0) fail("ftruncate");
    // Sealed: its size can never change, so no read of the server's can fault.
    if (fcntl(fd_, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) fail("F_ADD_SEALS");
    void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (p == MAP_FAILED) fail("mmap");
    base_ = static_cast<char*>(p);
  }
  SharedRegion(const SharedRegion&) = delete;
  SharedRegion& operator=(const SharedRegion&) = delete;
  ~SharedRegion() {
    if (base_ != nullptr) munmap(base_, size_);
    if (fd_ >= 0) close(fd_);
  }

  const std::string& name() const { return name_; }
  size_t size() const { return size_; }
  std::string key() const {
    return "/proc/" + std::to_string(getpid()) + "/fd/" + std::to_string(fd_);
  }

  // Copies `bytes` to `offset` (the one copy) and points `out` at them.
  void write(v1::Logits* out, v1::DType dtype, uint32_t rows, uint32_t vocab, const void* data,
             size_t element_size, size_t offset = 0) {
    size_t bytes = static_cast<size_t>(rows) * vocab * element_size;
    if (offset + bytes > size_) throw std::length_error("logits do not fit the shared region");
    std::memcpy(base_ + offset, data, bytes);
    out->set_dtype(dtype);
    out->set_rows(rows);
    out->set_vocab_size(vocab);
    v1::SharedMemoryRef* ref = out->mutable_shared_memory();
    ref->set_region(name_);
    ref->set_offset(offset);
    ref->set_byte_size(bytes);
  }

 private:
  [[noreturn]] void fail(const char* what) {
    int e = errno;
    if (base_ != nullptr) munmap(base_, size_);
    if (fd_ >= 0) close(fd_);
    throw std::runtime_error(std::string("shared memory: ") + what + ": " + std::strerror(e));
  }

  std::string name_;
  size_t size_;
  int fd_ = -1;
  char* base_ = nullptr;
};

// Unary calls.
class Client {
 public:
  explicit Client(std::shared_ptr<grpc::Channel> channel)
      : channel_(std::move(channel)), stub_(v1::Sampler::NewStub(channel_)) {}
  explicit Client(const std::string& target) : Client(connect(target)) {}

  v1::ServerInfo server_info() {
    grpc::ClientContext ctx;
    v1::ServerInfo info;
    check(stub_->GetServerInfo(&ctx, v1::GetServerInfoRequest(), &info));
    return info;
  }

  // One stateless step: rows x vocab float32 logits, one SamplingParams for every row.
  std::vector<Choice> sample(const float* logits, uint32_t rows, uint32_t vocab,
                             const v1::SamplingParams& params) {
    v1::SampleRequest req;
    *req.add_params() = params;
    detail::fill(req.mutable_logits(), v1::DTYPE_FLOAT32, rows, vocab, logits, sizeof(float));
    return sample(req);
  }

  std::vector<Choice> sample(const v1::SampleRequest& req) {
    grpc::ClientContext ctx;
    v1::SampleResponse resp;
    check(stub_->Sample(&ctx, req, &resp));
    return detail::choices(resp.choices());
  }

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  v1::Sampler::Stub& stub() { return *stub_; }

 private:
  static void check(const grpc::Status& s) {
    if (!s.ok()) throw Error::from_grpc(s);
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Sampler::Stub> stub_;
};

// A decode loop: one bidirectional Session stream. add/remove/append are buffered and travel
// with the next step (or flush), applied in that order before the rows are sampled; Tally
// appends each chosen token to its sequence itself.
class Session {
 public:
  // With `shared_memory`, steps travel through a SharedRegion of the session's, registered in-band
  // with the first step that needs it (and replaced by a larger one when a step needs more).
  explicit Session(const std::shared_ptr<grpc::Channel>& channel, bool shared_memory = false)
      : stub_(v1::Sampler::NewStub(channel)), stream_(stub_->Session(&ctx_)),
        shared_memory_(shared_memory) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session() {
    if (!closed_) {
      ctx_.TryCancel();
      stream_->Finish();
    }
  }

  void add(uint64_t id, const v1::SamplingParams& params,
           const std::vector<int32_t>& prompt_token_ids = {},
           const std::vector<int32_t>& output_token_ids = {}) {
    v1::Sequence* s = pending_.add_added();
    s->set_id(id);
    *s->mutable_params() = params;
    s->mutable_prompt_token_ids()->Add(prompt_token_ids.begin(), prompt_token_ids.end());
    s->mutable_output_token_ids()->Add(output_token_ids.begin(), output_token_ids.end());
  }

  void remove(uint64_t id) { pending_.add_removed(id); }

  // Tokens the model server placed itself (forced, prefilled, speculative).
  void append(uint64_t id, const std::vector<int32_t>& token_ids) {
    v1::SequenceTokens* t = pending_.add_appended();
    t->set_sequence_id(id);
    t->mutable_token_ids()->Add(token_ids.begin(), token_ids.end());
  }

  // Samples row i of `logits` ([ids.size() x vocab], row-major float32) for sequence ids[i].
  std::vector<Choice> step(const std::vector<uint64_t>& ids, const float* logits, uint32_t vocab) {
    put(v1::DTYPE_FLOAT32, rows(ids), vocab, logits, sizeof(float));
    return send(ids);
  }

  // The same for 16-bit rows: the raw bits of bfloat16 (default) or float16.
  std::vector<Choice> step(const std::vector<uint64_t>& ids, const uint16_t* logits,
                           uint32_t vocab, v1::DType dtype = v1::DTYPE_BFLOAT16) {
    if (dtype != v1::DTYPE_BFLOAT16 && dtype != v1::DTYPE_FLOAT16) {
      throw std::invalid_argument("16-bit logits are DTYPE_BFLOAT16 or DTYPE_FLOAT16");
    }
    put(dtype, rows(ids), vocab, logits, sizeof(uint16_t));
    return send(ids);
  }

  // Sends pending add/remove/append now, in a step with no rows.
  void flush() {
    if (pending_.added_size() || pending_.removed_size() || pending_.appended_size()) send({});
  }

  // Half-closes the stream and returns how it ended.
  grpc::Status close() {
    if (closed_) return grpc::Status::OK;
    closed_ = true;
    stream_->WritesDone();
    v1::SessionResponse ignored;
    while (stream_->Read(&ignored)) {
    }
    return stream_->Finish();
  }

 private:
  static uint32_t rows(const std::vector<uint64_t>& ids) { return static_cast<uint32_t>(ids.size()); }

  // The step's logits: inline, or copied into the session's region (grown when too small).
  void put(v1::DType dtype, uint32_t rows, uint32_t vocab, const void* data, size_t element_size) {
    if (!shared_memory_) {
      detail::fill(pending_.mutable_logits(), dtype, rows, vocab, data, element_size);
      return;
    }
    size_t bytes = static_cast<size_t>(rows) * vocab * element_size;
    if (!region_ || region_->size() < bytes) {
      auto fresh = std::make_unique<SharedRegion>(
          bytes, "cpp-" + std::to_string(getpid()) + "-" + std::to_string(next_region_++));
      v1::RegisterSharedMemoryRequest* r = pending_.add_register_shared_memory();
      r->set_name(fresh->name());
      r->set_key(fresh->key());
      r->set_byte_size(fresh->size());
      if (region_) pending_.add_unregister_shared_memory(region_->name());
      region_ = std::move(fresh);
    }
    region_->write(pending_.mutable_logits(), dtype, rows, vocab, data, element_size);
  }

  std::vector<Choice> send(const std::vector<uint64_t>& ids) {
    if (closed_) throw Error(grpc::StatusCode::FAILED_PRECONDITION, "the session is closed");
    v1::SessionRequest req;
    req.Swap(&pending_);
    req.set_step_id(next_step_++);
    req.mutable_row_sequence_ids()->Add(ids.begin(), ids.end());
    v1::SessionResponse resp;
    if (!stream_->Write(req) || !stream_->Read(&resp)) {
      closed_ = true;
      grpc::Status status = stream_->Finish();
      if (status.ok()) throw Error(grpc::StatusCode::UNAVAILABLE, "the server ended the session");
      throw Error::from_grpc(status);
    }
    if (resp.step_id() != req.step_id()) {
      throw Error(grpc::StatusCode::INTERNAL, "answer to another step");
    }
    if (resp.has_error()) {
      // A refused step changed nothing: a region it registered is not the server's either.
      if (req.register_shared_memory_size() > 0) region_.reset();
      throw StepError(Error::from_status(resp.error()));
    }
    return detail::choices(resp.choices());
  }

  grpc::ClientContext ctx_;
  std::unique_ptr<v1::Sampler::Stub> stub_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::SessionRequest, v1::SessionResponse>> stream_;
  v1::SessionRequest pending_;
  uint64_t next_step_ = 0;
  bool closed_ = false;
  bool shared_memory_ = false;
  std::unique_ptr<SharedRegion> region_;
  uint64_t next_region_ = 0;
};

}  // namespace tally
