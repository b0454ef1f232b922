#include "sharding/fid_pickle.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <map>

#include "common/error.h"
#include "sharding/float16.h"

namespace fid::sharding {
namespace {

// A pickled value. Bytes point into the mapped file; calls keep their
// callable, arguments and BUILD state, which is all numpy's arrays need.
struct Obj;
using Ref = std::shared_ptr<Obj>;
struct Obj {
  enum class Kind { kNone, kBool, kInt, kFloat, kStr, kBytes, kTuple, kList, kDict, kGlobal, kCall, kMark };
  Kind kind = Kind::kNone;
  int64_t i = 0;
  double f = 0;
  std::string s;                     // str; a global's "module.name"
  const unsigned char* bytes = nullptr;
  uint64_t nbytes = 0;
  std::vector<Ref> items;            // tuple, list, dict (key, value, ...); call: callable, args
  Ref state;                         // call: what BUILD gave it
};

Ref make(Obj::Kind k) {
  auto o = std::make_shared<Obj>();
  o->kind = k;
  return o;
}

class Machine {
 public:
  Machine(const unsigned char* p, size_t n, const std::string& path) : begin_(p), p_(p), end_(p + n), path_(path) {}

  Ref run() {
    while (true) {
      const unsigned char op = take(1)[0];
      switch (op) {
        case 0x80: take(1); break;                       // PROTO
        case 0x95: take(8); break;                       // FRAME
        case '(': push(make(Obj::Kind::kMark)); break;   // MARK
        case ')': push(make(Obj::Kind::kTuple)); break;  // EMPTY_TUPLE
        case 0x85: case 0x86: case 0x87: {               // TUPLE1..3
          auto t = make(Obj::Kind::kTuple);
          t->items.resize(op - 0x84);
          for (size_t k = t->items.size(); k-- > 0;) t->items[k] = pop();
          push(t);
          break;
        }
        case 't': { auto t = make(Obj::Kind::kTuple); t->items = pop_to_mark(); push(t); break; }
        case ']': push(make(Obj::Kind::kList)); break;
        case 'a': { Ref v = pop(); top(Obj::Kind::kList)->items.push_back(v); break; }
        case 'e': { auto v = pop_to_mark(); auto& l = top(Obj::Kind::kList)->items; l.insert(l.end(), v.begin(), v.end()); break; }
        case '}': push(make(Obj::Kind::kDict)); break;
        case 's': { Ref v = pop(), k = pop(); auto& d = top(Obj::Kind::kDict)->items; d.push_back(k); d.push_back(v); break; }
        case 'u': { auto v = pop_to_mark(); auto& d = top(Obj::Kind::kDict)->items; d.insert(d.end(), v.begin(), v.end()); break; }
        case 'N': push(make(Obj::Kind::kNone)); break;
        case 0x88: case 0x89: { auto b = make(Obj::Kind::kBool); b->i = op == 0x88; push(b); break; }
        case 'J': push_int(static_cast<int32_t>(le(take(4), 4))); break;
        case 'K': push_int(take(1)[0]); break;
        case 'M': push_int(static_cast<int64_t>(le(take(2), 2))); break;
        case 0x8a: {  // LONG1: little-endian two's complement
          const size_t n = take(1)[0];
          FID_CHECK(n <= 8, path_, ": an integer of ", n, " bytes; not a FiD embedding file");
          uint64_t v = n ? le(take(n), n) : 0;
          if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);
          push_int(static_cast<int64_t>(v));
          break;
        }
        case 'G': {  // BINFLOAT, big-endian
          const unsigned char* b = take(8);
          uint64_t v = 0;
          for (int k = 0; k < 8; ++k) v = (v << 8) | b[k];
          auto f = make(Obj::Kind::kFloat);
          std::memcpy(&f->f, &v, 8);
          push(f);
          break;
        }
        case 'X': push_str(le(take(4), 4)); break;
        case 0x8c: push_str(take(1)[0]); break;
        case 0x8d: push_str(le(take(8), 8)); break;
        case 'C': case 'U': push_bytes(take(1)[0]); break;
        case 'B': case 'T': push_bytes(le(take(4), 4)); break;
        case 0x8e: case 0x96: push_bytes(le(take(8), 8)); break;  // BINBYTES8, BYTEARRAY8
        case 'c': {  // GLOBAL "module\nname\n"
          auto g = make(Obj::Kind::kGlobal);
          g->s = line() + "." + line();
          push(g);
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          Ref name = pop(), module = pop();
          auto g = make(Obj::Kind::kGlobal);
          g->s = module->s + "." + name->s;
          push(g);
          break;
        }
        case 'R': case 0x81: {  // REDUCE, NEWOBJ: a call to build later
          Ref args = pop(), callable = pop();
          auto c = make(Obj::Kind::kCall);
          c->items = {callable, args};
          push(c);
          break;
        }
        case 'b': { Ref state = pop(); top(Obj::Kind::kCall)->state = state; break; }  // BUILD
        case 0x94: memo_[memo_.size()] = top_any(); break;                          // MEMOIZE
        case 'q': memo_[take(1)[0]] = top_any(); break;
        case 'r': memo_[le(take(4), 4)] = top_any(); break;
        case 'h': push(memo(take(1)[0])); break;
        case 'j': push(memo(le(take(4), 4))); break;
        case '.': {
          FID_CHECK(stack_.size() == 1, path_, ": damaged pickle (", stack_.size(), " values at its end)");
          return stack_.back();
        }
        default:
          FID_THROW(path_, ": pickle opcode 0x", std::hex, static_cast<int>(op), std::dec, " at byte ",
                    offset() - 1, " is not one a FiD embedding file uses (out-of-band buffers or a damaged "
                    "file); write it with pickle.dump((ids, embeddings), f) as FiD does");
      }
    }
  }

