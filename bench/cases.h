// What vkbn-bench measures: operations, shapes, suites and the byte count of
// each case (SEMANTICS.md, "How the benchmark counts bytes").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vkbn/vkbn.h"

namespace bench {

// The kinds of work a target can be asked to time; each target's prepare()
// creates the tensors effective_tensor_count() counts.
enum class OpKind { kCopy, kForwardTraining, kForwardInference, kBackward };

// One timed operation: a kind plus its fusions.
struct Op {
  const char* name;  // short, used in case names and JSON: "train_relu"
  OpKind kind;
  vkbn_activation activation;
  bool residual;  // fused residual add (z) before the activation (backward: writes dz)
  bool frozen;    // backward from running statistics (fine-tuning) instead of the batch's
  // backward with an activation: act' from the forward's activation mask (one
  // bit per element, vkbn_activation_mask_requirements) instead of y
  bool mask = false;
};

// Every operation the harness knows, in report order. The copy is the
// bandwidth ceiling, not a batch-norm op.
const std::vector<Op>& all_ops();
const Op& copy_op();
// nullptr when no op has that name.
const Op* find_op(const std::string& name);

// How many x-sized tensors the op reads or writes, each counted once
// (SEMANTICS.md, "How the benchmark counts bytes"): forward x + y (+ z);
// backward x + dy + dx (+ y, whose sign masks dy, for a fused activation
// read from y; + dz for a fused residual); copy x + y. The activation mask,
// a bit per element, is not a tensor: Case::effective_bytes adds its bytes.
int effective_tensor_count(const Op& op);

struct Shape {
  uint32_t n = 1, c = 1, rank = 0;
  uint32_t spatial[VKBN_MAX_SPATIAL_RANK] = {1, 1, 1};
  uint64_t elements() const;
  std::string str() const;  // logical (N, C, D1..Dk) order: "32x64x56x56"
};

struct Case {
  std::string suite;
  const Op* op = nullptr;
  Shape shape;
  vkbn_layout layout = VKBN_LAYOUT_CHANNELS_FIRST;
  vkbn_dtype dtype = VKBN_DTYPE_F32;

  uint64_t tensor_bytes() const;     // one tensor of x's shape and type
  uint64_t mask_bytes() const;       // the activation mask's (4 * ceil(elements / 32)) for a mask op, else 0
  uint64_t effective_bytes() const;  // effective_tensor_count(op) * tensor_bytes() + mask_bytes()
  vkbn_tensor_desc tensor() const;
  // "resnet50_b32/train/nchw/f32/32x64x112x112": identical for every target,
  // so results of one case on different targets can be matched.
  std::string key() const;
};

// The copy case whose bandwidth is the ceiling for cases with tensors of
// `tensor_bytes` (rounded up to a multiple of 4, the copy's granule).
Case copy_case(uint64_t tensor_bytes);

const char* layout_name(vkbn_layout layout);  // "nchw" | "nhwc"
const char* dtype_name(vkbn_dtype dtype);     // "f32" | "f16" | "bf16"

// Restricts what make_cases() returns; empty lists mean "all".
struct Selection {
  bool full = false;
  std::vector<std::string> suites, ops, layouts, dtypes;
  std::vector<Shape> shapes;  // --shape: the "custom" suite, instead of the others
};

// Parses "32x64x56x56" (N x C x D1..Dk, k <= 3, every dimension >= 1) into
// *shape; false when the text is not such a shape.
bool parse_shape(const std::string& text, Shape* shape);

// The suites, in run order: resnet50_b32, resnet50_b1, small_batch, sweep.
// The quick default is a subset of the full suite (see cases.cc). The full
// suite runs every type (f32, f16, bf16). With
// selection.shapes, only the "custom" suite: those shapes, with train, infer
// and backward (or the ops selected), both layouts and f32 (or the dtypes
// selected).
std::vector<Case> make_cases(const Selection& selection);
std::vector<std::string> suite_names();

}  // namespace bench
