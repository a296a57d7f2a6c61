#include "experiments/methods/fot/packing.h"

#include "core/error.h"
#include "datasets/token_dataset.h"

namespace condense::fot {

PackedDocuments::PackedDocuments(const data::TokenDataset& set, int64_t batch, int64_t seq_len,
                                 int64_t pack, int32_t bos, int32_t eos, int rank, int world)
    : set_(set),
      B_(batch),
      T_(seq_len),
      k_(pack),
      bos_(bos),
      eos_(eos),
      rank_(rank),
      world_(world) {
  if (set.size() == 0 || set.num_tokens() == 0) fail("fot: ", set.path(), " has no documents");
  if (k_ < 1 || B_ % k_ != 0)
    fail("fot: --fot.pack ", k_, " does not divide the batch of ", B_, " entries");
  if ((B_ / k_) % world_ != 0)
    fail("fot: ", B_ / k_, " packs of ", k_, " entries do not split over ", world_,
         " data-parallel ranks (a pack stays on one rank)");
  streams_.resize(static_cast<size_t>(B_ / k_));
}

data::TokenBatch PackedDocuments::global_batch() {
  const int64_t need = k_ * T_ + 1;  // k chunks and the target after the last one
  data::TokenBatch b;
  b.rows = B_;
  b.T = T_;
  b.inputs.resize(static_cast<size_t>(B_ * T_));
  b.targets.resize(b.inputs.size());
  for (size_t s = 0; s < streams_.size(); ++s) {
    std::vector<int32_t>& st = streams_[s];
    while (static_cast<int64_t>(st.size()) < need) {
      const auto rec = set_.record(next_record_++ % set_.size());
      if (rec.empty()) continue;
      if (!st.empty()) st.push_back(eos_);
      if (rec.front() != bos_) st.push_back(bos_);
      st.insert(st.end(), rec.begin(), rec.end());
    }
    for (int64_t t = 0; t < k_ * T_; ++t) {
      b.inputs[static_cast<size_t>(static_cast<int64_t>(s) * k_ * T_ + t)] =
          st[static_cast<size_t>(t)];
      b.targets[static_cast<size_t>(static_cast<int64_t>(s) * k_ * T_ + t)] =
          st[static_cast<size_t>(t + 1)];
    }
    st.erase(st.begin(), st.begin() + k_ * T_);
  }
  return b;
}

data::TokenBatch PackedDocuments::next() {
  const data::TokenBatch all = global_batch();
  ++served_;
  const int64_t packs = B_ / k_;
  return data::rows_of(all, packs * rank_ / world_ * k_, packs * (rank_ + 1) / world_ * k_);
}

void PackedDocuments::set_position(int64_t batches) {
  if (batches < 0) fail("fot: negative loader position ", batches);
  served_ = 0;
  next_record_ = 0;
  for (auto& s : streams_) s.clear();
  for (; served_ < batches; ++served_) global_batch();
}

}  // namespace condense::fot
