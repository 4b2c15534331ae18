// Numerically stable per-channel statistics: (count, mean, M2) triples.
//
// Each thread folds chunks of its values into a running triple with Chan's
// formula (a chunk's own mean and M2 are computed directly, so there is no
// E[x^2] - E[x]^2 anywhere). Triples are merged in a fixed order, so the
// result depends only on the data, the shape and the device.
//
// Chan: n = na + nb; d = mean_b - mean_a; mean = mean_a + d * nb / n;
//       M2 = M2a + M2b + d^2 * na * nb / n

struct Stat {
    float n;
    float mean;
    float m2;
};

const Stat STAT_EMPTY = Stat(0.0, 0.0, 0.0);

// A triple packed for subgroup shuffles and reduce.glsl (w unused).
vec4 stat_pack(Stat s) {
    return vec4(s.n, s.mean, s.m2, 0.0);
}

Stat stat_unpack(vec4 v) {
    return Stat(v.x, v.y, v.z);
}

Stat stat_merge(Stat a, Stat b) {
    float n = a.n + b.n;
    if (b.n == 0.0) return a;
    if (a.n == 0.0) return b;
    float d = b.mean - a.mean;
    float wb = b.n / n;
    return Stat(n, a.mean + d * wb, a.m2 + b.m2 + d * d * a.n * wb);
}

// The merge of vec4-packed triples, for reduce.glsl and merge.glsl.
vec4 reduce_merge(vec4 lower, vec4 upper) {
    return stat_pack(stat_merge(stat_unpack(lower), stat_unpack(upper)));
}

// Folds a chunk of cn values with mean cmean and squared deviations cq.
void stat_fold(inout Stat s, float cn, float cmean, float cq) {
    float n = s.n + cn;
    float d = cmean - s.mean;
    float w = cn / n;
    s.mean += d * w;
    s.m2 += cq + d * d * s.n * w;
    s.n = n;
}

void stat_fold4(inout Stat s, vec4 v) {
    float cm = (v.x + v.y + v.z + v.w) * 0.25;
    vec4 dv = v - cm;
    stat_fold(s, 4.0, cm, dot(dv, dv));
}

void stat_fold16(inout Stat s, vec4 a, vec4 b, vec4 c, vec4 d) {
    float cm = dot((a + b) + (c + d), vec4(0.0625));
    vec4 da = a - cm, db = b - cm, dc = c - cm, dd = d - cm;
    stat_fold(s, 16.0, cm, (dot(da, da) + dot(db, db)) + (dot(dc, dc) + dot(dd, dd)));
}

void stat_fold1(inout Stat s, float x) {
    stat_fold(s, 1.0, x, 0.0);
}

// Per-lane statistics of four channels at once (channels-last with vec4 items):
// every lane has seen the same count.
struct Stat4 {
    float n;
    vec4 mean;
    vec4 m2;
};

const Stat4 STAT4_EMPTY = Stat4(0.0, vec4(0.0), vec4(0.0));

Stat4 stat4_merge(Stat4 a, Stat4 b) {
    float n = a.n + b.n;
    if (b.n == 0.0) return a;
    if (a.n == 0.0) return b;
    vec4 d = b.mean - a.mean;
    float wb = b.n / n;
    return Stat4(n, a.mean + d * wb, a.m2 + b.m2 + d * d * (a.n * wb));
}

void stat4_fold(inout Stat4 s, float cn, vec4 cmean, vec4 cq) {
    float n = s.n + cn;
    vec4 d = cmean - s.mean;
    float w = cn / n;
    s.mean += d * w;
    s.m2 += cq + d * d * (s.n * w);
    s.n = n;
}

// Four rows of four channels.
void stat4_fold_rows(inout Stat4 s, vec4 a, vec4 b, vec4 c, vec4 d) {
    vec4 cm = ((a + b) + (c + d)) * 0.25;
    vec4 da = a - cm, db = b - cm, dc = c - cm, dd = d - cm;
    stat4_fold(s, 4.0, cm, (da * da + db * db) + (dc * dc + dd * dd));
}

void stat4_fold_row(inout Stat4 s, vec4 a) {
    stat4_fold(s, 1.0, a, vec4(0.0));
}
