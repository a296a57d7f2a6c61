// FoT — the Focused Transformer / LongLLaMA (Tworkowski et al., NeurIPS'23) as a method
// (METHODS.md §4): a plain LLaMA whose memory layers (--fot.layers) attend, in one
// softmax and without gating, to their local keys and to additional keys rotated "as
// if first" (position 0). Training is crossbatch (crossbatch.h) over document-aware
// k-packed batches (packing.h), with the range d switching from small to large at
// --fot.switch_step; inference keeps a memory cache (memory_cache.h), dense or top-k.
// The local context C is --train.seq_len in training, --fot.context at inference (the
// same by default; set it in a run's config so that `condense eval` knows it). No
// parameter is added. Tasks: passkey, and with --data.valid books_ppl (books_ppl.h).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>

#include "core/atomic_file.h"
#include "core/checkpoint.h"
#include "core/error.h"
#include "datasets/passkey.h"
#include "datasets/token_dataset.h"
#include "datasets/tokenizer.h"
#include "eval/kv_prefix.h"
#include "eval/std_error.h"
#include "experiments/methods/fot/bench.h"
#include "experiments/methods/fot/books_ppl.h"
#include "experiments/methods/fot/crossbatch.h"
#include "experiments/methods/fot/packing.h"
#include "experiments/methods/fot/passkey_table.h"
#include "experiments/methods/fot/passkey_task.h"
#include "experiments/methods/method.h"
#include "experiments/model_dir.h"
#include "experiments/result_record.h"
#include "experiments/run_dir.h"

namespace condense::fot {
namespace {

// "0,2" -> {0, 2}; "" or "none": no memory layer. Indices are checked against the model.
std::vector<int64_t> parse_layers(const std::string& text) {
  if (text.empty() || text == "none") return {};
  return cli::parse_int_list("fot.layers", text);
}

struct Options {
  std::string train, tokenizer, valid;
  std::string layers = "0";
  int64_t pack = 2, range = 1, range_late = -1, switch_step = 0;
  bool stepping = true;
  std::string memory_attention = "dense";
  int64_t knn_k = 128, last_context = 32, context = 0;
  eval::KeyIndexOptions knn_index;
  int64_t memory_chunk = 0;
  std::string memory_dtype = "f32";
  std::string passkey_lengths = "1,2,4,8";
  int passkey_per_length = 20;
  int64_t passkey_seed = 555;
  std::string ppl_memory = "0,2,8,32";
  int64_t ppl_windows = 32;
};

class Batches : public methods::BatchSource {
 public:
  Batches(std::unique_ptr<PackedDocuments> docs, int64_t tokens_per_batch)
      : docs_(std::move(docs)), tokens_(tokens_per_batch) {}
  data::TokenBatch next(int64_t& tokens) override {
    tokens += tokens_;
    return docs_->next();
  }
  int64_t position() const override { return docs_->position(); }
  void set_position(int64_t p) override { docs_->set_position(p); }

 private:
  std::unique_ptr<PackedDocuments> docs_;
  int64_t tokens_;
};

class Fot : public methods::Method {
 public:
  const char* name() const override { return "fot"; }

