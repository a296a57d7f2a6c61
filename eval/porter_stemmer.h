// The Porter stemmer exactly as NLTK's `PorterStemmer()` computes it in its default mode
// (NLTK_EXTENSIONS, checked against NLTK 3.8). That is the stemmer behind rouge_score's
// `use_stemmer=True`, so ROUGE numbers only match the published ones if every quirk matches:
// the irregular-forms pool, words of 1-2 letters left alone, the NLTK variants of steps 1a, 1b
// ('ies'/'ied' on 4-letter words), 1c (y->i only after a consonant), 2 ('alli' first, 'bli',
// 'fulli', 'logi') and the two-letter case of the cvc test.
#pragma once
#include <string>
#include <string_view>

namespace condense::eval {

// Stems one word. Letters are lowercased (ASCII) first, as NLTK's stem() does; any other byte
// is treated as a consonant, like a digit is in NLTK.
std::string porter_stem(std::string_view word);

}  // namespace condense::eval
