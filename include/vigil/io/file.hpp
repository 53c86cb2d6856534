// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// Whole files, written so that a crash never leaves one torn, and read back within a bound
/// (docs/formats.md, "Files").
///
/// ```cpp
/// std::vector<std::uint8_t> bytes = profile.serialize();
/// vigil::io::write_file("reference.vigil", bytes);      // old or new content, never a mix
/// auto back = vigil::io::read_file("reference.vigil");  // io_error if missing or over 1 GiB
/// ```
///
/// On POSIX systems (Linux, macOS, the BSDs) write_file() goes through a temporary file, fsync,
/// rename and an fsync of the directory. Elsewhere (Windows) a portable fallback renames a
/// temporary file with std::filesystem but flushes nothing to the disk: `io::durable_writes`
/// says which one a build has. This layer depends on the standard library and, on POSIX, the
/// system's own headers.

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "vigil/error.hpp"

// Platform switch: 1 for the POSIX implementation (open/fsync/rename), 0 for the portable
// fallback. Defaults to 1 where the compiler announces a Unix-like system.
#ifndef VIGIL_IO_POSIX
#if defined(__unix__) || defined(__unix) || defined(__APPLE__)
#define VIGIL_IO_POSIX 1
#else
#define VIGIL_IO_POSIX 0
#endif
#endif

#if VIGIL_IO_POSIX
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#else
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#endif