  void add_options(cli::po::options_description& desc) override {
    namespace po = cli::po;
    desc.add_options()("data.train", po::value(&o_.train)->default_value(""),
                       "training .h5 (documents)")(
        "data.valid", po::value(&o_.valid)->default_value(""),
        "held-out documents .h5 the books_ppl task scores")(
        "data.tokenizer", po::value(&o_.tokenizer)->required(), "SentencePiece .model")(
        "fot.layers", po::value(&o_.layers)->default_value(o_.layers),
        "memory layers, e.g. 0,2 (none: no memory, the control)")(
        "fot.pack", po::value(&o_.pack)->default_value(o_.pack),
        "k: consecutive batch entries per document")(
        "fot.range", po::value(&o_.range)->default_value(o_.range),
        "crossbatch range d: earlier entries a memory layer sees (0: none)")(
        "fot.stepping", po::value(&o_.stepping)->default_value(o_.stepping),
        "cross_batch_stepping: a mix of ranges over each pack")(
        "fot.range_late", po::value(&o_.range_late)->default_value(o_.range_late),
        "the larger d from --fot.switch_step on (-1: keep --fot.range)")(
        "fot.switch_step", po::value(&o_.switch_step)->default_value(o_.switch_step),
        "the step at which d becomes --fot.range_late")(
        "fot.memory_attention", po::value(&o_.memory_attention)->default_value("dense"),
        "dense | knn (each query's top-k memory keys)")(
        "fot.knn_k", po::value(&o_.knn_k)->default_value(o_.knn_k), "k of knn memory attention")(
        "fot.knn_index", po::value(&o_.knn_index.kind)->default_value(o_.knn_index.kind),
        "how knn finds the top k: exact (a scan, the reference) | faiss-flat (exact) | "
        "faiss-hnsw (approximate)")(
        "fot.hnsw_m", po::value(&o_.knn_index.hnsw_m)->default_value(o_.knn_index.hnsw_m),
        "graph degree of faiss-hnsw")(
        "fot.hnsw_ef", po::value(&o_.knn_index.hnsw_ef)->default_value(o_.knn_index.hnsw_ef),
        "search breadth of faiss-hnsw")(
        "fot.memory_chunk", po::value(&o_.memory_chunk)->default_value(o_.memory_chunk),
        "dense memory attention in blocks of this many keys (bounded peak memory; 0: one "
        "block)")("fot.memory_dtype", po::value(&o_.memory_dtype)->default_value(o_.memory_dtype),
                  "how the memory is stored: f32 | bf16")(
        "fot.context", po::value(&o_.context)->default_value(o_.context),
        "local context C at inference: window and local cache (0: --train.seq_len)")(
        "fot.last_context", po::value(&o_.last_context)->default_value(o_.last_context),
        "trailing prompt tokens kept in the local cache")(
        "fot.passkey_lengths", po::value(&o_.passkey_lengths)->default_value(o_.passkey_lengths),
        "passkey prompt lengths as multiples of the local context")(
        "fot.passkey_per_length",
        po::value(&o_.passkey_per_length)->default_value(o_.passkey_per_length),
        "passkey prompts per length")("fot.passkey_seed",
                                      po::value(&o_.passkey_seed)->default_value(o_.passkey_seed),
                                      "seed of the first passkey prompt")(
        "fot.ppl_memory", po::value(&o_.ppl_memory)->default_value(o_.ppl_memory),
        "books_ppl: memory sizes as multiples of the local context")(
        "fot.ppl_windows", po::value(&o_.ppl_windows)->default_value(o_.ppl_windows),
        "books_ppl: windows scored (the first of data.valid)");
  }

  void open(const exp::TrainLoopOptions& train, bool training) override {
    t_ = train;
    layers_ = parse_layers(o_.layers);
    if (o_.memory_attention != "dense" && o_.memory_attention != "knn")
      fail("fot: --fot.memory_attention must be dense or knn, not '", o_.memory_attention, "'");
    if (o_.knn_k <= 0) fail("fot: --fot.knn_k must be positive, got ", o_.knn_k);
    if (o_.memory_dtype != "f32" && o_.memory_dtype != "bf16")
      fail("fot: --fot.memory_dtype must be f32 or bf16, not '", o_.memory_dtype, "'");
    check_shape({train.batch_size, o_.pack, o_.range, o_.stepping});
    if (o_.range_late >= 0) check_shape({train.batch_size, o_.pack, o_.range_late, o_.stepping});
    multiples_ = cli::parse_int_list("fot.passkey_lengths", o_.passkey_lengths, 1);
    if (o_.passkey_per_length <= 0)
      fail("fot: --fot.passkey_per_length must be positive, got ", o_.passkey_per_length);
    memory_options(LlamaConfig{}, /*check=*/false);
    if (!train.init_from.empty())
      check_layers(read_checkpoint_config(exp::checkpoint_in(train.init_from)));
    tok_ = std::make_unique<data::Tokenizer>(data::Tokenizer::load(o_.tokenizer));
    // A passkey length below a prompt's shortest fails now, not after training.
    const int64_t shortest = *std::min_element(multiples_.begin(), multiples_.end()) * window();
    for (int i = 0; i < o_.passkey_per_length; ++i)
      data::passkey_sample(*tok_, shortest, static_cast<uint32_t>(o_.passkey_seed + i));
    ppl_memory_ = cli::parse_int_list("fot.ppl_memory", o_.ppl_memory, 0);
    if (o_.ppl_windows < 1) fail("fot: --fot.ppl_windows must be at least 1, got ", o_.ppl_windows);
    if (!o_.valid.empty()) {
      valid_set_ = std::make_unique<data::TokenDataset>(data::TokenDataset::open(o_.valid, *tok_));
      valid_windows_ = books_windows(*valid_set_, ppl_memory_, window());
    }
    if (!training) return;
    if (o_.train.empty()) fail("fot: training needs --data.train (a documents .h5)");
    set_ = std::make_unique<data::TokenDataset>(data::TokenDataset::open(o_.train, *tok_));
  }

