// The synthetic corpus: deterministic, answerable from exactly the passage
// of the person asked about, with distractors that name that person.
#include <gtest/gtest.h>

#include <map>

#include "data/synth_corpus.h"
#include "common/files.h"
#include "support/test_util.h"

namespace fid::data {
namespace {

TEST(Synth, SameSeedSameCorpusOtherSeedOther) {
  SynthOptions o;
  o.people = 50;
  SynthCorpus a = make_synth_corpus(o);
  SynthCorpus b = make_synth_corpus(o);
  ASSERT_EQ(a.passages.size(), 50u);
  for (size_t i = 0; i < a.passages.size(); ++i) EXPECT_EQ(a.passages[i].text, b.passages[i].text);
  EXPECT_EQ(a.train.size() + a.dev.size() + a.test.size(), 200u);
  EXPECT_EQ(a.dev.size(), 30u);
  o.seed = 1;
  SynthCorpus c = make_synth_corpus(o);
  EXPECT_NE(a.passages[0].text, c.passages[0].text);
}

TEST(Synth, AnswersSitInTheGoldPassageAndDistractorsNameThePerson) {
  SynthOptions o;
  o.people = 80;
  SynthCorpus c = make_synth_corpus(o);
  std::map<std::string, const data::Passage*> by_title;
  for (const auto& p : c.passages) by_title[p.title] = &p;
  int checked = 0;
  for (const auto* split : {&c.train, &c.dev, &c.test}) {
    for (const auto& ex : *split) {
      const std::string prefix = "Where was ";
      if (ex.question.rfind(prefix, 0) != 0) continue;
      std::string person = ex.question.substr(prefix.size(), ex.question.size() - prefix.size() - 6);
      ASSERT_TRUE(by_title.count(person)) << person;
      // The answer is stated in the person's passage, right after the name
      // (one of the birth sentences), whatever words the sentence uses.
      const std::string& text = by_title[person]->text;
      const size_t at = text.find(ex.answers.at(0));
      ASSERT_NE(at, std::string::npos) << text;
      EXPECT_NE(text.substr(0, at).find(person), std::string::npos) << text;
      int mentions = 0;
      for (const auto& p : c.passages) {
        if (p.title != person && p.text.find(person) != std::string::npos) ++mentions;
      }
      EXPECT_GT(mentions, 0) << person << " is never a distractor";
      ++checked;
    }
  }
  EXPECT_EQ(checked, 80);
}

TEST(Synth, CommandWritesFilesThatReadBack) {
  testing::TempDir dir;
  std::string out;
  ASSERT_EQ(testing::run_command(testing::fid_binary() + " synth-data --output_dir " + dir.path() +
                                     " --people 20",
                                 &out),
            0)
      << out;
  for (const char* f : {"passages.tsv", "train.json", "dev.json", "test.json"}) {
    EXPECT_TRUE(path_exists(dir.file(f))) << f;
  }
  EXPECT_NE(read_file(dir.file("passages.tsv")).find("id\ttext\ttitle\n1\t"), std::string::npos);
  EXPECT_NE(testing::run_command(testing::fid_binary() + " synth-data --output_dir " + dir.path() +
                                     " --people 3", &out), 0);
  EXPECT_NE(out.find("--people"), std::string::npos) << out;
}

}  // namespace
}  // namespace fid::data
