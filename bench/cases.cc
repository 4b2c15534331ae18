#include "cases.h"

#include <algorithm>

namespace bench {

namespace {

// Forward ops, then backward: each op is a line here plus its plan (or
// primitive, or expression) in each target.
const std::vector<Op> kOps = {
    {"train", OpKind::kForwardTraining, VKBN_ACTIVATION_NONE, false, false},
    {"train_relu", OpKind::kForwardTraining, VKBN_ACTIVATION_RELU, false, false},
    {"train_add", OpKind::kForwardTraining, VKBN_ACTIVATION_NONE, true, false},
    {"train_add_relu", OpKind::kForwardTraining, VKBN_ACTIVATION_RELU, true, false},
    {"infer", OpKind::kForwardInference, VKBN_ACTIVATION_NONE, false, false},
    {"infer_relu", OpKind::kForwardInference, VKBN_ACTIVATION_RELU, false, false},
    {"infer_add", OpKind::kForwardInference, VKBN_ACTIVATION_NONE, true, false},
    {"infer_add_relu", OpKind::kForwardInference, VKBN_ACTIVATION_RELU, true, false},
    {"backward", OpKind::kBackward, VKBN_ACTIVATION_NONE, false, false},
    {"backward_relu", OpKind::kBackward, VKBN_ACTIVATION_RELU, false, false},
    {"backward_add_relu", OpKind::kBackward, VKBN_ACTIVATION_RELU, true, false},
    {"backward_frozen", OpKind::kBackward, VKBN_ACTIVATION_NONE, false, true},
    {"backward_relu_mask", OpKind::kBackward, VKBN_ACTIVATION_RELU, false, false, true},
};
const Op kCopy = {"copy", OpKind::kCopy, VKBN_ACTIVATION_NONE, false, false};

// ResNet-50 (v1.5, 224x224) batch-norm layers as (channels, height = width),
// each distinct shape once: the stem, then per stage the bottleneck widths,
// the stage output, and the first block's input-resolution 1x1 conv. In the
// network a bottleneck's inner batch norms are followed by ReLU, its last
// one (the stage-output shapes: 256, 512, 1024, 2048 channels) by residual
// add + ReLU.
struct ResNetLayer {
  uint32_t c, hw;
};
const ResNetLayer kResNet50[] = {
    {64, 112}, {64, 56},  {256, 56},  {128, 56}, {128, 28}, {512, 28},
    {256, 28}, {256, 14}, {1024, 14}, {512, 14}, {512, 7},  {2048, 7},
};

const std::vector<const Op*> ops_named(std::initializer_list<const char*> names) {
  std::vector<const Op*> out;
  for (const char* n : names) out.push_back(find_op(n));
  return out;
}

const std::vector<vkbn_layout> kBothLayouts = {VKBN_LAYOUT_CHANNELS_FIRST, VKBN_LAYOUT_CHANNELS_LAST};
const std::vector<vkbn_dtype> kF32 = {VKBN_DTYPE_F32};
const std::vector<vkbn_dtype> kAllTypes = {VKBN_DTYPE_F32, VKBN_DTYPE_F16, VKBN_DTYPE_BF16};

Shape image_shape(uint32_t n, uint32_t c, uint32_t hw) {
  Shape s;
  s.n = n;
  s.c = c;
  s.rank = 2;
  s.spatial[0] = s.spatial[1] = hw;
  return s;
}

// A tensor of `bytes` with 64 channels, batch up to 32 and a power-of-two
// near-square image: the sweep's shape for each size.
Shape sweep_shape(uint64_t bytes, vkbn_dtype dtype) {
  uint64_t per_channel = bytes / vkbn_dtype_size(dtype) / 64;
  Shape s;
  s.c = 64;
  s.n = (uint32_t)std::min<uint64_t>(32, per_channel);
  uint64_t image = per_channel / s.n;
  uint32_t h = 1;
  while ((uint64_t)h * h < image) h *= 2;
  s.rank = 2;
  s.spatial[0] = h;
  s.spatial[1] = (uint32_t)(image / h);
  return s;
}

bool selected(const std::vector<std::string>& filter, const std::string& name) {
  return filter.empty() || std::find(filter.begin(), filter.end(), name) != filter.end();
}

// Cross product of one suite's shapes with its ops, layouts and types.
struct SuiteBuilder {
  const Selection& sel;
  std::vector<Case>& out;
  void add(const std::string& suite, const std::vector<Shape>& shapes, const std::vector<const Op*>& ops,
           const std::vector<vkbn_layout>& layouts, const std::vector<vkbn_dtype>& dtypes) {
    if (!selected(sel.suites, suite)) return;
    for (const Op* op : ops) {
      if (!selected(sel.ops, op->name)) continue;
      for (vkbn_dtype dt : dtypes) {
        if (!selected(sel.dtypes, dtype_name(dt))) continue;
        for (vkbn_layout l : layouts) {
          if (!selected(sel.layouts, layout_name(l))) continue;
          for (const Shape& s : shapes) {
            Case c;
            c.suite = suite;
            c.op = op;
            c.shape = s;
            c.layout = l;
            c.dtype = dt;
            out.push_back(c);
          }
        }
      }
    }
  }
};

std::vector<Shape> resnet50(uint32_t batch) {
  std::vector<Shape> shapes;
  for (const ResNetLayer& l : kResNet50) shapes.push_back(image_shape(batch, l.c, l.hw));
  return shapes;
}

}  // namespace

const std::vector<Op>& all_ops() { return kOps; }
const Op& copy_op() { return kCopy; }

const Op* find_op(const std::string& name) {
  for (const Op& op : kOps)
    if (name == op.name) return &op;
  return name == kCopy.name ? &kCopy : nullptr;
}

int effective_tensor_count(const Op& op) {
  switch (op.kind) {
    case OpKind::kCopy:
      return 2;
    case OpKind::kForwardTraining:
    case OpKind::kForwardInference:
      return op.residual ? 3 : 2;
    case OpKind::kBackward:
      return 3 + (op.activation != VKBN_ACTIVATION_NONE && !op.mask) + op.residual;
  }
  return 0;
}

uint64_t Shape::elements() const {
  uint64_t e = (uint64_t)n * c;
  for (uint32_t i = 0; i < rank; ++i) e *= spatial[i];
  return e;
}

std::string Shape::str() const {
  std::string s = std::to_string(n) + "x" + std::to_string(c);
  for (uint32_t i = 0; i < rank; ++i) s += "x" + std::to_string(spatial[i]);
  return s;
}

uint64_t Case::tensor_bytes() const { return shape.elements() * vkbn_dtype_size(dtype); }
uint64_t Case::mask_bytes() const { return op->mask ? (shape.elements() + 31) / 32 * 4 : 0; }
uint64_t Case::effective_bytes() const { return (uint64_t)effective_tensor_count(*op) * tensor_bytes() + mask_bytes(); }

vkbn_tensor_desc Case::tensor() const {
  vkbn_tensor_desc t = {};
  t.n = shape.n;
  t.c = shape.c;
  t.spatial_rank = shape.rank;
  for (uint32_t i = 0; i < VKBN_MAX_SPATIAL_RANK; ++i) t.spatial[i] = shape.spatial[i];
  t.layout = layout;
  t.dtype = dtype;
  return t;
}

std::string Case::key() const {
  if (op->kind == OpKind::kCopy) return "copy/" + std::to_string(tensor_bytes()) + "B";
  return suite + "/" + op->name + "/" + layout_name(layout) + "/" + dtype_name(dtype) + "/" + shape.str();
}

Case copy_case(uint64_t tensor_bytes) {
  Case c;
  c.suite = "copy";
  c.op = &kCopy;
  c.shape.rank = 1;
  c.shape.spatial[0] = (uint32_t)((tensor_bytes + 3) / 4);
  return c;
}

const char* layout_name(vkbn_layout layout) { return layout == VKBN_LAYOUT_CHANNELS_LAST ? "nhwc" : "nchw"; }
const char* dtype_name(vkbn_dtype dtype) {
  switch (dtype) {
    case VKBN_DTYPE_F16:
      return "f16";
    case VKBN_DTYPE_BF16:
      return "bf16";
    case VKBN_DTYPE_F32:
      break;
  }
  return "f32";
}

std::vector<std::string> suite_names() { return {"resnet50_b32", "resnet50_b1", "small_batch", "sweep", "custom"}; }

bool parse_shape(const std::string& text, Shape* shape) {
  std::vector<uint64_t> dims;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('x', start);
    if (end == std::string::npos) end = text.size();
    if (end == start || end - start > 10) return false;
    uint64_t d = 0;
    for (size_t i = start; i < end; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      d = d * 10 + (uint64_t)(text[i] - '0');
    }
    if (d < 1 || d > UINT32_MAX) return false;
    dims.push_back(d);
    start = end + 1;
  }
  if (dims.size() < 2 || dims.size() > 2 + VKBN_MAX_SPATIAL_RANK) return false;
  Shape s;
  s.n = (uint32_t)dims[0];
  s.c = (uint32_t)dims[1];
  s.rank = (uint32_t)dims.size() - 2;
  for (uint32_t i = 0; i < s.rank; ++i) s.spatial[i] = (uint32_t)dims[2 + i];
  *shape = s;
  return true;
}

