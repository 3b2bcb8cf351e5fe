// Durable file writes, the base of every checkpoint and export (POSIX calls: open,
// write, fsync, rename, renameat2; nothing buffered in between, so a failure is seen at
// the call that failed and tests can inject faults by interposing those calls):
//   write_file_atomic  bytes to PATH.tmp.PID, fsync'ed, renamed to PATH, parent folder fsync'ed
//   fsync_dir          a folder's entries made durable (after a rename into it)
//   replace_dir        a complete folder moved to its final name, replacing any old one
//                      in one step (renameat2 RENAME_EXCHANGE), parent fsync'ed
// Every failure is an nf::Error naming the path and the system's reason ("No space left
// on device"); a failed write leaves no file or folder under the final name.
// sha256_hex is OpenSSL's (libcrypto).
#pragma once
#include <string>

namespace nf::io {

void write_file_atomic(const std::string& path, const std::string& bytes);
void fsync_dir(const std::string& dir);
void replace_dir(const std::string& complete, const std::string& final_name);
std::string read_file(const std::string& path);  // nf::Error naming the path when unreadable
std::string sha256_hex(const std::string& bytes);

}  // namespace nf::io
