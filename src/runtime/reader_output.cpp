// Writers of test-reader's outputs.
#include "common/error.h"
#include "common/files.h"
#include "data/example_reader.h"
#include "data/example_writer.h"
#include "runtime/reader_eval.h"

namespace fid::runtime {

void write_dataset_with_scores(const std::string& input, const std::string& output,
                               const std::vector<std::vector<float>>& scores) {
  data::ReaderOptions ro;
  ro.keep_raw = true;
  data::ExampleReader in(input, ro);
  data::ExampleWriter out(output, in.format());
  data::Example ex;
  size_t i = 0;
  while (in.next(ex)) {
    FID_CHECK(i < scores.size(), "'", input, "' has more examples than were scored (", scores.size(),
              "): was it modified during the run?");
    const std::vector<double> reader_scores(scores[i].begin(), scores[i].end());
    out.write_raw(data::with_reader_scores(ex.raw, reader_scores));
    ++i;
  }
  FID_CHECK(i == scores.size(), "'", input, "' has ", i, " examples, ", scores.size(), " were scored");
  out.close();
}

void write_answers(const std::string& path, const std::vector<std::string>& ids,
                   const std::vector<std::string>& answers) {
  std::string text;
  for (size_t i = 0; i < ids.size(); ++i) text += ids[i] + "\t" + answers[i] + "\n";
  write_file_atomic(path, text);
}

}  // namespace fid::runtime
