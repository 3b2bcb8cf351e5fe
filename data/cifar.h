// CIFAR-10 / CIFAR-100 in the official binary layout. Each record is the label
// byte(s) followed by 3,072 pixel bytes: 1,024 R, 1,024 G, 1,024 B, each 32x32
// row-major, i.e. already CHW. Samples are [3, 32, 32].
//   CIFAR-10:  1 label byte (0..9); train = whichever of data_batch_1..5.bin exist
//              (at least one), test = test_batch.bin; names from batches.meta.txt.
//   CIFAR-100: coarse label byte + fine label byte (0..99, the one used); train =
//              train.bin, test = test.bin; names from fine_label_names.txt.
// A file of any whole number of records is accepted. Missing files, a size that is
// not a multiple of the record size and out-of-range labels are nf::Errors naming
// the file (and the record for labels).
#pragma once
#include <memory>
#include <string>

#include "data/dataset.h"

namespace nf::data {

std::shared_ptr<InMemoryDataset> load_cifar10(const std::string& root, bool train);
std::shared_ptr<InMemoryDataset> load_cifar100(const std::string& root, bool train);

}  // namespace nf::data
