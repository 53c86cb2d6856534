// Writers killed with SIGKILL at random points (tests of io::write_file and Monitor::save).
#pragma once

#include <vigil/error.hpp>
#include <vigil/io/binary.hpp>
#include <vigil/io/file.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "scratch_dir.hpp"
#include "vigil_test.hpp"

namespace vigil_test {

/// How the rounds of kill_writers() ended.
struct KillTally {
  int rounds = 0;
  int old_content = 0;  // the target held what it held before the round
  int new_content = 0;  // the target held what the child wrote
  int torn = 0;         // the target did not load, or held something else
  int completed = 0;    // the child finished before the kill
  int mid_write = 0;    // a temporary was left holding part of the bytes
  int leftovers = 0;    // files other than the target after remove_temporaries()
};

using FileWriter = std::function<void(const std::string&, const std::vector<std::uint8_t>&)>;

/// Starts a child that writes `bytes` to `path` with `write` and exits (2 when it throws), and
/// returns once the child is about to call `write`, so that a delay counts from there and not
/// from the fork.
inline pid_t start_writer(const FileWriter& write, const std::string& path, const std::vector<std::uint8_t>& bytes) {
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(ready[0]);
    const char byte = 1;
    if (::write(ready[1], &byte, 1) != 1) ::_exit(3);
    try {
      write(path, bytes);
    } catch (...) {
      ::_exit(2);
    }
    ::_exit(0);
  }
  ::close(ready[1]);
  char byte = 0;
  const ::ssize_t n = pid > 0 ? ::read(ready[0], &byte, 1) : -1;
  ::close(ready[0]);
  REQUIRE(pid > 0);
  REQUIRE(n == 1);
  return pid;
}

enum class Outcome { old_content, new_content, torn };

/// Which of `old_bytes` and `new_bytes` the file `path` holds, its checksum verified first.
inline Outcome outcome_of(const std::string& path, const std::vector<std::uint8_t>& old_bytes,
                          const std::vector<std::uint8_t>& new_bytes) {
  try {
    const std::vector<std::uint8_t> bytes = vigil::io::read_file(path);
    vigil::io::unseal(bytes.data(), bytes.size(), 1, "blob");
    if (bytes == old_bytes) return Outcome::old_content;
    if (bytes == new_bytes) return Outcome::new_content;
  } catch (const vigil::error&) {
  }
  return Outcome::torn;
}

/// Rounds in which a child writes the version of `dir`/state.vigil that the file does not hold
/// (`versions`: two sealed objects) and is killed with SIGKILL after a delay drawn, with a
/// fixed seed, from [0, 1.25 × the longest of the last three writes left to finish]: before
/// the write, during it, after it. Such a write, timed, comes first and then after every tenth
/// round, so that the delays follow the machine's load. After each round the file is read
/// back and the leftover temporaries are counted, then removed by remove_temporaries(). Stops
/// after `rounds` rounds, or at the first torn file when `until_torn`.
inline KillTally kill_writers(const ScratchDir& dir, const FileWriter& write,
                              const std::array<std::vector<std::uint8_t>, 2>& versions, int rounds, std::uint32_t seed,
                              bool until_torn = false) {
  const std::string path = dir / "state.vigil";
  vigil::io::write_file(path, versions[0]);
  int current = 0;
  using clock = std::chrono::steady_clock;
  clock::duration recent[3]{};
  int timed = 0;
  const auto timed_write = [&] {
    const pid_t pid = start_writer(write, path, versions[1 - current]);
    const clock::time_point start = clock::now();
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    recent[timed++ % 3] = clock::now() - start;
    REQUIRE((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    REQUIRE(vigil::io::read_file(path) == versions[1 - current]);
    current = 1 - current;
  };
  for (int i = 0; i < 3; ++i) timed_write();
  std::mt19937 random(seed);
  std::uniform_real_distribution<double> fraction(0.0, 1.25);
  KillTally tally;
  while (tally.rounds < rounds && !(until_torn && tally.torn > 0)) {
    if (++tally.rounds % 10 == 0) timed_write();
    const clock::duration longest = std::max({recent[0], recent[1], recent[2]});
    const auto delay = std::chrono::duration_cast<clock::duration>(longest * fraction(random));
    const pid_t pid = start_writer(write, path, versions[1 - current]);
    std::this_thread::sleep_for(delay);
    ::kill(pid, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    if (WIFEXITED(status)) {
      REQUIRE(WEXITSTATUS(status) == 0);
      ++tally.completed;
    }
    for (const std::string& name : dir.names())
      if (name != "state.vigil" && std::filesystem::file_size(dir / name) < versions[1 - current].size()) ++tally.mid_write;
    const Outcome outcome = outcome_of(path, versions[current], versions[1 - current]);
    vigil::io::remove_temporaries(path);
    tally.leftovers += static_cast<int>(dir.names().size()) - 1;
    if (outcome == Outcome::old_content) ++tally.old_content;
    if (outcome == Outcome::new_content) {
      ++tally.new_content;
      current = 1 - current;
    }
    if (outcome == Outcome::torn) {
      ++tally.torn;
      vigil::io::write_file(path, versions[current]);  // a valid start for the next round
    }
  }
  return tally;
}

}  // namespace vigil_test
