#include "experiments/model_dir.h"

#include <filesystem>

#include "core/checkpoint.h"

namespace condense::exp {
namespace fs = std::filesystem;

std::string latest_checkpoint(const std::string& run_dir) {
  const fs::path dir = fs::path(run_dir) / "checkpoints";
  std::string best;
  if (!fs::is_directory(dir)) return best;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    // step_%08d.h5 sorts by step; .tmp leftovers of a crash are ignored.
    if (name.rfind("step_", 0) == 0 && e.path().extension() == ".h5" && e.path().string() > best)
      best = e.path().string();
  }
  return best;
}

ModelFiles locate_model(const std::string& dir) {
  if (!fs::is_directory(dir)) fail("model directory ", dir, ": not a directory");
  ModelFiles f;
  f.tokenizer = (fs::path(dir) / "tokenizer.model").string();
  if (!fs::exists(f.tokenizer)) fail("model directory ", dir, ": missing tokenizer.model");
  const fs::path model = fs::path(dir) / "model.h5";
  f.checkpoint = fs::exists(model) ? model.string() : latest_checkpoint(dir);
  if (f.checkpoint.empty())
    fail("model directory ", dir, ": no model.h5 and no checkpoints/step_*.h5");
  return f;
}

std::string checkpoint_in(const std::string& file_or_dir) {
  return fs::is_directory(file_or_dir) ? locate_model(file_or_dir).checkpoint : file_or_dir;
}

Llama load_model(const std::string& checkpoint, Device device) {
  Llama model(read_checkpoint_config(checkpoint), 0);
  load_checkpoint(checkpoint, model, nullptr);
  if (device != Device::cpu) model.to(device);
  return model;
}

}  // namespace condense::exp
