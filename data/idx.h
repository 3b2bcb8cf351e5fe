// MNIST / Fashion-MNIST IDX files, gzip-compressed or not (read through zlib, which
// passes plain files through). In root: {train,t10k}-images-idx3-ubyte[.gz] (magic
// 0x00000803, dims N, rows, cols, then N*rows*cols bytes) and
// {train,t10k}-labels-idx1-ubyte[.gz] (magic 0x00000801, dim N, then N bytes, each a
// label in 0..9). Big-endian 32-bit header words. Samples are [1, rows, cols].
// Bad magic, wrong dimension count, truncated or over-long data, image/label count
// mismatch and labels out of range are nf::Errors naming the file.
#pragma once
#include <memory>
#include <string>

#include "data/dataset.h"

namespace nf::data {

enum class IdxSet { Mnist, FashionMnist };  // same format, different class names

std::shared_ptr<InMemoryDataset> load_idx(IdxSet set, const std::string& root, bool train);

}  // namespace nf::data
