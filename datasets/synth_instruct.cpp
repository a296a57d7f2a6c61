#include "datasets/synth_instruct.h"

#include <algorithm>
#include <random>

#include "core/error.h"
#include "datasets/uniform.h"

namespace condense::data {
namespace {

enum Op { kReverse, kSort, kCount, kItem, kLast, kRemove, kReplace, kRotate, kOps };
const char* const kOpNames[kOps] = {"reverse", "sort",   "count",   "item",
                                    "last",    "remove", "replace", "rotate"};

// Parameters only validation_unseen asks for.
constexpr int64_t kUnseenItems[] = {4, 7};
constexpr char kUnseenLetters[] = {'q', 'x', 'z'};

const char* const kOrdinals[] = {"first", "second", "third",   "fourth",
                                 "fifth", "sixth",  "seventh", "eighth"};

using Rng = std::mt19937_64;
using List = std::vector<char>;

int64_t draw(Rng& rng, int64_t lo, int64_t hi) {  // uniform in [lo, hi]
  return lo + static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(hi - lo + 1)));
}

bool unseen_letter(char c) {
  return std::find(std::begin(kUnseenLetters), std::end(kUnseenLetters), c) !=
         std::end(kUnseenLetters);
}

// A letter an instruction names: one of the held-out ones when `held_out`, else any
// other (lists use every letter; only the instructions' parameters are held out).
char letter(Rng& rng, bool held_out) {
  if (held_out) return kUnseenLetters[draw(rng, 0, 2)];
  for (;;) {
    const char c = static_cast<char>('a' + draw(rng, 0, 25));
    if (!unseen_letter(c)) return c;
  }
}

std::string join(const List& items) {
  std::string s;
  for (char c : items) {
    if (!s.empty()) s += ' ';
    s += c;
  }
  return s;
}

// The instruction in the training wording or the paraphrase (`human`).
std::string wording(Op op, bool human, int64_t k, char a, char b, char c, char d) {
  const std::string A(1, a), B(1, b), C(1, c), D(1, d);
  switch (op) {
    case kReverse:
      return human ? "Write the items in the opposite order." : "Reverse the list.";
    case kSort:
      return human ? "Put the items in order from a to z." : "Sort the list in alphabetical order.";
    case kCount:
      return human ? "Count the items." : "How many items are in the list?";
    case kItem:
      return human ? "Give the " + std::string(kOrdinals[k - 1]) + " item."
                   : "What is item number " + std::to_string(k) + " of the list?";
    case kLast:
      return human ? "Which item comes at the end?" : "What is the last item of the list?";
    case kRemove:
      return human ? "Write the list without the letter " + A + "."
                   : "Remove every " + A + " from the list.";
    case kReplace:
      return human ? "Change every " + A + " into " + B + " and every " + C + " into " + D + "."
                   : "Replace " + A + " with " + B + " and " + C + " with " + D + ".";
    case kRotate:
      return human ? "Put the first item last." : "Move the first item to the end.";
    case kOps:
      break;
  }
  fail("synthetic instructions: no operation ", static_cast<int>(op));
}

AlpacaRecord make_record(Rng& rng, SynthSplit split) {
  const bool unseen = split == SynthSplit::unseen, human = split == SynthSplit::human;
  // validation_unseen asks only the operations with parameters.
  static const Op kParameterized[] = {kItem, kRemove, kReplace};
  const Op op = unseen ? kParameterized[draw(rng, 0, 2)] : static_cast<Op>(draw(rng, 0, kOps - 1));
  int64_t k = 0;
  if (op == kItem) {
    do {
      k = draw(rng, 1, 8);
    } while (unseen != (k == kUnseenItems[0] || k == kUnseenItems[1]));
  }
  const int64_t n = draw(rng, std::max<int64_t>(3, k), 8);
  List items;
  for (int64_t i = 0; i < n; ++i) items.push_back(static_cast<char>('a' + draw(rng, 0, 25)));
  char a = 0, b = 0, c = 0, d = 0;
  if (op == kRemove || op == kReplace) {
    // The letters the instruction names occur in the list (at a drawn place each).
    a = letter(rng, unseen);
    const int64_t at_a = draw(rng, 0, n - 1);
    items[at_a] = a;
    if (op == kReplace) {
      do {
        c = letter(rng, false);
      } while (c == a);
      items[(at_a + 1 + draw(rng, 0, n - 2)) % n] = c;
      b = letter(rng, false);
      d = letter(rng, false);
    }
  }
  List out;
  switch (op) {
    case kReverse:
      out.assign(items.rbegin(), items.rend());
      break;
    case kSort:
      out = items;
      std::sort(out.begin(), out.end());
      break;
    case kCount:
      break;
    case kItem:
      out = {items[k - 1]};
      break;
    case kLast:
      out = {items.back()};
      break;
    case kRemove:
      for (char x : items)
        if (x != a) out.push_back(x);
      break;
    case kReplace:
      for (char x : items) out.push_back(x == a ? b : x == c ? d : x);
      break;
    case kRotate:
      out.assign(items.begin() + 1, items.end());
      out.push_back(items.front());
      break;
    case kOps:
      break;
  }
  AlpacaRecord r;
  r.instruction = wording(op, human, k, a, b, c, d);
  r.input = join(items);
  r.output = op == kCount ? std::to_string(n) : join(out);
  r.source = std::string("synthetic:") + kOpNames[op];
  return r;
}

}  // namespace

SynthSplit parse_synth_split(const std::string& name) {
  if (name == "train") return SynthSplit::train;
  if (name == "seen") return SynthSplit::seen;
  if (name == "unseen") return SynthSplit::unseen;
  if (name == "human") return SynthSplit::human;
  fail("synthetic instructions: unknown split '", name, "', expected train, seen, unseen or human");
}

std::vector<AlpacaRecord> synth_instructions(const SynthInstructOptions& o) {
  if (o.examples < 1)
    fail("synthetic instructions: --examples must be at least 1, got ", o.examples);
  // Each split its own stream, so that validation draws never depend on the train size.
  std::seed_seq seq{static_cast<uint32_t>(o.seed), static_cast<uint32_t>(o.seed >> 32),
                    static_cast<uint32_t>(o.split)};
  Rng rng(seq);
  std::vector<AlpacaRecord> out;
  for (int64_t i = 0; i < o.examples; ++i) out.push_back(make_record(rng, o.split));
  return out;
}

}  // namespace condense::data
