// Small HDF5 helpers shared by the shard writer and reader: errors turned
// into fid::Error naming the file, scalar attributes, the float16 file type.
// Internal to fid_sharding (it includes hdf5.h; public headers do not).
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <string>

namespace fid::sharding::h5 {

// Silences HDF5's automatic stack printing (once per process).
void quiet_errors();
// The current HDF5 error stack as one line, cleared afterwards.
std::string take_error_stack();
// Throws fid::Error "<what> '<path>': <HDF5 stack>" when status < 0.
void check(int64_t status, const std::string& what, const std::string& path);

// Owns one hid_t and closes it with the right H5*close.
class Handle {
 public:
  enum Kind { kFile, kDataset, kDataspace, kAttribute, kType, kPlist };
  Handle() = default;
  Handle(hid_t id, Kind kind) : id_(id), kind_(kind) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : id_(o.id_), kind_(o.kind_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Gives up ownership (the caller closes the id).
  hid_t release() {
    hid_t id = id_;
    id_ = -1;
    return id;
  }
  // Closes now; returns the close status (negative on failure).
  herr_t reset();

 private:
  hid_t id_ = -1;
  Kind kind_ = kFile;
};

// HDF5 float16 (IEEE half, little endian) as h5py writes it.
Handle make_float16_type();

bool has_attribute(hid_t obj, const char* name);
void write_int64_attr(hid_t obj, const char* name, int64_t value, const std::string& path);
void write_string_attr(hid_t obj, const char* name, const std::string& value,
                       const std::string& path);
int64_t read_int64_attr(hid_t obj, const char* name, const std::string& path);
std::string read_string_attr(hid_t obj, const char* name, const std::string& path);

}  // namespace fid::sharding::h5
