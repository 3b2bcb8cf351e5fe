// I/O fault injection for the crash and disk-full tests (tests/cli/io_faults.sh,
// crash_resume.sh, tools/scripts/crash_test.sh): an LD_PRELOAD library that interposes the
// libc calls normforge's durable writes make (framework/io/durable.cpp) and fails, or
// crashes the process at, the k-th of them.
//
//   LD_PRELOAD=build/tests/faults/libnf_io_fault_shim.so NF_FAULT_AT=7 normforge train ...
//
// Calls interposed: open, open64, openat, openat64, creat, creat64 (and the fortified
// __open_2 family) remember each fd whose path contains NF_FAULT_PATH; close forgets it.
// write, fsync, fdatasync on a remembered fd, and rename, renameat, renameat2 with
// either path containing NF_FAULT_PATH, are "counted calls". Environment:
//   NF_FAULT_PATH        substring a path must contain (default ".tmp.": the temporary
//                        files and folders of a checkpoint being written)
//   NF_FAULT_CALLS       comma list of the kinds counted: write,fsync,rename (the default:
//                        these three; fdatasync counts as fsync), and unlink (opt-in:
//                        unlink, unlinkat, rmdir, remove of a matching path; how
//                        std::filesystem::remove_all deletes, e.g. when pruning)
//   NF_FAULT_AT=k        the k-th counted call (1-based) fails without doing anything;
//                        unset or 0: never, only count
//   NF_FAULT_ERRNO       ENOSPC (default) | EIO | EDQUOT | EFBIG | EROFS | a number
//   NF_FAULT_ACTION      error (default: the call returns -1 with that errno) | kill (the
//                        process SIGKILLs itself just before the k-th call: a crash at an
//                        exact point of a checkpoint write)
//   NF_FAULT_COUNT_FILE  at exit, the number of counted calls is written there (a script
//                        runs once in count mode to learn how many calls a run makes)
//   NF_FAULT_LOG         every counted call appended there as one line:
//                        "N KIND PATH[ -> PATH2] via=FUNCTION[ FAILED errno text| KILLED]"
// Only calls through the PLT are seen: glibc's own internal calls (stdio's buffered
// writes, fclose) are not, which is why normforge's durable writes use the POSIX calls.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define NF_MAX_FD 65536
#define KIND_WRITE 1
#define KIND_FSYNC 2
#define KIND_RENAME 4
#define KIND_UNLINK 8

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static const char* g_substr = ".tmp.";
static int g_kinds = KIND_WRITE | KIND_FSYNC | KIND_RENAME;
static long g_at = 0;
static int g_errno = ENOSPC;
static int g_kill = 0;
static const char* g_count_file = NULL;
static const char* g_log_file = NULL;
static long g_count = 0;
static char* g_fd_path[NF_MAX_FD];  // the path of each remembered fd, NULL otherwise

static int (*real_open)(const char*, int, ...);
static int (*real_open64)(const char*, int, ...);
static int (*real_openat)(int, const char*, int, ...);
static int (*real_openat64)(int, const char*, int, ...);
static int (*real_creat)(const char*, mode_t);
static int (*real_creat64)(const char*, mode_t);
static int (*real___open_2)(const char*, int);
static int (*real___open64_2)(const char*, int);
static int (*real___openat_2)(int, const char*, int);
static int (*real___openat64_2)(int, const char*, int);
static ssize_t (*real_write)(int, const void*, size_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_close)(int);
static int (*real_rename)(const char*, const char*);
static int (*real_renameat)(int, const char*, int, const char*);
static int (*real_renameat2)(int, const char*, int, const char*, unsigned int);
static int (*real_unlink)(const char*);
static int (*real_unlinkat)(int, const char*, int);
static int (*real_rmdir)(const char*);
static int (*real_remove)(const char*);

static void* next_symbol(const char* name) { return dlsym(RTLD_NEXT, name); }

