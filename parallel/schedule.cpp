#include "parallel/schedule.h"

#include <algorithm>

#include "core/error.h"

namespace condense::parallel {

std::vector<PipelineAction> one_f_one_b(int stage, int stages, int micro_batches) {
  if (stages < 1 || stage < 0 || stage >= stages || micro_batches < 1)
    fail("1F1B schedule: stage ", stage, " of ", stages, " with ", micro_batches, " micro-batches");
  const int warmup = std::min(stages - stage - 1, micro_batches);
  std::vector<PipelineAction> out;
  int next_forward = 0, next_backward = 0;
  for (; next_forward < warmup; ++next_forward) out.push_back({Pass::forward, next_forward});
  while (next_forward < micro_batches) {
    out.push_back({Pass::forward, next_forward++});
    out.push_back({Pass::backward, next_backward++});
  }
  while (next_backward < micro_batches) out.push_back({Pass::backward, next_backward++});
  return out;
}

std::vector<PipelineAction> forward_only(int micro_batches) {
  std::vector<PipelineAction> out;
  for (int i = 0; i < micro_batches; ++i) out.push_back({Pass::forward, i});
  return out;
}

std::string describe(const std::vector<PipelineAction>& actions) {
  std::string s;
  for (const PipelineAction& a : actions) {
    if (!s.empty()) s += ' ';
    s += (a.pass == Pass::forward ? 'F' : 'B') + std::to_string(a.micro);
  }
  return s;
}

}  // namespace condense::parallel