namespace vigil {
namespace io {

/// How write_file() writes.
struct WriteOptions {
  /// The most bytes handed to one write(2) call (0 is taken as 1, and anything above 1 GiB as
  /// 1 GiB). Larger chunks mean fewer system calls; the default, 1 MiB, writes a typical
  /// profile or snapshot in one or a few. The content and the guarantees do not depend on it:
  /// tests make it small so that a write takes many calls, and a kill can land between them.
  std::size_t chunk_bytes = std::size_t{1} << 20;
  /// Whether to fsync the file and its directory (the default). Without, the file is still
  /// replaced by a rename, so that readers and a crash of the process see the old content or
  /// the new one in full (the kernel holds the bytes), but a crash of the machine may lose the
  /// new content or, on some file systems, leave the file empty: for files that need not
  /// outlive a power loss (on tmpfs, scratch copies), where the two fsyncs would cost more
  /// than the write.
  bool sync = true;
};

/// The most bytes read_file() reads unless told otherwise: 1 GiB.
inline constexpr std::size_t default_read_limit = std::size_t{1} << 30;

/// True where write_file() makes its result durable (fsync of the file and of its directory):
/// the POSIX implementation. False on the portable fallback, which still replaces the file by
/// a rename, but leaves the flush to the disk to the operating system.
inline constexpr bool durable_writes = VIGIL_IO_POSIX != 0;

/// Replaces the file `path` with `size` bytes from `data`, so that no crash leaves it torn.
///
/// How: a temporary file is created beside the target, named `<path>.tmp.<pid>.<n>` (`n`
/// counts this process's temporaries; O_CREAT | O_EXCL | O_CLOEXEC, so an existing name is
/// never reused), the bytes are written to it in calls of at most `options.chunk_bytes`
/// (resumed after EINTR and after short writes), it is fsynced (with F_FULLFSYNC on macOS,
/// where fsync alone does not reach the disk), renamed over the target, and the directory is
/// fsynced so that the rename itself is on the disk; `options.sync` = false skips both fsyncs.
///
/// **Guarantees** (POSIX, see `durable_writes`; without `options.sync`, only those against a
/// crash of the process):
/// - When it returns, `path` holds the new content, durably: it survives the process and a
///   crash of the machine, as far as the storage honours fsync.
/// - If the process dies at any point before it returns (SIGKILL, a crash, a power loss),
///   `path` holds either its old content (or does not exist, if it did not) or the new
///   content in full: never a mix, never a prefix. Until the directory is synced, a power
///   loss may still bring back the old content.
/// - When it throws, the temporary file has been removed and `path` is as it was — except
///   when the last step, syncing the directory, fails: the new content is then in place, in
///   full, but may not survive a power loss, and the message says so.
/// - A process killed during a write leaves its temporary file behind. Later writes neither
///   see nor remove it (it may belong to another writer still at work); remove_temporaries()
///   does.
///
/// **The new file**: a file that did not exist gets mode 0666 less the umask (0644 under the
/// usual umask 022), as std::ofstream would give it; a file replaced keeps its permission bits
/// (the temporary is created 0600 and given them before any byte is written), but not its
/// owner and group, which become the writer's, nor its other hard links, which keep the old
/// content. A symbolic link at `path` is followed: the file it names is replaced, by a
/// temporary in that file's directory; a link that leads nowhere is refused.
///
/// **Errors**: vigil::io_error naming `path`, the step and the system's reason (`code()`
/// holds the errno) when `path` is a directory, a device, a pipe or a socket, its directory
/// does not exist or may not be written, the disk is full, or any call fails;
/// vigil::invalid_argument for an empty path. Writers of the same path in other threads or
/// processes each write their own temporary: the last rename wins, and every reader sees one
/// complete version. O(size), plus two fsyncs that dominate for small files.
void write_file(const std::string& path, const void* data, std::size_t size, const WriteOptions& options = {});

/// write_file() of a byte vector (a serialized, sealed vigil object).
inline void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes,
                       const WriteOptions& options = {}) {
  write_file(path, bytes.data(), bytes.size(), options);
}

/// write_file() of text, written as its bytes, unchanged.
inline void write_file(const std::string& path, std::string_view text, const WriteOptions& options = {}) {
  write_file(path, text.data(), text.size(), options);
}

/// The whole content of the file `path`.
///
/// Throws vigil::io_error naming the path and the system's reason when the file cannot be
/// opened or read (missing, a directory, not permitted), and with code EFBIG when it holds
/// more than `max_bytes`: checked against its size before anything is read, and again while
/// reading, for files whose size grows or is not known in advance (pipes, /proc), so that a
/// wrong or foreign path never costs more than `max_bytes` + 1 bytes of memory. O(size).
std::vector<std::uint8_t> read_file(const std::string& path, std::size_t max_bytes = default_read_limit);

/// Removes the temporary files that writes of `path` left behind when their process died
/// (`<path>.tmp.<pid>.<n>`, beside the file that `path` names, symbolic link followed), and
/// returns how many it removed.
///
/// A temporary whose process still runs on this machine (this process included) is kept: it
/// may be a write in progress. Call it where a writer starts (a server restoring its state),
/// not while a writer on another machine may be writing the same path through a shared file
/// system, whose process numbers mean nothing here. The portable fallback, whose names hold
/// no process number, removes every temporary of `path`. Throws vigil::io_error when the
/// directory cannot be listed or a temporary cannot be removed; a missing directory holds
/// none. O(files in the directory).
std::size_t remove_temporaries(const std::string& path);

}  // namespace io

namespace detail {

/// What comes between a target's name and a temporary's process number and counter.
inline constexpr std::string_view temporary_infix = ".tmp.";

/// Counts this process's temporaries, so that two writes in one process never pick one name.
inline std::atomic<std::uint64_t> temporary_serial{0};

/// The directory part of `path`: "." when there is none, "/" for a file at the root.
inline std::string parent_directory(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? std::string("/") : path.substr(0, slash);
}

/// Whether `name` is `prefix` followed by "<digits>.<digits>"; `first` receives the first number
/// (the process of a POSIX temporary), saturated so that long digit strings do not overflow.
inline bool is_temporary_name(std::string_view name, std::string_view prefix, std::uint64_t& first) {
  if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix) return false;
  const std::string_view rest = name.substr(prefix.size());
  const std::size_t dot = rest.find('.');
  if (dot == 0 || dot == std::string_view::npos || dot + 1 == rest.size()) return false;
  first = 0;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    if (i == dot) continue;
    if (rest[i] < '0' || rest[i] > '9') return false;
    if (i < dot) first = std::min<std::uint64_t>(first * 10 + static_cast<std::uint64_t>(rest[i] - '0'), 1u << 31);
  }
  return true;
}

