// Fuzz target: the checkpoint folder loader (framework/io/checkpoint.h). The input is
// the folder: its parts, cut at "\n@@\n" lines (fuzz_util.h), are model.safetensors,
// trainer_state.safetensors, config.yaml and manifest.json, in that order; a part the
// input does not reach is a missing file (an incomplete folder).
#include "framework/io/checkpoint.h"
#include "framework/core/error.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const char* const kFiles[] = {"model.safetensors", "trainer_state.safetensors", "config.yaml",
                                       "manifest.json"};
  const auto parts = nf_fuzz::split(data, size, 4);
  const auto dir = nf_fuzz::fresh_dir("checkpoint/epoch_1");
  for (size_t i = 0; i < parts.size(); ++i) nf_fuzz::write_file(dir / kFiles[i], parts[i]);
  try {
    const nf::io::Checkpoint c = nf::io::load_checkpoint(dir.string());
    size_t bytes = c.config_yaml.size();
    for (const auto* d : {&c.model, &c.trainer_state})
      for (const auto& [name, t] : *d) bytes += t.nbytes();
    nf_fuzz::require(bytes <= size, "checkpoint: more tensor bytes than the input has");
  } catch (const nf::Error&) {
  }
  try {
    nf::io::load_model_weights(dir.string());
  } catch (const nf::Error&) {
  }
  try {
    nf::io::list_checkpoints(dir.parent_path().string());
  } catch (const nf::Error&) {
  }
  return 0;
}
