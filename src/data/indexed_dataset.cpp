#include "data/indexed_dataset.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "data/example_reader.h"
#include "data/json_splitter.h"

namespace fid::data {

IndexedDataset::IndexedDataset(const std::string& path, ReaderOptions options)
    : path_(path), options_(std::move(options)) {
  splitter_ = std::make_unique<ElementSplitter>(path, options_.buffer_bytes);
  Element e;
  while (splitter_->next(e)) {
    offsets_.push_back(e.offset);
    sizes_.push_back(static_cast<int64_t>(e.size));
  }
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  FID_CHECK(fd_ >= 0, "cannot open '", path, "': ", std::strerror(errno));
}

IndexedDataset::~IndexedDataset() {
  if (fd_ >= 0) ::close(fd_);
}

void IndexedDataset::get(int64_t index, Example& out) const {
  FID_CHECK(index >= 0 && index < size(), "'", path_, "': example ", index, " out of range (",
            size(), " examples)");
  const auto i = static_cast<size_t>(index);
  const auto n = static_cast<size_t>(sizes_[i]);
  // simdjson reads up to kElementPadding bytes past the element.
  std::string buf(n + kElementPadding, '\0');
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd_, buf.data() + done, n - done, static_cast<off_t>(offsets_[i]) + static_cast<off_t>(done));
    if (r < 0 && errno == EINTR) continue;
    FID_CHECK(r > 0, "'", path_, "': cannot read example ", index,
              r == 0 ? " (the file shrank since it was indexed)" : std::strerror(errno));
    done += static_cast<size_t>(r);
  }
  Element e;
  e.data = buf.data();
  e.size = n;
  e.capacity = buf.size();
  e.offset = offsets_[i];
  e.index = index;
  parse_example_element(*splitter_, e, options_, out);
}

}  // namespace fid::data
