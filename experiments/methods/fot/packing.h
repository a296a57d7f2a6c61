// FoT's document-aware k-packing (METHODS.md §4.2; long_llama KPackingDAPipeline): the
// batch of B entries is B/k streams, each a document read chunk after chunk; stream s
// fills entries s·k .. s·k+k−1 with its next k consecutive chunks of T tokens, so the
// k entries of a pack are one document in order (the positives of crossbatch). When a
// document ends its stream goes on with the next one after EOS (records start with
// BOS), without padding. Streams take the dataset's records in order, the first
// stream first, wrapping around at the end.
#pragma once
#include <cstdint>
#include <vector>

#include "datasets/batch.h"

namespace condense::data {
class TokenDataset;
}

namespace condense::fot {

class PackedDocuments {
 public:
  // B entries of T tokens, k per pack; rank `rank` of `world` gets its share of whole
  // packs (throws unless the packs split evenly over the ranks).
  PackedDocuments(const data::TokenDataset& set, int64_t batch, int64_t seq_len, int64_t pack,
                  int32_t bos, int32_t eos, int rank = 0, int world = 1);

  data::TokenBatch next();
  // Batches served; set_position replays the streams from the start up to `batches`.
  int64_t position() const { return served_; }
  void set_position(int64_t batches);

 private:
  data::TokenBatch global_batch();

  const data::TokenDataset& set_;
  int64_t B_, T_, k_;
  int32_t bos_, eos_;
  int rank_, world_;
  int64_t served_ = 0, next_record_ = 0;
  std::vector<std::vector<int32_t>> streams_;
};

}  // namespace condense::fot
