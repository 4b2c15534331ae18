/* Lowering: each public operation as a list of passes (passes.h). The
 * synchronized calls (sync.c) build their one-pass lists themselves. */
#include "internal.h"

static void add(vkbn__pass_list* l, vkbn__pass_kind kind, vkbn__source source) {
    vkbn__pass p = {kind, source, NULL, NULL};
    l->pass[l->count++] = p;
}

void vkbn__lower(vkbn__op_kind kind, const vkbn__op* op, vkbn__pass_list* out) {
    out->count = 0;
    switch (kind) {
        case VKBN__OP_FORWARD_TRAINING:
            add(out, VKBN__PASS_REDUCE_STATS, VKBN__SOURCE_NONE);
            add(out, VKBN__PASS_NORMALIZE, VKBN__SOURCE_PREVIOUS);
            break;
        case VKBN__OP_FORWARD_INFERENCE: add(out, VKBN__PASS_NORMALIZE, VKBN__SOURCE_RUNNING); break;
        case VKBN__OP_BACKWARD:
            add(out, VKBN__PASS_REDUCE_GRADS, VKBN__SOURCE_SAVED);
            if (op->dx) add(out, VKBN__PASS_APPLY_GRADS, VKBN__SOURCE_PREVIOUS);
            break;
        case VKBN__OP_BACKWARD_FROZEN:
            /* dx and dz do not depend on the sums: with dweight or dbias the
             * reduction writes them on its way, else one elementwise pass. */
            if (op->dweight || op->dbias) {
                add(out, VKBN__PASS_REDUCE_GRADS, VKBN__SOURCE_RUNNING);
            } else {
                add(out, VKBN__PASS_APPLY_GRADS, VKBN__SOURCE_RUNNING);
            }
            break;
        case VKBN__OP_COPY: add(out, VKBN__PASS_COPY, VKBN__SOURCE_NONE); break;
    }
}

const char* vkbn__pass_name(vkbn__pass_kind kind) {
    switch (kind) {
        case VKBN__PASS_REDUCE_STATS: return "reduce-stats";
        case VKBN__PASS_NORMALIZE: return "normalize";
        case VKBN__PASS_REDUCE_GRADS: return "reduce-grads";
        case VKBN__PASS_APPLY_GRADS: return "apply-grads";
        case VKBN__PASS_COPY: return "copy";
    }
    return "?";
}
