#include "sharding/hdf5_util.h"

#include <mutex>
#include <vector>

#include "common/error.h"

namespace fid::sharding::h5 {

void quiet_errors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

namespace {
herr_t collect(unsigned n, const H5E_error2_t* err, void* data) {
  auto* out = static_cast<std::string*>(data);
  // The innermost entries say what actually failed (a checksum, a truncated
  // file, a failed write); keep the first few descriptions only.
  if (n < 4 && err->desc != nullptr) {
    if (!out->empty()) out->append("; ");
    out->append(err->desc);
  }
  return 0;
}
}  // namespace

std::string take_error_stack() {
  std::string msg;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect, &msg);
  H5Eclear2(H5E_DEFAULT);
  return msg.empty() ? std::string("unknown HDF5 error") : msg;
}

void check(int64_t status, const std::string& what, const std::string& path) {
  if (status < 0) FID_THROW(what, " '", path, "' failed: ", take_error_stack());
}

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    kind_ = o.kind_;
    o.id_ = -1;
  }
  return *this;
}

herr_t Handle::reset() {
  if (id_ < 0) return 0;
  herr_t rc = 0;
  switch (kind_) {
    case kFile: rc = H5Fclose(id_); break;
    case kDataset: rc = H5Dclose(id_); break;
    case kDataspace: rc = H5Sclose(id_); break;
    case kAttribute: rc = H5Aclose(id_); break;
    case kType: rc = H5Tclose(id_); break;
    case kPlist: rc = H5Pclose(id_); break;
  }
  id_ = -1;
  return rc;
}

Handle make_float16_type() {
  Handle t(H5Tcopy(H5T_IEEE_F32LE), Handle::kType);
  // Sign bit 15, exponent bits 10..14, mantissa bits 0..9, bias 15.
  H5Tset_fields(t.get(), 15, 10, 5, 0, 10);
  H5Tset_size(t.get(), 2);
  H5Tset_ebias(t.get(), 15);
  return t;
}

bool has_attribute(hid_t obj, const char* name) { return H5Aexists(obj, name) > 0; }

void write_int64_attr(hid_t obj, const char* name, int64_t value, const std::string& path) {
  Handle attr;
  if (has_attribute(obj, name)) {
    attr = Handle(H5Aopen(obj, name, H5P_DEFAULT), Handle::kAttribute);
  } else {
    Handle space(H5Screate(H5S_SCALAR), Handle::kDataspace);
    attr = Handle(H5Acreate2(obj, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                  Handle::kAttribute);
  }
  check(attr.get(), std::string("opening attribute '") + name + "' of", path);
  check(H5Awrite(attr.get(), H5T_NATIVE_INT64, &value),
        std::string("writing attribute '") + name + "' of", path);
}

void write_string_attr(hid_t obj, const char* name, const std::string& value,
                       const std::string& path) {
  // Strings are written once at creation: a fixed-length type sized to fit.
  if (has_attribute(obj, name)) check(H5Adelete(obj, name), "replacing attribute of", path);
  Handle type(H5Tcopy(H5T_C_S1), Handle::kType);
  H5Tset_size(type.get(), value.empty() ? 1 : value.size());
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  Handle space(H5Screate(H5S_SCALAR), Handle::kDataspace);
  Handle attr(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
              Handle::kAttribute);
  check(attr.get(), std::string("creating attribute '") + name + "' of", path);
  std::string buf = value.empty() ? std::string(1, '\0') : value;
  check(H5Awrite(attr.get(), type.get(), buf.data()),
        std::string("writing attribute '") + name + "' of", path);
}

int64_t read_int64_attr(hid_t obj, const char* name, const std::string& path) {
  FID_CHECK(has_attribute(obj, name), "embedding shard '", path, "' has no attribute '", name,
            "' (not a file written by fid embed-passages, or from an incompatible version)");
  Handle attr(H5Aopen(obj, name, H5P_DEFAULT), Handle::kAttribute);
  check(attr.get(), std::string("opening attribute '") + name + "' of", path);
  int64_t value = 0;
  check(H5Aread(attr.get(), H5T_NATIVE_INT64, &value),
        std::string("reading attribute '") + name + "' of", path);
  return value;
}

std::string read_string_attr(hid_t obj, const char* name, const std::string& path) {
  FID_CHECK(has_attribute(obj, name), "embedding shard '", path, "' has no attribute '", name,
            "' (not a file written by fid embed-passages, or from an incompatible version)");
  Handle attr(H5Aopen(obj, name, H5P_DEFAULT), Handle::kAttribute);
  check(attr.get(), std::string("opening attribute '") + name + "' of", path);
  Handle type(H5Aget_type(attr.get()), Handle::kType);
  FID_CHECK(H5Tget_class(type.get()) == H5T_STRING, "attribute '", name, "' of '", path,
            "' is not a string");
  if (H5Tis_variable_str(type.get()) > 0) {
    // Variable-length strings (as h5py writes them) come back as a char*.
    Handle mem(H5Tcopy(H5T_C_S1), Handle::kType);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    char* ptr = nullptr;
    check(H5Aread(attr.get(), mem.get(), &ptr), std::string("reading attribute '") + name + "' of",
          path);
    std::string out = ptr ? ptr : "";
    Handle space(H5Aget_space(attr.get()), Handle::kDataspace);
    H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, &ptr);
    return out;
  }
  std::vector<char> buf(H5Tget_size(type.get()) + 1, '\0');
  check(H5Aread(attr.get(), type.get(), buf.data()),
        std::string("reading attribute '") + name + "' of", path);
  return std::string(buf.data());
}

}  // namespace fid::sharding::h5
