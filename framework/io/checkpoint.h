// Checkpoint directories. A checkpoint is a folder holding
//   model.safetensors          every parameter and buffer, PyTorch state_dict names
//   trainer_state.safetensors  optimizer buffers, step, epoch; RNG state and other
//                              scalars in the header's __metadata__
//   config.yaml                the resolved recipe
//   manifest.json              {"format": "normforge-manifest-1", "files": {NAME: {"size": N,
//                              "sha256": HEX}}} of the three files above, written last
// It is written under a temporary name beside its final one, every file fsync'ed, then
// renamed into place and the parent folder fsync'ed (io/durable.h), so a folder with the
// final name is always complete and durable; an existing folder of that name (best/,
// final/) is replaced in one step, only once the new one is complete. Loading checks
// the manifest (sizes, then SHA-256), so a truncated or corrupted file is an error
// naming it; folders written before manifests existed still load (unverified).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "framework/io/safetensors.h"

namespace nf::io {

struct Checkpoint {
  TensorDict model;
  TensorDict trainer_state;
  Metadata trainer_meta;
  std::string config_yaml;
};

void save_checkpoint(const std::string& dir, const Checkpoint& c);
Checkpoint load_checkpoint(const std::string& dir);  // nf::Error on a missing/incomplete/malformed folder

// A checkpoint folder checked against its manifest (`normforge verify`).
enum class Verified { Ok, NoManifest, Bad };
struct Verification {
  Verified status;
  std::string message;  // Bad: "DIR/FILE: why"; NoManifest: "DIR: no manifest.json (...)"
};
Verification verify_checkpoint(const std::string& dir);

// The model weights of PATH: a checkpoint folder (its model.safetensors) or a file.
TensorDict load_model_weights(const std::string& path);

// Complete checkpoint folders `prefix` + digits inside `parent`, sorted by number.
std::vector<std::string> list_checkpoints(const std::string& parent, const std::string& prefix = "epoch_");
// Deletes all but the newest `keep` of them.
void prune_checkpoints(const std::string& parent, int64_t keep, const std::string& prefix = "epoch_");

}  // namespace nf::io
