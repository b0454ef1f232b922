// answer_passages_first: the ctxs that contain an answer (DPR's has_answer:
// tokens, uncased) come first, both groups keep their order, the result is
// cut to n_context; without answers nothing moves.
#include <gtest/gtest.h>

#include "train/reader_targets.h"

namespace {

fid::data::Example example(std::vector<std::string> answers) {
  fid::data::Example ex;
  ex.answers = std::move(answers);
  const char* texts[] = {"born in Gorbury in 1937", "They met Lika in Tamford",
                         "the GORBURY archives", "Gorburyville is far", "a 1937 letter"};
  for (int i = 0; i < 5; ++i) {
    fid::data::Context c;
    c.id = std::to_string(i);
    c.text = texts[i];
    ex.ctxs.push_back(c);
  }
  return ex;
}

std::string ids(const fid::data::Example& ex) {
  std::string s;
  for (const auto& c : ex.ctxs) s += c.id;
  return s;
}

TEST(AnswerPassagesFirst, AnswerCtxsFirstInOrderThenCut) {
  auto ex = example({"Gorbury"});
  fid::train::answer_passages_first(ex, -1);
  // 0 and 2 contain the token "gorbury" (case aside); "Gorburyville" is another token.
  EXPECT_EQ(ids(ex), "02134");
  auto cut = example({"Gorbury", "1937"});
  fid::train::answer_passages_first(cut, 3);
  EXPECT_EQ(ids(cut), "024");
}

TEST(AnswerPassagesFirst, WithoutAnswersOrderIsKept) {
  auto ex = example({});
  fid::train::answer_passages_first(ex, 2);
  EXPECT_EQ(ids(ex), "01");
  auto none = example({"Nowhere"});
  fid::train::answer_passages_first(none, -1);
  EXPECT_EQ(ids(none), "01234");
}

}  // namespace