#if VIGIL_IO_POSIX

/// The file that write_file(path) replaces, and what its replacement keeps of it.
struct FileTarget {
  std::string path;       // with a symbolic link at `path` followed
  std::string directory;  // holds `path`, and the temporary
  bool exists = false;
  mode_t mode = 0;  // permission bits of the existing file
};

/// Finds the file `path` names; throws io_error when it cannot be replaced by a regular file.
inline FileTarget find_file_target(const std::string& path) {
  FileTarget target;
  target.path = path;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    const int error = errno;
    if (error != ENOENT) throw_io_error("cannot write '" + path + "'", error);
    target.directory = parent_directory(path);
    return target;
  }
  if (S_ISLNK(st.st_mode)) {
    char* resolved = ::realpath(path.c_str(), nullptr);
    if (resolved == nullptr) {
      const int error = errno;
      throw_io_error("cannot write '" + path + "': the symbolic link leads nowhere", error);
    }
    target.path = resolved;
    std::free(resolved);
    if (::stat(target.path.c_str(), &st) != 0) {
      const int error = errno;
      throw_io_error("cannot write '" + path + "'", error);
    }
  }
  if (S_ISDIR(st.st_mode)) throw_io_error("cannot write '" + path + "'", EISDIR);
  if (!S_ISREG(st.st_mode))
    throw_io_error("cannot write '" + path + "': not a regular file (a device, pipe or socket cannot be replaced)",
                   EINVAL);
  target.directory = parent_directory(target.path);
  target.exists = true;
  target.mode = st.st_mode & 07777;
  return target;
}

/// fsync, and on macOS F_FULLFSYNC, which also flushes the drive's cache. Returns 0 or errno.
inline int sync_descriptor(int fd) {
#if defined(__APPLE__) && defined(F_FULLFSYNC)
  if (::fcntl(fd, F_FULLFSYNC) == 0) return 0;
#endif
  while (::fsync(fd) != 0)
    if (errno != EINTR) return errno;
  return 0;
}

/// The temporary file of one write_file(): created beside the target, written, synced, closed
/// and renamed over it; removed by the destructor unless the rename happened.
class TemporaryFile {
 public:
  TemporaryFile(const FileTarget& target, const std::string& path) : path_(path) {
    for (int attempt = 0;; ++attempt) {
      name_ = target.path + std::string(temporary_infix) + std::to_string(::getpid()) + "." +
              std::to_string(temporary_serial.fetch_add(1, std::memory_order_relaxed));
      fd_ = ::open(name_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, target.exists ? 0600 : 0666);
      if (fd_ >= 0) break;
      const int error = errno;
      if ((error != EEXIST && error != EINTR) || attempt == 100) {
        const std::string tried = name_;
        name_.clear();  // nothing was created, nothing to remove
        throw_io_error("cannot write '" + path_ + "': cannot create the temporary file '" + tried + "'", error);
      }
    }
  }
  ~TemporaryFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!name_.empty()) ::unlink(name_.c_str());
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;

  /// Gives the temporary the permission bits of the file it replaces, before any byte is in it.
  void keep_permissions(const FileTarget& target) {
    if (target.exists && ::fchmod(fd_, target.mode) != 0) fail("cannot give the temporary file its permissions", errno);
  }
  void write(const void* data, std::size_t size, std::size_t chunk_bytes) {
    const std::size_t chunk = std::clamp<std::size_t>(chunk_bytes, 1, std::size_t{1} << 30);
    const auto* p = static_cast<const unsigned char*>(data);
    while (size > 0) {
      const ::ssize_t n = ::write(fd_, p, std::min(size, chunk));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail("cannot write the temporary file", errno);
      if (n == 0) fail("cannot write the temporary file", EIO);
      p += n;
      size -= static_cast<std::size_t>(n);
    }
  }
  void close(bool sync) {
    if (sync)
      if (const int error = sync_descriptor(fd_)) fail("cannot sync the temporary file to the disk", error);
    const int fd = fd_;
    fd_ = -1;
    // After a successful fsync, EINTR from close loses nothing (the descriptor is released).
    if (::close(fd) != 0 && errno != EINTR) fail("cannot close the temporary file", errno);
  }
  void rename_to(const std::string& target) {
    if (::rename(name_.c_str(), target.c_str()) != 0) fail("cannot rename the temporary file over it", errno);
    name_.clear();  // it is the target now
  }

 private:
  // Takes the errno of the failed call before anything else can change it.
  [[noreturn]] void fail(const char* step, int error) const {
    throw_io_error("cannot write '" + path_ + "': " + step + " ('" + name_ + "')", error);
  }
  std::string path_;
  std::string name_;
  int fd_ = -1;
};

