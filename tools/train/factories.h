// From a recipe to the objects training is made of: the dataset and its loader, the
// optimizer with its parameter groups, the learning-rate schedule.
#pragma once
#include <memory>
#include <string>

#include "data/dataset.h"
#include "data/loader.h"
#include "framework/optim/lr_schedule.h"
#include "framework/optim/optimizer.h"
#include "layers/module.h"
#include "tools/recipe/recipe.h"

namespace nf {

// The recipe's dataset split ("train" | "test"); image folders are read with
// model.in_channels channels and resized to data.image_size.
std::shared_ptr<data::Dataset> open_recipe_dataset(const Recipe& r, const std::string& split);

// The split as a loader, checked against model.in_channels and model.num_classes;
// train loaders shuffle and augment per the recipe, test loaders do neither. In a
// data-parallel run each rank's loader holds its shard: of the samples for training
// (data.batch_size per rank), of the batches for evaluation (data::Shard).
std::unique_ptr<data::DataLoader> make_loader(const Recipe& r, const std::string& split, bool for_training);

// The recipe's optimizer over the model's trainable parameters (two groups when
// optimizer.no_weight_decay exempts some).
std::unique_ptr<optim::Optimizer> make_optimizer(const Recipe& r, Module& model);

// The recipe's schedule over the run: trainer.max_steps steps, else trainer.epochs
// epochs of steps_per_epoch steps.
optim::LrSchedule make_schedule(const Recipe& r, int64_t steps_per_epoch);

}  // namespace nf