  std::string tokenizer_path() const override { return o_.tokenizer; }

  methods::ModelStart model_start(const LlamaConfig& requested,
                                  const std::string& init_from) override {
    methods::ModelStart start;
    start.config = requested;
    if (start.config.vocab_size == 0) start.config.vocab_size = tok_->vocab_size();
    if (!init_from.empty()) {
      start.checkpoint = exp::checkpoint_in(init_from);
      start.config = read_checkpoint_config(start.checkpoint);
    }
    check_layers(start.config);
    return start;
  }

  void check_model(const LlamaConfig& model, const std::string&) const override {
    check_layers(model);
  }

  std::string describe_data() const override {
    return "data: " + std::to_string(set_->size()) + " documents from " + o_.train + ", packs of " +
           std::to_string(o_.pack);
  }
  std::string describe_model(const LlamaConfig&) const override {
    std::string d = "; fot memory layers " + (layers_.empty() ? std::string("none") : o_.layers) +
                    ", crossbatch d " + std::to_string(o_.range);
    if (o_.range_late >= 0)
      d +=
          " then " + std::to_string(o_.range_late) + " from step " + std::to_string(o_.switch_step);
    return d + ", local context " + std::to_string(window());
  }

  std::unique_ptr<methods::BatchSource> batches(int dp_rank, int dp_size) override {
    auto docs = std::make_unique<PackedDocuments>(*set_, t_.batch_size, t_.seq_len, o_.pack,
                                                  tok_->bos_id(), tok_->eos_id(), dp_rank, dp_size);
    auto b = std::make_unique<Batches>(std::move(docs), t_.batch_size * t_.seq_len);
    source_ = b.get();
    return b;
  }

  double step_flops(exp::Engine&) const override { return 0; }  // crossbatch varies the keys

  // d from the step the batches belong to (0-based: the batches served so far, which a
  // resumed run restores, per step).
  std::pair<double, float> train_step(exp::Engine& engine,
                                      const std::vector<data::TokenBatch>& batches) override {
    const int64_t step = source_ ? (source_->position() - 1) / t_.grad_accum : 0;
    const int64_t range = RangeSchedule{o_.range, o_.range_late, o_.switch_step}.at(step);
    return engine.step_graph(name(),
                             crossbatch_graph(batches, o_.pack, range, o_.stepping, layers_,
                                              engine.model_config().n_layers, engine.device()));
  }

  std::vector<std::string> tasks() const override {
    if (o_.valid.empty()) return {"passkey"};
    return {"passkey", "books_ppl"};
  }

  // Memory layer × crossbatch range d × top-k of the memory attention (the paper's
  // ablation axes); the control (no memory, no crossbatch) beside them. The layers are
  // the last ones of a 4-5 layer model: in docs/results/fot the memory works in the
  // layer that copies (3 of 4) and not one below it.
  std::string default_grid() const override {
    return "fot.layers=2,3 fot.range=1,3 fot.memory_attention=knn fot.knn_k=16,128; "
           "fot.layers=none fot.range=0";
  }

  // passkey.csv / .md: per run, the newest evaluation's accuracy per length.
  std::string sweep_table(const std::string& sweep_dir,
                          const std::vector<std::string>& run_dirs) const override {
    return passkey_tables(sweep_dir, run_dirs);
  }

  int bench(const cli::Args& args) override { return fot::bench(args); }

  bool evaluated(const std::string& run_dir, int64_t step) const override {
    return std::filesystem::exists(summary(run_dir, step)) &&
           (o_.valid.empty() || std::filesystem::exists(ppl_summary(run_dir, step)));
  }