/// Syncs a directory, so that a rename in it survives a power loss. File systems that cannot
/// sync a directory (EINVAL) have nothing to sync.
inline void sync_directory(const std::string& directory, const std::string& path) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int error = fd < 0 ? errno : sync_descriptor(fd);
  if (fd >= 0) ::close(fd);
  if (error == EINVAL) error = 0;
  if (error != 0)
    throw_io_error("cannot write '" + path + "': its new content is in place, in full, but syncing its directory '" +
                       directory + "' failed, so it may not survive a power loss",
                   error);
}

/// Whether process `pid` runs on this machine (this process included).
inline bool process_runs(std::uint64_t pid) {
  if (pid == 0 || pid >= (1u << 31)) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

#else  // the portable fallback

/// A number that tells this process's temporaries from another's (the fallback knows no
/// process numbers): drawn once per process.
inline std::uint64_t process_tag() {
  static const std::uint64_t tag = std::random_device{}() % 1000000000u;
  return tag;
}

#endif

}  // namespace detail

namespace io {

#if VIGIL_IO_POSIX

inline void write_file(const std::string& path, const void* data, std::size_t size, const WriteOptions& options) {
  if (path.empty()) detail::throw_invalid_argument("io::write_file: the path is empty");
  const detail::FileTarget target = detail::find_file_target(path);
  detail::TemporaryFile temporary(target, path);
  temporary.keep_permissions(target);
  temporary.write(data, size, options.chunk_bytes);
  temporary.close(options.sync);
  temporary.rename_to(target.path);
  if (options.sync) detail::sync_directory(target.directory, path);
}

inline std::vector<std::uint8_t> read_file(const std::string& path, std::size_t max_bytes) {
  const std::size_t limit = std::min(max_bytes, SIZE_MAX - 1);
  int fd;
  while ((fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC)) < 0) {
    const int error = errno;
    if (error != EINTR) detail::throw_io_error("cannot read '" + path + "'", error);
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  std::size_t expected = 0;  // unknown
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    if (static_cast<std::uint64_t>(st.st_size) > limit)
      detail::throw_io_error("cannot read '" + path + "': it holds " + std::to_string(st.st_size) +
                                 " bytes, more than the limit of " + std::to_string(limit),
                             EFBIG);
    expected = static_cast<std::size_t>(st.st_size);
  }
  // One byte more than expected, so that the read that finds the end needs no growth.
  std::vector<std::uint8_t> bytes(expected > 0 ? expected + 1 : std::min<std::size_t>(limit + 1, 65536));
  std::size_t filled = 0;
  for (;;) {
    if (filled == bytes.size()) {
      if (filled > limit)
        detail::throw_io_error("cannot read '" + path + "': it holds more than the limit of " +
                                   std::to_string(limit) + " bytes",
                               EFBIG);
      bytes.resize(std::min(limit + 1, std::max<std::size_t>(filled * 2, 65536)));
    }
    const std::size_t want = std::min<std::size_t>(bytes.size() - filled, std::size_t{1} << 30);
    const ::ssize_t n = ::read(fd, bytes.data() + filled, want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      detail::throw_io_error("cannot read '" + path + "'", error);
    }
    if (n == 0) break;
    filled += static_cast<std::size_t>(n);
  }
  bytes.resize(filled);
  return bytes;
}