 private:
  const unsigned char* take(uint64_t n) {
    FID_CHECK(static_cast<uint64_t>(end_ - p_) >= n, path_, ": the pickle ends at byte ", offset(),
              " in the middle of a value: the file is truncated; copy or write it again");
    const unsigned char* at = p_;
    p_ += n;
    return at;
  }
  static uint64_t le(const unsigned char* b, size_t n) {
    uint64_t v = 0;
    for (size_t k = n; k-- > 0;) v = (v << 8) | b[k];
    return v;
  }
  std::string line() {
    const unsigned char* nl = static_cast<const unsigned char*>(std::memchr(p_, '\n', end_ - p_));
    FID_CHECK(nl != nullptr, path_, ": damaged pickle (a global without its name)");
    std::string s(reinterpret_cast<const char*>(p_), nl - p_);
    p_ = nl + 1;
    return s;
  }
  size_t offset() const { return static_cast<size_t>(p_ - begin_); }
  void push(Ref r) { stack_.push_back(std::move(r)); }
  void push_int(int64_t v) { auto o = make(Obj::Kind::kInt); o->i = v; push(o); }
  void push_str(uint64_t n) { auto o = make(Obj::Kind::kStr); const unsigned char* b = take(n); o->s.assign(reinterpret_cast<const char*>(b), n); push(o); }
  void push_bytes(uint64_t n) { auto o = make(Obj::Kind::kBytes); o->bytes = take(n); o->nbytes = n; push(o); }
  Ref pop() {
    FID_CHECK(!stack_.empty() && stack_.back()->kind != Obj::Kind::kMark, path_, ": damaged pickle (stack underflow)");
    Ref r = stack_.back();
    stack_.pop_back();
    return r;
  }
  Ref top_any() {
    FID_CHECK(!stack_.empty(), path_, ": damaged pickle (memo of nothing)");
    return stack_.back();
  }
  Ref top(Obj::Kind k) {
    FID_CHECK(!stack_.empty() && stack_.back()->kind == k, path_, ": damaged pickle (unexpected value kind)");
    return stack_.back();
  }
  std::vector<Ref> pop_to_mark() {
    std::vector<Ref> out;
    while (!stack_.empty() && stack_.back()->kind != Obj::Kind::kMark) {
      out.push_back(stack_.back());
      stack_.pop_back();
    }
    FID_CHECK(!stack_.empty(), path_, ": damaged pickle (no mark)");
    stack_.pop_back();
    return std::vector<Ref>(out.rbegin(), out.rend());
  }
  Ref memo(uint64_t k) {
    auto it = memo_.find(k);
    FID_CHECK(it != memo_.end(), path_, ": damaged pickle (memo ", k, " unset)");
    return it->second;
  }