  std::string evaluate(const std::string& task, const Llama& model, int64_t step,
                       const std::string& run_dir, const exp::RunDir* metrics) override {
    if (task == "books_ppl") return evaluate_books(model, step, run_dir, metrics);
    if (task != "passkey") return Method::evaluate(task, model, step, run_dir, metrics);
    const MemoryOptions mem = memory_options(model.config(), true);
    std::vector<int64_t> lengths;
    for (int64_t m : multiples_) lengths.push_back(m * mem.window);
    // One length at a time (each length's prompts have the same seeds), timed for the
    // results records.
    std::vector<PasskeyResult> res;
    std::vector<double> seconds;
    for (const int64_t length : lengths) {
      const auto t0 = std::chrono::steady_clock::now();
      res.push_back(passkey_accuracy(model, *tok_, mem, {length}, o_.passkey_per_length,
                                     static_cast<uint32_t>(o_.passkey_seed))[0]);
      seconds.push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    nlohmann::json per = nlohmann::json::array();
    std::string line = "passkey accuracy:";
    nlohmann::json log = {{"step", step}};
    for (size_t i = 0; i < res.size(); ++i) {
      per.push_back({{"length", res[i].length},
                     {"multiple_of_context", multiples_[i]},
                     {"correct", res[i].correct},
                     {"prompts", res[i].total},
                     {"accuracy", res[i].accuracy()}});
      char part[64];
      std::snprintf(part, sizeof part, " %lldx %.2f", static_cast<long long>(multiples_[i]),
                    res[i].accuracy());
      line += part;
      log["passkey_" + std::to_string(multiples_[i]) + "x"] = res[i].accuracy();
      exp::ResultRecord r =
          memory_record(run_dir, step, model.config(), mem, res[i].length, res[i].length);
      r.task = "passkey_" + std::to_string(res[i].length);
      r.metric = "accuracy";
      r.value = res[i].accuracy();
      r.std_error = eval::fraction_std_error(res[i].correct, res[i].total);
      r.n = res[i].total;
      r.seconds_per_query = res[i].total ? seconds[i] / static_cast<double>(res[i].total) : 0;
      exp::append_result(run_dir, r);
    }
    const nlohmann::json j = {{"step", step},
                              {"local_context", mem.window},
                              {"memory_layers", mem.layers},
                              {"memory_attention", o_.memory_attention},
                              {"knn_k", mem.knn},
                              {"knn_index", mem.index.kind},
                              {"memory_chunk", mem.memory_chunk},
                              {"memory_dtype", o_.memory_dtype},
                              {"last_context", mem.last_context},
                              {"seed", o_.passkey_seed},
                              {"train_range", layers_.empty() ? 0 : o_.range},
                              {"lengths", per}};
    std::filesystem::create_directories(run_dir + "/eval");
    write_file_atomically(summary(run_dir, step), j.dump(2) + "\n");
    if (metrics) metrics->log(log);
    return line;
  }

 private:
  std::string evaluate_books(const Llama& model, int64_t step, const std::string& run_dir,
                             const exp::RunDir* metrics) const {
    if (!valid_windows_) fail("fot: the books_ppl task needs --data.valid");
    const MemoryOptions mem = memory_options(model.config(), true);
    const BooksPerplexity s =
        books_perplexity(model, mem, *valid_windows_, ppl_memory_, o_.ppl_windows);
    nlohmann::json per = nlohmann::json::array();
    nlohmann::json log = {{"step", step}};
    std::string line = "books perplexity by memory:";
    for (size_t i = 0; i < s.memories.size(); ++i) {
      const double ppl = std::exp(s.memories[i].nll);
      per.push_back({{"memory", s.memories[i].memory},
                     {"multiple_of_context", ppl_memory_[i]},
                     {"nll", s.memories[i].nll},
                     {"ppl", ppl}});
      char part[64];
      std::snprintf(part, sizeof part, " %lldx %.3f", static_cast<long long>(ppl_memory_[i]), ppl);
      line += part;
      log["books_ppl_" + std::to_string(ppl_memory_[i]) + "x"] = ppl;
      // The target window is the query: the context is the memory before it.
      const int64_t m = s.memories[i].memory;
      exp::ResultRecord r = memory_record(run_dir, step, model.config(), mem, m, 0);
      r.task = "books_ppl_" + std::to_string(m);
      r.metric = "ppl";
      r.higher_is_better = false;
      r.value = ppl;
      r.n = s.windows;
      exp::append_result(run_dir, r);
    }
    const nlohmann::json j = {{"step", step},
                              {"valid", o_.valid},
                              {"local_context", mem.window},
                              {"memory_layers", mem.layers},
                              {"memory_attention", o_.memory_attention},
                              {"knn_k", mem.knn},
                              {"train_range", layers_.empty() ? 0 : o_.range},
                              {"windows", s.windows},
                              {"predictions", s.predictions},
                              {"memories", per}};
    std::filesystem::create_directories(run_dir + "/eval");
    write_file_atomically(ppl_summary(run_dir, step), j.dump(2) + "\n");
    if (metrics) metrics->log(log);
    return line;
  }

  // A results record of an answer after `context` tokens, `local` of them (at most C)
  // in the local window: memory layers keep every context token's keys/values (in the
  // memory's dtype beyond the window), the other layers the window's; memory_vectors
  // is their mean per layer. Condition: the memory attention (local without layers).
  exp::ResultRecord memory_record(const std::string& run_dir, int64_t step, const LlamaConfig& c,
                                  const MemoryOptions& mem, int64_t context, int64_t local) const {
    exp::ResultRecord r = exp::record_at(run_dir, step);
    r.condition = mem.layers.empty() ? "local"
                  : mem.knn > 0      ? "knn" + std::to_string(mem.knn)
                                     : "dense";
    const auto layers = static_cast<double>(c.n_layers),
               n_mem = static_cast<double>(mem.layers.size());
    const double near = static_cast<double>(std::min(local, mem.window));
    const double far = static_cast<double>(context) - near;
    const double entry =
        static_cast<double>(eval::kv_bytes_per_token(c)) / layers;  // one layer, f32
    const double far_entry = mem.memory_dtype == DType::bf16 ? entry / 2 : entry;
    r.memory_vectors = (n_mem * (far + near) + (layers - n_mem) * near) / layers;
    r.memory_bytes = n_mem * (far * far_entry + near * entry) + (layers - n_mem) * near * entry;
    r.context_tokens = static_cast<double>(context);
    return r;
  }

  std::string ppl_summary(const std::string& run_dir, int64_t step) const {
    return run_dir + "/eval/books_ppl-" + std::to_string(step) + ".json";
  }

  // Dense and top-k scores of one run are kept apart: passkey-<step>.json and
  // passkey_knn<k>-<step>.json.
  std::string summary(const std::string& run_dir, int64_t step) const {
    const std::string kind =
        o_.memory_attention == "knn" ? "passkey_knn" + std::to_string(o_.knn_k) : "passkey";
    return run_dir + "/eval/" + kind + "-" + std::to_string(step) + ".json";
  }

  void check_layers(const LlamaConfig& model) const {
    for (int64_t l : layers_)
      if (l < 0 || l >= model.n_layers)
        fail("fot: memory layer ", l, " is out of range: the model has layers 0..",
             model.n_layers - 1);
  }

  int64_t window() const { return o_.context > 0 ? o_.context : t_.seq_len; }

  MemoryOptions memory_options(const LlamaConfig& model, bool check) const {
    MemoryOptions m;
    m.layers = layers_;
    m.window = window();
    m.last_context = o_.last_context;
    m.knn = o_.memory_attention == "knn" ? o_.knn_k : 0;
    m.index = o_.knn_index;
    m.memory_chunk = o_.memory_chunk;
    m.memory_dtype = o_.memory_dtype == "bf16" ? DType::bf16 : DType::f32;
    if (check)
      check_memory_options(m, model);
    else
      check_memory_settings(m);
    return m;
  }

  Options o_;
  exp::TrainLoopOptions t_;
  std::vector<int64_t> layers_, multiples_, ppl_memory_;
  std::unique_ptr<data::Tokenizer> tok_;
  std::unique_ptr<data::TokenDataset> set_, valid_set_;
  std::unique_ptr<data::DocumentWindows> valid_windows_;
  methods::BatchSource* source_ = nullptr;
};

}  // namespace
}  // namespace condense::fot

namespace condense::methods {
std::unique_ptr<Method> make_fot() {
  return std::make_unique<fot::Fot>();
}
}  // namespace condense::methods