inline std::size_t remove_temporaries(const std::string& path) {
  std::string target = path;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    if (char* resolved = ::realpath(path.c_str(), nullptr)) {
      target = resolved;
      std::free(resolved);
    }
  }
  const std::string directory = detail::parent_directory(target);
  const std::size_t slash = target.find_last_of('/');
  const std::string prefix =
      (slash == std::string::npos ? target : target.substr(slash + 1)) + std::string(detail::temporary_infix);
  DIR* dir = ::opendir(directory.c_str());
  if (dir == nullptr) {
    const int error = errno;
    if (error == ENOENT) return 0;
    detail::throw_io_error("cannot look for the temporaries of '" + path + "' in '" + directory + "'", error);
  }
  std::vector<std::string> stale;
  while (const dirent* entry = ::readdir(dir)) {
    std::uint64_t pid = 0;
    if (detail::is_temporary_name(entry->d_name, prefix, pid) && !detail::process_runs(pid))
      stale.push_back(directory + "/" + entry->d_name);
  }
  ::closedir(dir);
  std::size_t removed = 0;
  for (const std::string& name : stale) {
    if (::unlink(name.c_str()) == 0) {
      ++removed;
      continue;
    }
    const int error = errno;
    if (error != ENOENT)  // ENOENT: another cleaner was first
      detail::throw_io_error("cannot remove the temporary file '" + name + "'", error);
  }
  return removed;
}

#else  // the portable fallback: atomic where std::filesystem::rename is, never synced

inline void write_file(const std::string& path, const void* data, std::size_t size, const WriteOptions&) {
  namespace fs = std::filesystem;
  if (path.empty()) detail::throw_invalid_argument("io::write_file: the path is empty");
  std::error_code ec;
  if (fs::is_directory(path, ec)) detail::throw_io_error("cannot write '" + path + "'", EISDIR);
  const std::string name = path + std::string(detail::temporary_infix) + std::to_string(detail::process_tag()) +
                           "." + std::to_string(detail::temporary_serial.fetch_add(1));
  {
    std::ofstream out(name, std::ios::binary | std::ios::trunc);
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    out.close();
    if (!out) {
      fs::remove(name, ec);
      detail::throw_io_error("cannot write '" + path + "': cannot write the temporary file ('" + name + "')", EIO);
    }
  }
  fs::rename(name, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(name, ignored);
    throw io_error("cannot write '" + path + "': cannot rename the temporary file over it: " + ec.message(), ec);
  }
}

inline std::vector<std::uint8_t> read_file(const std::string& path, std::size_t max_bytes) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) detail::throw_io_error("cannot read '" + path + "'", EISDIR);
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  const int error = errno != 0 ? errno : ENOENT;
  if (!in) detail::throw_io_error("cannot read '" + path + "'", error);
  std::vector<std::uint8_t> bytes;
  char buffer[65536];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    if (bytes.size() + static_cast<std::size_t>(in.gcount()) > max_bytes)
      detail::throw_io_error("cannot read '" + path + "': it holds more than the limit of " +
                                 std::to_string(max_bytes) + " bytes",
                             EFBIG);
    bytes.insert(bytes.end(), buffer, buffer + in.gcount());
  }
  return bytes;
}

inline std::size_t remove_temporaries(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path directory = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string prefix = target.filename().string() + std::string(detail::temporary_infix);
  std::error_code ec;
  std::size_t removed = 0;
  for (fs::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec)) {
    std::uint64_t tag = 0;
    if (detail::is_temporary_name(it->path().filename().string(), prefix, tag) && fs::remove(it->path(), ec))
      ++removed;
  }
  if (ec && ec != std::errc::no_such_file_or_directory)
    throw io_error("cannot look for the temporaries of '" + path + "': " + ec.message(), ec);
  return removed;
}

#endif

}  // namespace io
}  // namespace vigil
