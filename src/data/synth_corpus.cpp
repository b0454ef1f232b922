#include "data/synth_corpus.h"

#include <algorithm>
#include <set>

#include "common/error.h"

namespace fid::data {
namespace {

const char* kSyllables[] = {"ka", "ro", "vin", "dal", "mer", "to", "sa", "len", "bri", "gor",
                            "fa", "nel", "quo", "thar", "zi", "mol", "pe", "dra", "vos", "li",
                            "ban", "cor", "el", "fin", "gal", "hem", "is", "jor", "kel", "mun",
                            "nor", "ost", "pil", "rud", "sef", "tam", "ul", "ver", "wyn", "yor"};
const char* kCitySuffix[] = {"ford", "mora", "heim", "ville", "grad", "port", "stad", "bury"};
const char* kProfessions[] = {
    "cartographer", "glassblower", "astronomer", "botanist",  "locksmith", "violinist",
    "shipwright",   "archivist",   "tanner",     "geologist", "weaver",    "surgeon",
    "clockmaker",   "printer",     "architect",  "brewer",    "sculptor",  "chemist",
    "beekeeper",    "navigator",   "bookbinder", "potter",    "translator", "engraver"};
const char* kFiller[] = {
    "The region around the river was known for its markets and old bridges.",
    "Records from that period are incomplete, and several letters were lost.",
    "Travellers often described the roads as long and difficult in winter.",
    "Local archives keep a number of drawings and notes from those years.",
    "Many families in the valley worked the fields during the summer months.",
    "The town council met twice a year to settle disputes over land.",
    "Later historians have debated the order of these events at length.",
    "A small museum now holds tools and documents from the workshop."};

std::string capitalize(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

std::string make_word(SplitMix64& rng, int min_syl, int max_syl) {
  int n = min_syl + static_cast<int>(rng.below(static_cast<size_t>(max_syl - min_syl + 1)));
  std::string w;
  for (int i = 0; i < n; ++i) w += kSyllables[rng.below(std::size(kSyllables))];
  return capitalize(w);
}

// n distinct strings from a generator.
template <typename Gen>
std::vector<std::string> distinct(int n, Gen gen) {
  std::set<std::string> seen;
  std::vector<std::string> out;
  while (static_cast<int>(out.size()) < n) {
    std::string s = gen();
    if (seen.insert(s).second) out.push_back(s);
  }
  return out;
}

struct Person {
  std::string name, city, year, profession;
  int teacher = -1;
};

// Sentences about someone other than the passage's subject: they name the
// other person twice, with the words a question uses ("born", "worked as",
// "studied"), but state the subject's facts, never the other person's.
std::string distractor(SplitMix64& rng, const Person& s, const Person& x, const Person& teacher) {
  // The subject is "they" here too: only the other person is named (twice).
  switch (rng.below(4)) {
    case 0: return "They met " + x.name + " in " + s.city + ", and " + x.name +
                   " was also born in a river town.";
    case 1: return "Like " + x.name + ", they worked as a " + s.profession + "; " + x.name +
                   " admired the trade.";
    case 2: return x.name + " studied the early work of the " + s.profession + ", born in " +
                   s.city + " in " + s.year + "; " + x.name + " kept the letters.";
    default: return "They studied under " + teacher.name + " alongside " + x.name + ", and " +
                    x.name + " wrote about it.";
  }
}

}  // namespace

SynthCorpus make_synth_corpus(const SynthOptions& o) {
  FID_CHECK(o.people >= 10, "--people must be at least 10, got ", o.people);
  FID_CHECK(o.mentions >= 0 && o.mentions < o.people, "--mentions must be in [0, people)");
  FID_CHECK(o.dev_fraction >= 0 && o.test_fraction >= 0 && o.dev_fraction + o.test_fraction < 1,
            "--dev_fraction + --test_fraction must be below 1");
  SplitMix64 rng(o.seed * 0x2545F4914F6CDD1DULL + 17);
  auto names = distinct(o.people, [&] { return make_word(rng, 2, 3) + " " + make_word(rng, 2, 3); });
  auto cities = distinct(std::max(50, o.people / 2), [&] {
    return make_word(rng, 1, 2) + kCitySuffix[rng.below(std::size(kCitySuffix))];
  });
  std::vector<Person> people(static_cast<size_t>(o.people));
  for (size_t i = 0; i < people.size(); ++i) {
    Person& p = people[i];
    p.name = names[i];
    p.city = cities[rng.below(cities.size())];
    p.year = std::to_string(1600 + rng.below(400));
    p.profession = kProfessions[rng.below(std::size(kProfessions))];
    p.teacher = static_cast<int>(rng.below(people.size() - 1));
    if (p.teacher >= static_cast<int>(i)) ++p.teacher;
  }

  // mentioned[m][i]: the m-th person passage i names. Each round is a
  // permutation without fixed points, so everyone is a distractor in exactly
  // `mentions` other passages.
  std::vector<std::vector<size_t>> mentioned(static_cast<size_t>(o.mentions));
  for (auto& perm : mentioned) {
    perm.resize(people.size());
    for (size_t i = 0; i < perm.size(); ++i) perm[i] = i;
    for (size_t k = perm.size(); k > 1; --k) std::swap(perm[k - 1], perm[rng.below(k)]);
    for (size_t i = 0; i < perm.size(); ++i) {
      if (perm[i] == i) std::swap(perm[i], perm[(i + 1) % perm.size()]);
    }
  }
  SynthCorpus out;
  for (size_t i = 0; i < people.size(); ++i) {
    const Person& p = people[i];
    const Person& teacher = people[static_cast<size_t>(p.teacher)];
    // The subject is named once; the other facts say "they". Two facts in
    // three are paraphrased away from the questions' words ("born", "work",
    // "study"), which the distractors use: lexical overlap alone ranks the
    // distractors first, a retriever has to learn the paraphrases.
    const std::vector<std::string> born = {
        p.name + " was born in " + p.city + " in " + p.year + ".",
        p.name + " came into the world at " + p.city + " in the year " + p.year + ".",
        "The birthplace of " + p.name + " was " + p.city + ", in " + p.year + "."};
    const std::vector<std::string> trade = {"As an adult they worked as a " + p.profession + ".",
                                            "By trade they were a " + p.profession + ".",
                                            "Their craft was that of a " + p.profession + "."};
    const std::vector<std::string> mentor = {"They studied under " + teacher.name + ".",
                                             "Their mentor was " + teacher.name + ".",
                                             teacher.name + " trained them in youth."};
    std::vector<std::string> facts = {born[rng.below(3)], trade[rng.below(3)], mentor[rng.below(3)]};
    std::vector<std::string> sentences;
    for (int m = 0; m < o.mentions; ++m) {
      sentences.push_back(distractor(rng, p, people[mentioned[static_cast<size_t>(m)][i]], teacher));
    }
    // The facts come first (so "they" refers to the subject), then the
    // distractors, then filler up to the passage length.
    sentences.insert(sentences.begin(), facts.begin(), facts.end());
    std::string text;
    int words = 0;
    auto add = [&](const std::string& s) {
      text += (text.empty() ? "" : " ") + s;
      words += static_cast<int>(std::count(s.begin(), s.end(), ' ')) + 1;
    };
    for (const auto& s : sentences) add(s);
    while (words < o.words) add(kFiller[rng.below(std::size(kFiller))]);
    out.passages.push_back({std::to_string(i + 1), p.name, text});
  }

  // Questions: every (person, relation) pair, shuffled into the splits.
  std::vector<data::Example> all;
  for (const Person& p : people) {
    auto q = [&](std::string question, std::string answer) {
      data::Example ex;
      ex.question = std::move(question);
      ex.answers = {answer};
      ex.target = answer;
      ex.has_target = true;
      all.push_back(std::move(ex));
    };
    q("Where was " + p.name + " born?", p.city);
    q("In what year was " + p.name + " born?", p.year);
    q("What did " + p.name + " work as?", p.profession);
    q("Who did " + p.name + " study under?", people[static_cast<size_t>(p.teacher)].name);
  }
  for (size_t k = all.size(); k > 1; --k) std::swap(all[k - 1], all[rng.below(k)]);
  const auto n = static_cast<double>(all.size());
  const auto n_dev = static_cast<size_t>(n * o.dev_fraction);
  const auto n_test = static_cast<size_t>(n * o.test_fraction);
  for (size_t k = 0; k < all.size(); ++k) {
    auto& split = k < n_dev ? out.dev : k < n_dev + n_test ? out.test : out.train;
    all[k].id = (k < n_dev ? "dev-" : k < n_dev + n_test ? "test-" : "train-") + std::to_string(split.size());
    split.push_back(std::move(all[k]));
  }
  return out;
}

}  // namespace fid::data