static int parse_errno(const char* s) {
  if (!s || !*s) return ENOSPC;
  if (!strcmp(s, "ENOSPC")) return ENOSPC;
  if (!strcmp(s, "EIO")) return EIO;
  if (!strcmp(s, "EDQUOT")) return EDQUOT;
  if (!strcmp(s, "EFBIG")) return EFBIG;
  if (!strcmp(s, "EROFS")) return EROFS;
  const int n = atoi(s);
  return n > 0 ? n : ENOSPC;
}

static void init(void) {
  real_open = (int (*)(const char*, int, ...))next_symbol("open");
  real_open64 = (int (*)(const char*, int, ...))next_symbol("open64");
  real_openat = (int (*)(int, const char*, int, ...))next_symbol("openat");
  real_openat64 = (int (*)(int, const char*, int, ...))next_symbol("openat64");
  real_creat = (int (*)(const char*, mode_t))next_symbol("creat");
  real_creat64 = (int (*)(const char*, mode_t))next_symbol("creat64");
  real___open_2 = (int (*)(const char*, int))next_symbol("__open_2");
  real___open64_2 = (int (*)(const char*, int))next_symbol("__open64_2");
  real___openat_2 = (int (*)(int, const char*, int))next_symbol("__openat_2");
  real___openat64_2 = (int (*)(int, const char*, int))next_symbol("__openat64_2");
  real_write = (ssize_t(*)(int, const void*, size_t))next_symbol("write");
  real_fsync = (int (*)(int))next_symbol("fsync");
  real_fdatasync = (int (*)(int))next_symbol("fdatasync");
  real_close = (int (*)(int))next_symbol("close");
  real_rename = (int (*)(const char*, const char*))next_symbol("rename");
  real_renameat = (int (*)(int, const char*, int, const char*))next_symbol("renameat");
  real_renameat2 = (int (*)(int, const char*, int, const char*, unsigned int))next_symbol("renameat2");
  real_unlink = (int (*)(const char*))next_symbol("unlink");
  real_unlinkat = (int (*)(int, const char*, int))next_symbol("unlinkat");
  real_rmdir = (int (*)(const char*))next_symbol("rmdir");
  real_remove = (int (*)(const char*))next_symbol("remove");

  const char* s = getenv("NF_FAULT_PATH");
  if (s && *s) g_substr = s;
  s = getenv("NF_FAULT_CALLS");
  if (s && *s) {
    g_kinds = 0;
    if (strstr(s, "write")) g_kinds |= KIND_WRITE;
    if (strstr(s, "fsync")) g_kinds |= KIND_FSYNC;
    if (strstr(s, "rename")) g_kinds |= KIND_RENAME;
    if (strstr(s, "unlink")) g_kinds |= KIND_UNLINK;
  }
  s = getenv("NF_FAULT_AT");
  g_at = s ? atol(s) : 0;
  g_errno = parse_errno(getenv("NF_FAULT_ERRNO"));
  s = getenv("NF_FAULT_ACTION");
  g_kill = s && !strcmp(s, "kill");
  g_count_file = getenv("NF_FAULT_COUNT_FILE");
  g_log_file = getenv("NF_FAULT_LOG");
}

static void ensure_init(void) { pthread_once(&g_once, init); }

static int matches(const char* path) { return path && strstr(path, g_substr) != NULL; }

static const char* kind_name(int kind) {
  return kind == KIND_WRITE ? "write" : kind == KIND_FSYNC ? "fsync" : kind == KIND_RENAME ? "rename" : "unlink";
}