std::vector<Case> make_cases(const Selection& sel) {
  std::vector<Case> out;
  SuiteBuilder b{sel, out};
  const auto base = ops_named({"train", "infer", "backward"});
  std::vector<const Op*> every;
  for (const Op& op : kOps) every.push_back(&op);

  if (!sel.shapes.empty()) {
    b.add("custom", sel.shapes, sel.ops.empty() ? base : every, kBothLayouts, sel.dtypes.empty() ? kF32 : kAllTypes);
  } else if (sel.full) {
    b.add("resnet50_b32", resnet50(32), every, kBothLayouts, kAllTypes);
    b.add("resnet50_b1", resnet50(1), every, kBothLayouts, kAllTypes);
    std::vector<Shape> small;
    for (uint32_t n : {2u, 8u}) {
      std::vector<Shape> r = resnet50(n);
      small.insert(small.end(), r.begin(), r.end());
    }
    b.add("small_batch", small, ops_named({"infer", "infer_relu"}), kBothLayouts, kAllTypes);
    for (vkbn_dtype dt : kAllTypes) {
      std::vector<Shape> sweep;
      for (uint64_t bytes = 4 << 10; bytes <= (1ull << 30); bytes *= 2) sweep.push_back(sweep_shape(bytes, dt));
      b.add("sweep", sweep, base, kBothLayouts, {dt});
    }
  } else {
    // Quick: training and inference on the ResNet-50 batch-32 shapes in f32,
    // f16 and bf16; then in f32 only: backward on the same, each fusion on two
    // layers that have it in the network (an early and a late one), batch 1,
    // batch 8 inference, and the sweep in steps of 4x up to 64 MiB (x and y
    // together past the last-level cache of most CPUs and GPUs; the full
    // sweep goes to 1 GiB).
    b.add("resnet50_b32", resnet50(32), ops_named({"train", "infer"}), kBothLayouts, kAllTypes);
    b.add("resnet50_b32", resnet50(32), ops_named({"backward"}), kBothLayouts, kF32);
    b.add("resnet50_b32", {image_shape(32, 64, 56), image_shape(32, 256, 14)},
          ops_named({"train_relu", "infer_relu", "backward_relu", "backward_relu_mask"}), kBothLayouts, kF32);
    b.add("resnet50_b32", {image_shape(32, 512, 28), image_shape(32, 2048, 7)},
          ops_named({"train_add_relu", "infer_add_relu", "backward_add_relu"}), kBothLayouts, kF32);
    b.add("resnet50_b1", resnet50(1), base, kBothLayouts, kF32);
    b.add("small_batch", resnet50(8), ops_named({"infer"}), kBothLayouts, kF32);
    std::vector<Shape> sweep;
    for (uint64_t bytes = 4 << 10; bytes <= (64ull << 20); bytes *= 4)
      sweep.push_back(sweep_shape(bytes, VKBN_DTYPE_F32));
    b.add("sweep", sweep, base, kBothLayouts, kF32);
  }
  return out;
}

}  // namespace bench
