// safetensors: round trip, a file written by PyTorch's side (tests/parity/nfref.py),
// and malformed files, each of which must give a clear nf::Error (never a crash).
#include <filesystem>
#include <fstream>

#include "framework/io/checkpoint.h"
#include "test_util.h"

using namespace nf;
using namespace nf::test;
namespace fs = std::filesystem;

namespace {

std::string tmp_path(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("nf_safetensors_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return (d / name).string();
}

// Writes [u64 header length][header][data] with an arbitrary header text.
std::string write_raw(const std::string& name, const std::string& header, const std::string& data,
                      int64_t claimed = -1) {
  std::string path = tmp_path(name);
  std::ofstream f(path, std::ios::binary);
  uint64_t n = claimed < 0 ? header.size() : static_cast<uint64_t>(claimed);
  for (int i = 0; i < 8; ++i) f.put(static_cast<char>((n >> (8 * i)) & 0xff));
  f << header << data;
  return path;
}

void expect_error(const std::string& path, const std::string& fragment) {
  try {
    io::load_safetensors(path);
    ADD_FAILURE() << path << ": no error (expected '" << fragment << "')";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << "the error names the file: " << e.what();
  }
}

}  // namespace

TEST(Safetensors, RoundTripAllDtypesScalarsAndMetadata) {
  io::TensorDict d;
  d["w"] = randn({3, 4}, 1);
  d["n"] = Tensor::scalar(42, DType::I64);
  d["h"] = randn({5}, 2).to(DType::BF16);
  d["f"] = randn({2, 2}, 3).to(DType::F16);
  d["empty"] = Tensor::empty({0, 3});
  std::string p = tmp_path("rt.safetensors");
  io::save_safetensors(p, d, {{"k", "v"}});
  io::Metadata meta;
  io::TensorDict back = io::load_safetensors(p, &meta);
  EXPECT_EQ(meta.at("k"), "v");
  ASSERT_EQ(back.size(), d.size());
  for (auto& [k, t] : d) expect_bitwise_equal(k, back.at(k), t);
  EXPECT_EQ(back.at("n").dim(), 0);
}

TEST(Safetensors, ReadsPyTorchWrittenFile) {
  io::TensorDict r = load_ref("smoke");
  EXPECT_EQ(r.at("a").to_vector(), (std::vector<float>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(shape_str(r.at("a").shape()), "[2, 3]");
  EXPECT_EQ(r.at("n").dim(), 0);
  EXPECT_EQ(r.at("n").item(), 7);
  EXPECT_EQ(r.at("h").to_vector(), (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(r.at("f").to_vector(), (std::vector<float>{0.5f, 65504.0f}));
}

TEST(Safetensors, MalformedFilesGiveClearErrors) {
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string data(8, '\0');
  expect_error(write_raw("empty_header.st", "", "", 0), "not valid JSON");
  {
    std::string p = tmp_path("tiny.st");
    std::ofstream(p, std::ios::binary) << "abc";
    expect_error(p, "truncated");
  }
  expect_error(write_raw("trunc.st", ok, data.substr(0, 5)), "outside the data");
  expect_error(write_raw("big_header.st", ok, data, 1 << 20), "exceeds the file");
  expect_error(write_raw("huge_header.st", ok, data, int64_t(1) << 40), "implausible");
  expect_error(write_raw("offsets.st", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", data),
               "outside the data");
  expect_error(write_raw("size.st", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data), "bytes for shape");
  expect_error(write_raw("dtype.st", R"({"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", data),
               "unsupported dtype 'F64'");
  expect_error(write_raw("dup.st",
                         R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                         data),
               "appears twice");
  expect_error(write_raw("json.st", "{not json", data), "not valid JSON");
  expect_error(write_raw("neg.st", R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data), "negative");
  expect_error(write_raw("overlap.st",
                         R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                         data),
               "overlap");
  expect_error(tmp_path("missing.st"), "cannot open");
}

TEST(Checkpoint, WrittenWholeOrNotAtAllAndListedInOrder) {
  std::string parent = tmp_path("ckpts");
  io::Checkpoint c;
  c.model["w"] = randn({2}, 1);
  c.trainer_state["epoch"] = Tensor::scalar(1, DType::I64);
  c.config_yaml = "seed: 0\n";
  io::save_checkpoint(parent + "/epoch_0002", c);
  io::save_checkpoint(parent + "/epoch_0010", c);
  io::save_checkpoint(parent + "/epoch_0001", c);
  fs::create_directories(parent + "/epoch_0011.tmp.1");  // an interrupted write
  fs::create_directories(parent + "/epoch_0012");        // incomplete: no files
  auto all = io::list_checkpoints(parent);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_NE(all.back().find("epoch_0010"), std::string::npos);
  io::prune_checkpoints(parent, 2);
  EXPECT_EQ(io::list_checkpoints(parent).size(), 2u);
  EXPECT_FALSE(fs::exists(parent + "/epoch_0001"));
  c.model["w"] = randn({2}, 9);
  io::save_checkpoint(parent + "/epoch_0010", c);  // replacing an existing folder
  expect_bitwise_equal("replaced", io::load_checkpoint(parent + "/epoch_0010").model.at("w"), c.model.at("w"));
  EXPECT_THROW(io::load_checkpoint(parent + "/epoch_0012"), Error);
}
