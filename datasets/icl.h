// Classification sets for in-context learning: SST-2, AG News, TREC, MR, SUBJ, RTE.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/token_dataset.h"

namespace condense::data {

class Tokenizer;

struct IclExamples {
  std::string task;
  std::vector<std::string> fields;  // text fields, e.g. {"sentence"} or {"premise", "hypothesis"}
  std::vector<std::string> label_names;          // label i is label_names[i]
  std::vector<std::vector<std::string>> values;  // [example][field]
  std::vector<int32_t> labels;
  std::vector<std::string> fine_labels;  // TREC's fine class ("NUM:dist"), else empty
};

// The tasks and the inputs each takes (files as upstream names them):
//   sst2    one TSV with header "sentence<TAB>label", label 0 (negative) / 1 (positive)
//   agnews  one TSV "text<TAB>label", label World | Sports | Business | Sci/Tech
//   trec    one file of "COARSE:fine question" lines (6 coarse classes)
//   mr      two files: rt-polarity.neg, then rt-polarity.pos (one sentence per line)
//   subj    two files: plot.tok.gt9.5000 (objective), then quote.tok.gt9.5000 (subjective)
//   rte     one PASCAL RTE XML file (<pair entailment="YES|NO"> or value="TRUE|FALSE")
const std::vector<std::string>& icl_tasks();

// The task's fields and label names (no examples); an unknown task is an error.
IclExamples icl_schema(const std::string& task);

// A malformed line (missing field, unknown label) is an error naming file:line.
IclExamples read_icl(const std::string& task, const std::vector<std::string>& inputs);

// One record per example: its fields' ids one after another (/spans/<field>,
// /text/<field>), /labels int32, /text/fine_label for TREC, and the root
// attributes task and label_names (a JSON array).
TokenDatasetContents icl_dataset(const IclExamples& examples, const Tokenizer& tokenizer,
                                 const std::string& label);

// The examples back from such a dataset (its texts, labels and fine labels): what
// read_icl gave. Throws (one line, naming the file) for another kind of dataset, label
// names that are not the task's, or fields of another length.
IclExamples read_icl_dataset(const TokenDataset& set);

}  // namespace condense::data
