/* A test-only seam, loaded with LD_PRELOAD: every rename() and H5Fflush()
 * of the process waits FID_TEST_SLOW_IO_MS milliseconds first. The kill-and-
 * resume tests pace a job this way (checkpoints and embedding batches end in
 * one of the two), so a tiny model is still mid-run when they strike, on any
 * machine speed, with no hook in the production code.
 * FID_TEST_DISK_BYTES=N: pwrite() (HDF5's writes) fails with ENOSPC once the
 * process has written N bytes through it, as a file system that fills up
 * mid-run does, where the tests cannot mount a small one. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/types.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static void pause_if_asked(void) {
  const char* v = getenv("FID_TEST_SLOW_IO_MS");
  long ms = v ? strtol(v, NULL, 10) : 0;
  if (ms <= 0) return;
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&t, &t) != 0) {
  }
}

int rename(const char* from, const char* to) {
  static int (*real)(const char*, const char*);
  if (!real) real = (int (*)(const char*, const char*))dlsym(RTLD_NEXT, "rename");
  pause_if_asked();
  return real(from, to);
}

/* herr_t H5Fflush(hid_t object_id, H5F_scope_t scope): int, int64_t, enum. */
int H5Fflush(int64_t object_id, int scope) {
  static int (*real)(int64_t, int);
  if (!real) real = (int (*)(int64_t, int))dlsym(RTLD_NEXT, "H5Fflush");
  pause_if_asked();
  return real(object_id, scope);
}

static ssize_t fill_up(size_t count) {
  static long long written;
  const char* v = getenv("FID_TEST_DISK_BYTES");
  if (v == NULL) return 0;
  if (written + (long long)count > strtoll(v, NULL, 10)) {
    errno = ENOSPC;
    return -1;
  }
  written += (long long)count;
  return 0;
}

ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset) {
  static ssize_t (*real)(int, const void*, size_t, off_t);
  if (!real) real = (ssize_t(*)(int, const void*, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
  if (fill_up(count) != 0) return -1;
  return real(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void* buf, size_t count, off_t offset) {
  static ssize_t (*real)(int, const void*, size_t, off_t);
  if (!real) real = (ssize_t(*)(int, const void*, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
  if (fill_up(count) != 0) return -1;
  return real(fd, buf, count, offset);
}