// Appends one line to NF_FAULT_LOG (the real calls: never counted).
static void log_call(long n, int kind, const char* fn, const char* path, const char* path2, const char* outcome) {
  if (!g_log_file) return;
  char line[8192];
  int len = snprintf(line, sizeof line, "%ld %s %s%s%s via=%s%s%s\n", n, kind_name(kind), path ? path : "?",
                     path2 ? " -> " : "", path2 ? path2 : "", fn, outcome ? " " : "", outcome ? outcome : "");
  if (len < 0) return;
  if (len >= (int)sizeof line) len = (int)sizeof line - 1;
  const int fd = real_open(g_log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  ssize_t unused = real_write(fd, line, (size_t)len);
  (void)unused;
  real_close(fd);
}

// Counts one call of `kind`; returns 1 when this one is to fail (errno set), 0 to go on.
// With NF_FAULT_ACTION=kill the process dies here instead.
static int counted_call(int kind, const char* fn, const char* path, const char* path2) {
  if (!(g_kinds & kind)) return 0;
  pthread_mutex_lock(&g_mu);
  const long n = ++g_count;
  const int hit = g_at > 0 && n == g_at;
  char outcome[64] = "";
  if (hit && g_kill) {
    snprintf(outcome, sizeof outcome, "KILLED");
  } else if (hit) {
    snprintf(outcome, sizeof outcome, "FAILED %s", strerror(g_errno));
  }
  log_call(n, kind, fn, path, path2, hit ? outcome : NULL);
  pthread_mutex_unlock(&g_mu);
  if (hit && g_kill) {
    raise(SIGKILL);
    _exit(137);  // not reached
  }
  if (hit) errno = g_errno;
  return hit;
}

static void remember(int fd, const char* path) {
  if (fd < 0 || fd >= NF_MAX_FD) return;
  pthread_mutex_lock(&g_mu);
  free(g_fd_path[fd]);
  g_fd_path[fd] = matches(path) ? strdup(path) : NULL;
  pthread_mutex_unlock(&g_mu);
}

static void forget(int fd) {
  if (fd < 0 || fd >= NF_MAX_FD) return;
  pthread_mutex_lock(&g_mu);
  free(g_fd_path[fd]);
  g_fd_path[fd] = NULL;
  pthread_mutex_unlock(&g_mu);
}

// A copy of the remembered path of fd (caller frees), or NULL when fd is not remembered.
static char* remembered(int fd) {
  if (fd < 0 || fd >= NF_MAX_FD) return NULL;
  pthread_mutex_lock(&g_mu);
  char* p = g_fd_path[fd] ? strdup(g_fd_path[fd]) : NULL;
  pthread_mutex_unlock(&g_mu);
  return p;
}

static int needs_mode(int flags) { return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE; }

// The open family: the optional mode argument read only when the flags carry one, the
// real call made, the fd remembered with its path. One definition per interposed symbol.
#define NF_OPEN_WRAPPER(name, real, params, args)  \
  int name params {                                \
    ensure_init();                                 \
    mode_t mode = 0;                               \
    if (needs_mode(flags)) {                       \
      va_list ap;                                  \
      va_start(ap, flags);                         \
      mode = va_arg(ap, mode_t);                   \
      va_end(ap);                                  \
    }                                              \
    const int fd = real args;                      \
    remember(fd, path);                            \
    return fd;                                     \
  }

NF_OPEN_WRAPPER(open, real_open, (const char* path, int flags, ...), (path, flags, mode))
NF_OPEN_WRAPPER(open64, real_open64, (const char* path, int flags, ...), (path, flags, mode))
NF_OPEN_WRAPPER(openat, real_openat, (int dirfd, const char* path, int flags, ...), (dirfd, path, flags, mode))
NF_OPEN_WRAPPER(openat64, real_openat64, (int dirfd, const char* path, int flags, ...), (dirfd, path, flags, mode))

int creat(const char* path, mode_t mode) {
  ensure_init();
  const int fd = real_creat(path, mode);
  remember(fd, path);
  return fd;
}

int creat64(const char* path, mode_t mode) {
  ensure_init();
  const int fd = real_creat64(path, mode);
  remember(fd, path);
  return fd;
}

// _FORTIFY_SOURCE builds call these for open() without a mode argument.
int __open_2(const char* path, int flags) {
  ensure_init();
  const int fd = real___open_2(path, flags);
  remember(fd, path);
  return fd;
}

int __open64_2(const char* path, int flags) {
  ensure_init();
  const int fd = real___open64_2(path, flags);
  remember(fd, path);
  return fd;
}

int __openat_2(int dirfd, const char* path, int flags) {
  ensure_init();
  const int fd = real___openat_2(dirfd, path, flags);
  remember(fd, path);
  return fd;
}

int __openat64_2(int dirfd, const char* path, int flags) {
  ensure_init();
  const int fd = real___openat64_2(dirfd, path, flags);
  remember(fd, path);
  return fd;
}

ssize_t write(int fd, const void* buf, size_t n) {
  ensure_init();
  char* path = remembered(fd);
  if (path) {
    const int fail = counted_call(KIND_WRITE, "write", path, NULL);
    free(path);
    if (fail) return -1;
  }
  return real_write(fd, buf, n);
}

int fsync(int fd) {
  ensure_init();
  char* path = remembered(fd);
  if (path) {
    const int fail = counted_call(KIND_FSYNC, "fsync", path, NULL);
    free(path);
    if (fail) return -1;
  }
  return real_fsync(fd);
}

int fdatasync(int fd) {
  ensure_init();
  char* path = remembered(fd);
  if (path) {
    const int fail = counted_call(KIND_FSYNC, "fdatasync", path, NULL);
    free(path);
    if (fail) return -1;
  }
  return real_fdatasync(fd);
}

int close(int fd) {
  ensure_init();
  forget(fd);
  return real_close(fd);
}

int rename(const char* from, const char* to) {
  ensure_init();
  if ((matches(from) || matches(to)) && counted_call(KIND_RENAME, "rename", from, to)) return -1;
  return real_rename(from, to);
}

int renameat(int fromfd, const char* from, int tofd, const char* to) {
  ensure_init();
  if ((matches(from) || matches(to)) && counted_call(KIND_RENAME, "renameat", from, to)) return -1;
  return real_renameat(fromfd, from, tofd, to);
}

int renameat2(int fromfd, const char* from, int tofd, const char* to, unsigned int flags) {
  ensure_init();
  if ((matches(from) || matches(to)) && counted_call(KIND_RENAME, "renameat2", from, to)) return -1;
  if (!real_renameat2) {  // a glibc without the wrapper (before 2.28)
    errno = ENOSYS;
    return -1;
  }
  return real_renameat2(fromfd, from, tofd, to, flags);
}

int unlink(const char* path) {
  ensure_init();
  if (matches(path) && counted_call(KIND_UNLINK, "unlink", path, NULL)) return -1;
  return real_unlink(path);
}

// The path a *at() call names: PATH itself, or for a relative PATH beside a folder fd,
// that folder's path (from /proc/self/fd) + "/" + PATH. Into buf; returns buf or path.
static const char* at_path(int dirfd, const char* path, char* buf, size_t size) {
  if (!path || path[0] == '/' || dirfd == AT_FDCWD) return path;
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
  const ssize_t n = readlink(link, buf, size - 1);
  if (n <= 0) return path;
  buf[n] = 0;
  snprintf(buf + n, size - (size_t)n, "/%s", path);
  return buf;
}

int unlinkat(int dirfd, const char* path, int flags) {
  ensure_init();
  char buf[4096];
  const char* full = at_path(dirfd, path, buf, sizeof buf);
  if (matches(full) && counted_call(KIND_UNLINK, "unlinkat", full, NULL)) return -1;
  return real_unlinkat(dirfd, path, flags);
}

int rmdir(const char* path) {
  ensure_init();
  if (matches(path) && counted_call(KIND_UNLINK, "rmdir", path, NULL)) return -1;
  return real_rmdir(path);
}

// glibc's remove() calls unlink/rmdir internally (not seen): counted here, once.
int remove(const char* path) {
  ensure_init();
  if (matches(path) && counted_call(KIND_UNLINK, "remove", path, NULL)) return -1;
  return real_remove(path);
}

// NF_FAULT_COUNT_FILE: the number of counted calls, written when the process exits
// normally (also after an error: main returns 1).
__attribute__((destructor)) static void write_count(void) {
  ensure_init();
  if (!g_count_file) return;
  char text[32];
  const int len = snprintf(text, sizeof text, "%ld\n", g_count);
  const int fd = real_open(g_count_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  ssize_t unused = real_write(fd, text, (size_t)len);
  (void)unused;
  real_close(fd);
}
