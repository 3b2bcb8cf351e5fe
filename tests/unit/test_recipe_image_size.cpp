// data.image_size reaches training: a folder of 40x40 PNGs trained for one step with
// `data.image_size: 24` feeds the model [N, 3, 24, 24], the input shape `summary`
// reports (ResNets pool globally, so a wrong size would train silently).
#include <set>

#include "data/image.h"
#include "data_test_util.h"
#include "tools/recipe/recipe.h"
#include "tools/train/trainer.h"

using namespace nf;
using namespace nf::test;

TEST(RecipeImageSize, TrainingSeesTheInputShapeSummaryReports) {
  TempDir dir;
  if (!data::image_decoding_available()) GTEST_SKIP() << "built without OpenCV";
  for (const std::string split : {"train", "test"})
    for (const std::string cls : {"a", "b"})
      for (int i = 0; i < 2; ++i) {
        const fs::path png = dir.path / split / cls / (std::to_string(i) + ".png");
        fs::create_directories(png.parent_path());
        data::write_image(png.string(), Tensor::full({3, 40, 40}, cls == "a" ? 0.25 : 0.75));
      }
  const fs::path yaml = dir.path / "r.yaml";
  std::ofstream(yaml) << "model: {name: resnet8, num_classes: 2}\n"
                      << "data: {dataset: image_folder, root: " << dir.str() << ", image_size: 24,\n"
                      << "       batch_size: 4, eval_batch_size: 4, workers: 0}\n"
                      << "trainer: {max_steps: 1, out_dir: " << (dir.path / "run").string() << "}\n";
  const Recipe r = parse_recipe(yaml.string());

  std::set<Shape> seen;  // every 3-channel batch a layer of the model received (the stem)
  {
    ForwardHookGuard hook([&](const Module&, const Tensor& x, const Tensor&) {
      if (x.dim() == 4 && x.size(1) == 3) seen.insert(x.shape());
    });
    train(r, std::nullopt);
  }
  const Shape chw = recipe_input_shape(r);  // what `normforge summary` prints
  EXPECT_EQ(chw, (Shape{3, 24, 24}));
  EXPECT_EQ(seen, (std::set<Shape>{{4, chw[0], chw[1], chw[2]}}));
}