  const unsigned char* begin_;
  const unsigned char* p_;
  const unsigned char* end_;
  std::string path_;
  std::vector<Ref> stack_;
  std::map<uint64_t, Ref> memo_;
};

bool is_global(const Ref& r, const std::string& suffix) {
  if (!r || r->kind != Obj::Kind::kCall || r->items[0]->kind != Obj::Kind::kGlobal) return false;
  const std::string& s = r->items[0]->s;
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

namespace {

struct ArrayView {
  std::vector<int64_t> shape;
  std::string type;   // numpy's dtype code: "f2", "f4"
  char order = '<';
  bool fortran = false;
  const unsigned char* data = nullptr;
  uint64_t nbytes = 0;
};

// numpy.dtype('f2', False, True) with its __setstate__ (3, '<', ...).
void read_dtype(const Ref& d, ArrayView& a, const std::string& path) {
  FID_CHECK(is_global(d, ".dtype") && !d->items[1]->items.empty() &&
                d->items[1]->items[0]->kind == Obj::Kind::kStr,
            path, ": the array's dtype is not a numpy dtype");
  a.type = d->items[1]->items[0]->s;
  if (d->state && d->state->kind == Obj::Kind::kTuple && d->state->items.size() > 1 &&
      d->state->items[1]->kind == Obj::Kind::kStr && !d->state->items[1]->s.empty())
    a.order = d->state->items[1]->s[0];
}

std::vector<int64_t> read_shape(const Ref& t, const std::string& path) {
  FID_CHECK(t->kind == Obj::Kind::kTuple, path, ": the array's shape is not a tuple");
  std::vector<int64_t> shape;
  for (const auto& x : t->items) {
    FID_CHECK(x->kind == Obj::Kind::kInt, path, ": the array's shape holds a non-integer");
    shape.push_back(x->i);
  }
  return shape;
}

ArrayView read_array(const Ref& r, const std::string& path) {
  ArrayView a;
  if (is_global(r, "multiarray._reconstruct")) {
    // Protocol <= 4: state (version, shape, dtype, is_fortran, raw bytes).
    const Ref& st = r->state;
    FID_CHECK(st && st->kind == Obj::Kind::kTuple && st->items.size() == 5, path,
              ": the numpy array has no state (version, shape, dtype, is_fortran, data)");
    a.shape = read_shape(st->items[1], path);
    read_dtype(st->items[2], a, path);
    a.fortran = st->items[3]->kind == Obj::Kind::kBool && st->items[3]->i != 0;
    FID_CHECK(st->items[4]->kind == Obj::Kind::kBytes, path, ": the array's data are not raw bytes (an object array?)");
    a.data = st->items[4]->bytes;
    a.nbytes = st->items[4]->nbytes;
  } else if (is_global(r, "numeric._frombuffer")) {
    // Protocol 5: _frombuffer(buffer, dtype, shape, order).
    const auto& args = r->items[1]->items;
    FID_CHECK(args.size() == 4 && args[0]->kind == Obj::Kind::kBytes, path, ": unexpected numpy _frombuffer call");
    a.data = args[0]->bytes;
    a.nbytes = args[0]->nbytes;
    read_dtype(args[1], a, path);
    a.shape = read_shape(args[2], path);
    a.fortran = args[3]->kind == Obj::Kind::kStr && args[3]->s == "F";
  } else {
    FID_THROW(path, ": the second element is not a numpy array; FiD's files hold (ids, embeddings array)");
  }
  return a;
}

}  // namespace

FidPickleShard::FidPickleShard(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  FID_CHECK(fd >= 0, "cannot open FiD embedding file '", path, "': ", std::strerror(errno));
  struct stat st {};
  ::fstat(fd, &st);
  map_size_ = static_cast<size_t>(st.st_size);
  FID_CHECK(map_size_ > 0, "FiD embedding file '", path, "' is empty");
  map_ = ::mmap(nullptr, map_size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  FID_CHECK(map_ != MAP_FAILED, "cannot map '", path, "': ", std::strerror(errno));
  const auto* bytes = static_cast<const unsigned char*>(map_);
  FID_CHECK(bytes[0] == 0x80, path, " is not a pickle (FiD's embedding files are `pickle.dump((ids, embeddings), f)`)");
  Ref top = Machine(bytes, map_size_, path).run();
  FID_CHECK(top->kind == Obj::Kind::kTuple && top->items.size() == 2, path,
            ": holds no (ids, embeddings) pair; FiD's embedding files are pickle.dump((ids, embeddings), f)");
  const Ref& ids = top->items[0];
  FID_CHECK(ids->kind == Obj::Kind::kList || ids->kind == Obj::Kind::kTuple, path, ": the ids are not a list");
  ids_.reserve(ids->items.size());
  for (const auto& id : ids->items) {
    FID_CHECK(id->kind == Obj::Kind::kStr || id->kind == Obj::Kind::kInt, path, ": id ", ids_.size(),
              " is neither a str nor an int");
    ids_.push_back(id->kind == Obj::Kind::kStr ? id->s : std::to_string(id->i));
  }
  const ArrayView a = read_array(top->items[1], path);
  FID_CHECK(a.shape.size() == 2, path, ": the embeddings have ", a.shape.size(), " dimensions, not (passages, dim)");
  FID_CHECK(a.type == "f2" || a.type == "f4", path, ": embeddings of numpy type '", a.type,
            "'; float16 ('f2') or float32 ('f4') are read");
  FID_CHECK(a.order != '>', path, ": big-endian embeddings are not read");
  FID_CHECK(!a.fortran || a.shape[0] <= 1 || a.shape[1] <= 1, path, ": Fortran-order embeddings are not read");
  FID_CHECK(a.shape[0] == rows(), path, ": ", rows(), " ids but ", a.shape[0], " embedding rows");
  float16_ = a.type == "f2";
  dim_ = a.shape[1];
  FID_CHECK(a.nbytes == static_cast<uint64_t>(a.shape[0] * a.shape[1] * (float16_ ? 2 : 4)), path,
            ": the array's data hold ", a.nbytes, " bytes, not ", a.shape[0], " x ", a.shape[1], " values");
  data_ = a.data;
}

FidPickleShard::~FidPickleShard() {
  if (map_ != nullptr && map_ != MAP_FAILED) ::munmap(map_, map_size_);
}

void FidPickleShard::read_vectors(int64_t begin, int64_t n, float* out) const {
  FID_CHECK(begin >= 0 && n >= 0 && begin + n <= rows(), "rows [", begin, ", ", begin + n, ") of ", path_,
            " (", rows(), " rows)");
  const size_t values = static_cast<size_t>(n * dim_);
  if (float16_) {
    const unsigned char* p = data_ + static_cast<size_t>(begin * dim_) * 2;
    for (size_t k = 0; k < values; ++k) {
      uint16_t h;
      std::memcpy(&h, p + 2 * k, 2);
      out[k] = half_to_float(h);
    }
  } else {
    std::memcpy(out, data_ + static_cast<size_t>(begin * dim_) * 4, values * 4);
  }
}

}  // namespace fid::sharding
