// Alpaca+ (Mu et al. 2023, gisting): JSON arrays of {instruction, input, output, source}.
#pragma once
#include <string>
#include <vector>

#include "datasets/token_dataset.h"

namespace condense::data {

class Tokenizer;

struct AlpacaRecord {
  std::string instruction, input, output, source;
};

// Reads an Alpaca+ file (alpaca_plus_{train,validation_*}.json, or Stanford
// Alpaca's alpaca_data.json, whose records have no "source"). A malformed file is
// one error naming file:line (and the record number for a missing or non-string field).
std::vector<AlpacaRecord> read_alpaca_json(const std::string& path);

// One record per example: the ids of instruction, input and output, each encoded on
// its own (spans /spans/{instruction,input,output}), and their texts plus
// /text/source. The prompt is assembled at training time, since gist tokens go inside it.
TokenDatasetContents alpaca_dataset(const std::vector<AlpacaRecord>& records,
                                    const Tokenizer& tokenizer, const std::string& label);

}  // namespace condense::data
