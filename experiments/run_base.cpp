#include "experiments/run_base.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/sha256.h"
#include "experiments/model_dir.h"

namespace condense::exp {

std::string base_path(const std::string& run_dir) {
  return (std::filesystem::path(run_dir) / "base.json").string();
}

void write_run_base(const std::string& run_dir, const std::string& init_from, uint64_t seed,
                    const LlamaConfig& model) {
  const std::string digest = init_from.empty() ? "random" : sha256_file(checkpoint_in(init_from));
  const std::string id =
      init_from.empty()
          ? "random:d" + std::to_string(model.dim) + "-l" + std::to_string(model.n_layers) + "-h" +
                std::to_string(model.n_heads) + "-kv" + std::to_string(model.n_kv_heads) + "-ffn" +
                std::to_string(model.ffn_dim)
          : "sha256:" + digest;
  const nlohmann::json j = {{"init_from", init_from},
                            {"sha256", digest},
                            {"seed", seed},
                            {"model",
                             {{"vocab_size", model.vocab_size},
                              {"dim", model.dim},
                              {"n_layers", model.n_layers},
                              {"n_heads", model.n_heads},
                              {"n_kv_heads", model.n_kv_heads},
                              {"ffn_dim", model.ffn_dim},
                              {"max_seq_len", model.max_seq_len}}},
                            {"id", id}};
  write_file_atomically(base_path(run_dir), j.dump(2) + "\n");
}

std::string read_base_id(const std::string& run_dir) {
  const std::string path = base_path(run_dir);
  std::ifstream in(path);
  if (!in) return "unknown";
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_object() || !j.contains("id") || !j["id"].is_string())
    fail(path, ": not a base record (a JSON object with a string \"id\")");
  return j["id"].get<std::string>();
}

}  // namespace condense::exp
