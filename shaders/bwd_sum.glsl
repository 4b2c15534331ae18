// Compensated sums for the backward reductions (sum g and sum g * d).
//
// A partial sum is a pair (s, c): s the float sum, c the accumulated rounding
// errors of the additions that formed s, each captured exactly by TwoSum
// (Knuth). Values enter in chunks (4 or 16 elements added pairwise, at most 4
// roundings deep), then each chunk sum is added with TwoSum; pairs merge with
// TwoSum on s and a plain add on c. The result s + c has an error of about
// (chunk depth + 2) u sum |terms| + u |sum|, independent of m and of how the
// reduction was split, where a plain float sum has up to m u sum |terms|.
// That matters for sum g, whose terms may cancel (dy with a large common
// part: then dx = k1 (g - sum g / m - ...) is the small difference of large
// numbers and inherits the sum's absolute error divided by m).
//
// `precise` keeps the compiler from simplifying the error terms away.

void csum_add(inout float s, inout float c, float v) {
    precise float t = s + v;
    precise float z = t - s;
    precise float e = (s - (t - z)) + (v - z);
    s = t;
    c += e;
}

void csum_add(inout vec4 s, inout vec4 c, vec4 v) {
    precise vec4 t = s + v;
    precise vec4 z = t - s;
    precise vec4 e = (s - (t - z)) + (v - z);
    s = t;
    c += e;
}

// Merges (bs, bc) into (s, c); the caller fixes the order.
void csum_merge(inout float s, inout float c, float bs, float bc) {
    csum_add(s, c, bs);
    c += bc;
}

void csum_merge(inout vec4 s, inout vec4 c, vec4 bs, vec4 bc) {
    csum_add(s, c, bs);
    c += bc;
}

// The workgroup merge of reduce.glsl, on (sum g, comp, sum g d, comp).
vec4 reduce_merge(vec4 lower, vec4 upper) {
    vec4 r = lower;
    csum_merge(r.x, r.y, upper.x, upper.y);
    csum_merge(r.z, r.w, upper.z, upper.w);
    return r;
}

// The elements of one item added pairwise.
float item_sum(VT v) {
#if VEC == 4
    return (v.x + v.y) + (v.z + v.w);
#else
    return v;
#endif
}
