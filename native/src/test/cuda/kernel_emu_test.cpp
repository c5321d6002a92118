// kernel_emu_test.cpp — every CUDA kernel of native/src/main/cuda, run on the CPU through emu.h, against
// the CPU backend's kernels (native/src/main/cpp/cpu/*.h, the executable specification of each op).
//
// Built and run by native/src/test/cuda/run-emulation.sh in Maven's test phase (native module); no GPU
// needed. Prints one line per check and exits non-zero if any check fails.
//
// Launch configurations: each pointwise kernel runs with two grids (1 block of 64 threads, and 3 blocks
// of 256), since every kernel must be correct for any grid (cuda/common.cuh); kernels built on
// block_sum run with kBlock threads as the Java side launches them; column reductions use the grid of
// Note [column reductions] with a chunk size that makes several chunks.
#include "emu.h"

// the kernels (one translation unit: their names are distinct)
#include "batchnorm.cu"
#include "convert.cu"
#include "elementwise.cu"
#include "loss.cu"
#include "pool.cu"

// the CPU kernels they must match
#include "cpu/activation.h"
#include "cpu/adam.h"
#include "cpu/batchnorm.h"
#include "cpu/elementwise.h"
#include "cpu/loss.h"
#include "cpu/pool.h"
#include "cpu/resample.h"

#include <omp.h>

#include <cstdio>
#include <random>
#include <string>

namespace {

int failures = 0;
int checks = 0;
std::mt19937_64 rng(20240611);

std::vector<float> randn(std::size_t n, float scale = 1.f, float offset = 0.f) {
    std::normal_distribution<float> d(0.f, 1.f);
    std::vector<float> v(n);
    for (float& x : v) x = offset + scale * d(rng);
    return v;
}

/** Small integers in [0, levels): many ties. */
std::vector<float> ties_of(std::size_t n, int levels) {
    std::uniform_int_distribution<int> d(0, levels - 1);
    std::vector<float> v(n);
    for (float& x : v) x = float(d(rng));
    return v;
}

/** Poisoned output buffer: NaN everywhere, so an unwritten element fails the comparison. */
std::vector<float> poison(std::size_t n) { return std::vector<float>(n, std::nanf("")); }

bool close_enough(double a, double b, double atol, double rtol) {
    if (a == b || (std::isnan(a) && std::isnan(b))) return true;
    if (std::isinf(a) || std::isinf(b)) return false;
    return std::fabs(a - b) <= atol + rtol * std::fabs(b);
}

template <class A, class B>
void expect_close(const std::string& what, const A& got, const B& want, double atol = 1e-6, double rtol = 1e-5) {
    checks++;
    if (got.size() != want.size()) {
        std::printf("FAIL %s: size %zu != %zu\n", what.c_str(), got.size(), want.size());
        failures++;
        return;
    }
    std::size_t bad = 0, first = 0;
    double worst = 0;
    for (std::size_t i = 0; i < got.size(); i++) {
        if (!close_enough(double(got[i]), double(want[i]), atol, rtol)) {
            if (bad == 0) first = i;
            bad++;
        }
        const double d = std::fabs(double(got[i]) - double(want[i]));
        if (d == d && d > worst) worst = d;
    }
    if (bad > 0) {
        std::printf("FAIL %s: %zu of %zu differ; first [%zu] got %.9g want %.9g; max |diff| %.3g\n", what.c_str(), bad,
                    got.size(), first, double(got[first]), double(want[first]), worst);
        failures++;
    } else {
        std::printf("ok   %s (%zu values, max |diff| %.3g)\n", what.c_str(), got.size(), worst);
    }
}

void expect_true(const std::string& what, bool ok) {
    checks++;
    if (!ok) {
        std::printf("FAIL %s\n", what.c_str());
        failures++;
    } else {
        std::printf("ok   %s\n", what.c_str());
    }
}

const dim3 kSmallGrid(1), kSmallBlock(64), kGrid(3), kBlock256(256);

/** Grid of a column reduction over J columns and R rows (Note [column reductions]). */
dim3 col_grid(i64 J, i64 R, i64 rpc) { return dim3(unsigned((J + 31) / 32), unsigned((R + rpc - 1) / rpc)); }
const dim3 kColBlock(kColTile, kColRows);

// ----------------------------------------------------------------------------------------------------

void test_pointwise() {
    const std::size_t n = 1000;
    for (int cfg = 0; cfg < 2; cfg++) {
        const dim3 g = cfg ? kGrid : kSmallGrid, b = cfg ? kBlock256 : kSmallBlock;
        const std::string tag = cfg ? " [3x256]" : " [1x64]";
        auto a = randn(n), bb = randn(n);
        auto y = poison(n);
        emu::launch(k_fill, g, b, y.data(), 2.5f, i64(n));
        expect_close("fill" + tag, y, std::vector<float>(n, 2.5f), 0, 0);
        std::vector<float> want(n);
        arunet::cpu::add_forward(want.data(), a.data(), bb.data(), n);
        emu::launch(k_add, g, b, y.data(), a.data(), bb.data(), i64(n));
        expect_close("add" + tag, y, want, 0, 0);
        auto alias = a;
        emu::launch(k_add, g, b, alias.data(), alias.data(), bb.data(), i64(n));
        expect_close("add in place" + tag, alias, want, 0, 0);
        arunet::cpu::scale_forward(want.data(), a.data(), -0.37f, n);
        emu::launch(k_scale, g, b, y.data(), a.data(), -0.37f, i64(n));
        expect_close("scale" + tag, y, want, 0, 0);
        arunet::cpu::mul_forward_same(want.data(), a.data(), bb.data(), n);
        emu::launch(k_mul, g, b, y.data(), a.data(), bb.data(), i64(n));
        expect_close("mul same" + tag, y, want, 0, 0);
    }
    // broadcast products: P pixels x C channels, N images
    const i64 N = 3, HW = 37, C = 19, P = N * HW;
    auto x = randn(P * C), dy = randn(P * C), wp = randn(P), wc = randn(N * C);
    std::vector<float> want(P * C), got = poison(P * C);
    arunet::cpu::mul_forward_pixel(want.data(), x.data(), wp.data(), P, C);
    emu::launch(k_mul_pixel, kGrid, kBlock256, got.data(), x.data(), wp.data(), P, C);
    expect_close("mul pixel", got, want, 0, 0);
    got = poison(P * C);
    emu::launch(k_mul_pixel, kSmallGrid, dim3(96), got.data(), x.data(), wp.data(), P, C);
    expect_close("mul pixel [1x96]", got, want, 0, 0);
    arunet::cpu::mul_forward_channel(want.data(), x.data(), wc.data(), N, HW, C);
    got = poison(P * C);
    emu::launch(k_mul_channel, kGrid, kBlock256, got.data(), x.data(), wc.data(), N, HW, C);
    expect_close("mul channel", got, want, 0, 0);
    got = poison(P * C);
    emu::launch(k_mul_channel, kSmallGrid, dim3(160), got.data(), x.data(), wc.data(), N, HW, C);
    expect_close("mul channel [1x160]", got, want, 0, 0);

    // per-pixel dw = sum_c dy x
    std::vector<float> dwp(P), gotp = poison(P);
    arunet::cpu::mul_backward_pixel(nullptr, dwp.data(), dy.data(), x.data(), wp.data(), P, C);
    emu::launch(k_rowdot, kGrid, kBlock256, gotp.data(), dy.data(), x.data(), P, C);
    expect_close("rowdot (pixel dw)", gotp, dwp, 1e-6, 1e-6);
    // per-channel dw = sum_q dy x per image
    std::vector<double> part(64 * C);
    std::vector<float> dwc(N * C), gotc = poison(N * C);
    omp_set_num_threads(2);
    arunet::cpu::mul_backward_channel(nullptr, dwc.data(), part.data(), dy.data(), x.data(), wc.data(), N, HW, C);
    const i64 rpc = 16;
    const dim3 cg = col_grid(N * C, HW, rpc);
    std::vector<Sum1> partial(cg.y * N * C);
    emu::launch(k_coldot_partial, cg, kColBlock, partial.data(), dy.data(), x.data(), N, HW, C, rpc);
    emu::launch(k_colsum_final, kGrid, kBlock256, gotc.data(), partial.data(), N * C, i64(cg.y));
    expect_close("coldot (channel dw)", gotc, dwc, 1e-6, 1e-6);
    // column sums (bias gradients): S = 1
    const i64 M = P;
    std::vector<float> colw(C), colg = poison(C);
    for (i64 c = 0; c < C; c++) {
        double s = 0;
        for (i64 m = 0; m < M; m++) s += x[m * C + c];
        colw[c] = float(s);
    }
    const dim3 cg1 = col_grid(C, M, rpc);
    std::vector<Sum1> partial1(cg1.y * C);
    emu::launch(k_colsum_partial, cg1, kColBlock, partial1.data(), x.data(), i64(1), M, C, rpc);
    emu::launch(k_colsum_final, kSmallGrid, kSmallBlock, colg.data(), partial1.data(), C, i64(cg1.y));
    expect_close("colsum (bias grad)", colg, colw, 1e-6, 1e-6);
}

void test_activations() {
    const std::size_t n = 20001;
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; i++) x[i] = -30.f + 60.f * float(i) / float(n - 1);
    x[0] = std::nanf("");
    x[1] = INFINITY;
    x[2] = -INFINITY;
    x[3] = 0.f;
    x[4] = -0.f;
    auto dy = randn(n);
    const char* names[] = {"none", "relu", "gelu", "sigmoid"};
    for (int act = 0; act < 4; act++) {
        std::vector<float> want(n), got = poison(n);
        arunet::cpu::activation_forward(want.data(), x.data(), arunet::cpu::Act(act), n);
        emu::launch(k_act_fwd, kGrid, kBlock256, got.data(), x.data(), act, i64(n));
        expect_close(std::string("activation forward ") + names[act], got, want, 5e-7, 1e-5);
        std::vector<float> wantd(n), gotd = poison(n);
        arunet::cpu::activation_backward(wantd.data(), x.data(), want.data(), dy.data(), arunet::cpu::Act(act), n);
        emu::launch(k_act_bwd, kGrid, kBlock256, gotd.data(), x.data(), want.data(), dy.data(), act, i64(n));
        expect_close(std::string("activation backward ") + names[act], gotd, wantd, 1e-6, 1e-5);
    }
}

void test_adam_sums() {
    const std::size_t n = 777;
    for (float wd : {0.f, 0.01f}) {
        auto p = randn(n), m = randn(n, 0.1f), v = randn(n, 0.01f), g = randn(n);
        for (float& e : v) e = std::fabs(e);
        auto p2 = p, m2 = m, v2 = v;
        const float lr = 1e-3f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
        const long step = 7;
        arunet::cpu::adam_step(p.data(), m.data(), v.data(), g.data(), n, lr, b1, b2, eps, wd, step);
        const double bc1 = 1.0 - std::pow(double(b1), double(step));
        const double bc2 = 1.0 - std::pow(double(b2), double(step));
        emu::launch(k_adam, kGrid, kBlock256, p2.data(), m2.data(), v2.data(), (const float*)g.data(), i64(n), b1, b2,
                    1.f - b1, 1.f - b2, float(double(lr) / bc1), float(std::sqrt(bc2)), eps, wd);
        const std::string tag = wd > 0 ? " (weight decay)" : "";
        expect_close("adam param" + tag, p2, p, 1e-7, 1e-6);
        expect_close("adam m" + tag, m2, m, 1e-7, 1e-6);
        expect_close("adam v" + tag, v2, v, 1e-9, 1e-6);
    }
    // sums of squares, plain and scaling in place, and per segment
    const std::size_t n1 = 10007, n2 = 300;
    auto x1 = randn(n1), x2 = randn(n2);
    const double want1 = arunet::cpu::sum_of_squares(x1.data(), n1);
    const i64 per = 1024, chunks1 = (n1 + per - 1) / per, chunks2 = (n2 + per - 1) / per;
    std::vector<double> partial(chunks1 + chunks2), out(2);
    emu::launch(k_sumsq_partial, dim3(unsigned(chunks1)), kBlock256, partial.data(), x1.data(), 1.f, 0, i64(n1), per);
    emu::launch(k_sum_final, dim3(1), kBlock256, out.data(), (const double*)partial.data(), chunks1);
    expect_close("sum of squares", std::vector<double>{out[0]}, std::vector<double>{want1}, 0, 1e-12);
    auto scaled = x2;
    std::vector<float> want_scaled(n2);
    for (std::size_t i = 0; i < n2; i++) want_scaled[i] = x2[i] * 0.125f;
    const double want2 = arunet::cpu::sum_of_squares(want_scaled.data(), n2);
    emu::launch(k_sumsq_partial, dim3(unsigned(chunks2)), kBlock256, partial.data() + chunks1, scaled.data(), 0.125f,
                1, i64(n2), per);
    expect_close("unscale in place", scaled, want_scaled, 0, 0);
    std::vector<i64> offsets{0, chunks1, chunks1 + chunks2};
    emu::launch(k_sum_segments, dim3(1), kBlock256, out.data(), (const double*)partial.data(),
                (const i64*)offsets.data(), i64(2));
    expect_close("sum segments", out, std::vector<double>{want1, want2}, 0, 1e-12);
}

void test_maxpool() {
    const i64 N = 2, H = 13, W = 11, C = 5;
    for (int tied = 0; tied < 2; tied++) {
        auto x = tied ? ties_of(N * H * W * C, 3) : randn(N * H * W * C);
        for (int k = 1; k <= 4; k++) {
            for (int s = 1; s <= 3; s++) {
                for (int p = 0; p <= k / 2; p++) {
                    const i64 OH = (H + 2 * p - k) / s + 1, OW = (W + 2 * p - k) / s + 1;
                    std::vector<float> want(N * OH * OW * C), got = poison(N * OH * OW * C);
                    arunet::cpu::maxpool_forward(want.data(), x.data(), N, H, W, C, OH, OW, k, s, p);
                    emu::launch(k_maxpool_fwd, kGrid, kBlock256, got.data(), x.data(), N, H, W, C, OH, OW, k, s, p);
                    const std::string what = "maxpool k" + std::to_string(k) + " s" + std::to_string(s) + " p" +
                                             std::to_string(p) + (tied ? " ties" : "");
                    expect_close(what, got, want, 0, 0);
                    auto dy = randn(N * OH * OW * C);
                    std::vector<float> wantd(N * H * W * C), gotd = poison(N * H * W * C);
                    arunet::cpu::maxpool_backward(wantd.data(), x.data(), dy.data(), N, H, W, C, OH, OW, k, s, p);
                    std::vector<int> arg(N * OH * OW * C, -1);
                    emu::launch(k_maxpool_argmax, kGrid, kBlock256, arg.data(), x.data(), N, H, W, C, OH, OW, k, s, p);
                    emu::launch(k_maxpool_bwd, kGrid, kBlock256, gotd.data(), dy.data(), (const int*)arg.data(), N, H,
                                W, C, OH, OW, k, s, p);
                    expect_close(what + " backward", gotd, wantd, 1e-6, 1e-6);
                }
            }
        }
    }
}

void test_resample() {
    const i64 N = 2, H = 5, W = 7, C = 6, Cb = 3, P = N * H * W;
    auto x = randn(N * H * W * C);
    std::vector<float> want(4 * N * H * W * C), got = poison(4 * N * H * W * C);
    arunet::cpu::upsample2x_forward(want.data(), x.data(), N, H, W, C);
    emu::launch(k_upsample_fwd, kGrid, kBlock256, got.data(), x.data(), N, H, W, C);
    expect_close("upsample", got, want, 0, 0);
    auto dy = randn(4 * N * H * W * C);
    std::vector<float> wantd(N * H * W * C), gotd = poison(N * H * W * C);
    arunet::cpu::upsample2x_backward(wantd.data(), dy.data(), N, H, W, C);
    emu::launch(k_upsample_bwd, kGrid, kBlock256, gotd.data(), dy.data(), N, H, W, C);
    expect_close("upsample backward", gotd, wantd, 0, 0);
    auto b = randn(P * Cb);
    std::vector<float> wantc(P * (C + Cb)), gotc = poison(P * (C + Cb));
    arunet::cpu::concat_channels(wantc.data(), x.data(), b.data(), P, C, Cb);
    emu::launch(k_concat, kGrid, kBlock256, gotc.data(), x.data(), b.data(), P, C, Cb);
    expect_close("concat", gotc, wantc, 0, 0);
    std::vector<float> da = poison(P * C), db = poison(P * Cb);
    emu::launch(k_split, kSmallGrid, kSmallBlock, da.data(), db.data(), (const float*)wantc.data(), P, C, Cb);
    expect_close("split a", da, x, 0, 0);
    expect_close("split b", db, b, 0, 0);
}

void test_channel_and_global_pooling() {
    const i64 N = 3, HW = 45, C = 37, P = N * HW;
    for (int tied = 0; tied < 2; tied++) {
        const std::string tag = tied ? " ties" : "";
        auto x = tied ? ties_of(P * C, 2) : randn(P * C);
        std::vector<float> want(P * 2), got = poison(P * 2);
        arunet::cpu::channelmaxmean_forward(want.data(), x.data(), P, C);
        emu::launch(k_chanmaxmean_fwd, kGrid, kBlock256, got.data(), x.data(), P, C);
        expect_close("channel max/mean" + tag, got, want, 1e-7, 1e-6);
        auto dout = randn(P * 2);
        std::vector<float> wantd(P * C), gotd = poison(P * C);
        arunet::cpu::channelmaxmean_backward(wantd.data(), x.data(), want.data(), dout.data(), P, C);
        emu::launch(k_chanmaxmean_bwd, kGrid, kBlock256, gotd.data(), x.data(), (const float*)want.data(),
                    (const float*)dout.data(), P, C);
        expect_close("channel max/mean backward" + tag, gotd, wantd, 1e-7, 1e-6);

        // global pooling
        std::vector<double> ws(64 * C + 64);
        std::vector<float> wmax(N * C), wavg(N * C), gmax = poison(N * C), gavg = poison(N * C);
        arunet::cpu::globalpool_forward(wmax.data(), wavg.data(), x.data(), ws.data(), N, HW, C, 1);
        const i64 rpc = 8;
        const dim3 cg = col_grid(N * C, HW, rpc);
        std::vector<SumMax> partial(cg.y * N * C);
        emu::launch(k_gpool_partial, cg, kColBlock, partial.data(), x.data(), N, HW, C, rpc);
        emu::launch(k_gpool_final, kGrid, kBlock256, gmax.data(), gavg.data(), (const SumMax*)partial.data(), N, C,
                    HW, i64(cg.y));
        expect_close("global max" + tag, gmax, wmax, 0, 0);
        expect_close("global avg" + tag, gavg, wavg, 1e-7, 1e-6);
        auto dmax = randn(N * C), davg = randn(N * C);
        for (int variant = 0; variant < 3; variant++) {
            const float* dm = variant == 2 ? nullptr : dmax.data();
            const float* da = variant == 1 ? nullptr : davg.data();
            const char* vname = variant == 0 ? " both" : (variant == 1 ? " max only" : " avg only");
            std::vector<float> wdx(P * C), gdx = poison(P * C);
            arunet::cpu::globalpool_backward(wdx.data(), x.data(), dm ? wmax.data() : nullptr, dm, da, ws.data(), N,
                                             HW, C, 1);
            std::vector<Sum1> tp(cg.y * N * C);
            if (dm != nullptr) {
                emu::launch(k_gpool_ties_partial, cg, kColBlock, tp.data(), x.data(), (const float*)wmax.data(), N, HW,
                            C, rpc);
            }
            std::vector<float> cmax = poison(N * C), cavg = poison(N * C);
            emu::launch(k_gpool_coef, kSmallGrid, kSmallBlock, cmax.data(), cavg.data(), (const Sum1*)tp.data(), dm,
                        da, N, C, HW, i64(cg.y));
            emu::launch(k_gpool_bwd, kGrid, kBlock256, gdx.data(), x.data(), dm ? (const float*)wmax.data() : nullptr,
                        (const float*)cmax.data(), (const float*)cavg.data(), N, HW, C, dm != nullptr ? 1 : 0);
            expect_close(std::string("global backward") + vname + tag, gdx, wdx, 1e-7, 1e-6);
        }
    }
}

void test_batchnorm() {
    const i64 M = 2 * 13 * 11, C = 40;
    for (int relu = 0; relu < 2; relu++) {
        const std::string tag = relu ? " relu" : "";
        auto x = randn(M * C, 2.f, 3.f);
        auto gamma = randn(C), beta = randn(C), rm = randn(C), rv = randn(C);
        for (float& v : rv) v = 0.5f + std::fabs(v);
        // training forward
        std::vector<double> ws(arunet::cpu::batchnorm_workspace_doubles(1, C));
        std::vector<float> y(M * C), sm(C), si(C), rm1 = rm, rv1 = rv;
        arunet::cpu::batchnorm_forward_train(y.data(), sm.data(), si.data(), rm1.data(), rv1.data(), x.data(),
                                             gamma.data(), beta.data(), ws.data(), M, C, 1, 0.1f, 1e-5f, relu);
        const i64 rpc = 64;
        const dim3 cg = col_grid(C, M, rpc);
        std::vector<Sum2> partial(cg.y * C);
        std::vector<float> gy = poison(M * C), gsm = poison(C), gsi = poison(C), grm = rm, grv = rv, coef(3 * C);
        emu::launch(k_bn_stats_partial, cg, kColBlock, partial.data(), x.data(), M, C, rpc);
        emu::launch(k_bn_train_finalize, kSmallGrid, kSmallBlock, gsm.data(), gsi.data(), grm.data(), grv.data(),
                    coef.data(), x.data(), gamma.data(), (const Sum2*)partial.data(), i64(cg.y), M, C, 0.1f, 1e-5f);
        emu::launch(k_bn_apply, kGrid, kBlock256, gy.data(), x.data(), (const float*)coef.data(), beta.data(), M, C,
                    relu);
        expect_close("bn train y" + tag, gy, y, 1e-6, 1e-5);
        expect_close("bn save mean" + tag, gsm, sm, 1e-7, 1e-6);
        expect_close("bn save invstd" + tag, gsi, si, 1e-7, 1e-6);
        expect_close("bn running mean" + tag, grm, rm1, 1e-7, 1e-6);
        expect_close("bn running var" + tag, grv, rv1, 1e-7, 1e-6);
        // inference forward
        std::vector<float> ye(M * C), gye = poison(M * C), ecoef(2 * C), gcoef(3 * C);
        arunet::cpu::batchnorm_forward_eval(ye.data(), x.data(), gamma.data(), beta.data(), rm.data(), rv.data(),
                                            ecoef.data(), M, C, 1e-5f, relu);
        emu::launch(k_bn_eval_coef, kSmallGrid, kSmallBlock, gcoef.data(), gamma.data(), rm.data(), rv.data(), C,
                    1e-5f);
        emu::launch(k_bn_apply, kGrid, kBlock256, gye.data(), x.data(), (const float*)gcoef.data(), beta.data(), M, C,
                    relu);
        expect_close("bn eval y" + tag, gye, ye, 1e-6, 1e-5);
        // backward (from the CPU's saved statistics and output)
        auto dy = randn(M * C);
        std::vector<float> dx(M * C), dg(C), db(C), gdx = poison(M * C), gdg = poison(C), gdb = poison(C), bcoef(3 * C);
        arunet::cpu::batchnorm_backward(dx.data(), dg.data(), db.data(), dy.data(), x.data(), y.data(), gamma.data(),
                                        sm.data(), si.data(), ws.data(), M, C, 1, relu);
        std::vector<Sum2> bpartial(cg.y * C);
        emu::launch(k_bn_bwd_partial, cg, kColBlock, bpartial.data(), dy.data(), x.data(), (const float*)y.data(),
                    (const float*)sm.data(), M, C, rpc, relu);
        emu::launch(k_bn_bwd_finalize, kSmallGrid, kSmallBlock, gdg.data(), gdb.data(), bcoef.data(), gamma.data(),
                    (const float*)si.data(), (const Sum2*)bpartial.data(), i64(cg.y), M, C);
        emu::launch(k_bn_bwd_apply, kGrid, kBlock256, gdx.data(), dy.data(), x.data(), (const float*)y.data(),
                    (const float*)sm.data(), (const float*)bcoef.data(), M, C, relu);
        expect_close("bn dx" + tag, gdx, dx, 1e-6, 1e-5);
        expect_close("bn dgamma" + tag, gdg, dg, 1e-5, 1e-5);
        expect_close("bn dbeta" + tag, gdb, db, 1e-5, 1e-5);
    }
}

/** The host part of the losses (CudaBackend does it in Java): sums -> loss, c0, c1; returns the loss. */
double loss_host(bool dice, const std::vector<double>& out, i64 P, i64 K, std::vector<double>& c0,
                 std::vector<double>& c1, double& ce_scale) {
    const double* I = out.data() + 1;
    const double* Ps = I + K;
    const double* T = Ps + K;
    c0.assign(K, 0.0);
    c1.assign(K, 0.0);
    if (dice) {
        const float ce_w = 1.f, dice_w = 1.f, smooth = 1e-5f;
        double dice_mean = 0;
        for (i64 k = 0; k < K; k++) {
            const double den = Ps[k] + T[k] + double(smooth);
            const double D = (2.0 * I[k] + double(smooth)) / den;
            const double alpha = double(dice_w) / double(K) / den;
            c0[k] = alpha * D;
            c1[k] = -2.0 * alpha;
            dice_mean += D;
        }
        dice_mean /= double(K);
        ce_scale = double(ce_w) / double(P);
        return double(ce_w) * (out[0] / double(P)) + double(dice_w) * (1.0 - dice_mean);
    }
    const double al = 0.7f, be = 0.3f, ga = 0.75f, sm = 1e-5f;
    double loss = 0;
    for (i64 k = 0; k < K; k++) {
        const double a = I[k] + sm;
        const double d = I[k] + al * (T[k] - I[k]) + be * (Ps[k] - I[k]) + sm;
        const double ti = a / d;
        loss += std::pow(1.0 - ti, ga);
        const double dl_dti = -(ga / double(K)) * std::pow(std::max(1.0 - ti, 1e-12), ga - 1.0);
        c0[k] = dl_dti * (-a * be) / (d * d);
        c1[k] = dl_dti * (d - a * (1.0 - al - be)) / (d * d);
    }
    ce_scale = 0.0;
    return loss / double(K);
}

void test_losses() {
    const i64 P = 2 * 9 * 7;
    for (i64 K : {i64(2), i64(5)}) {
        auto logits = randn(P * K, 2.f);
        std::vector<int> target(P);
        std::uniform_int_distribution<int> d(0, int(K) - 1);
        for (int& t : target) t = d(rng);
        std::vector<float> want(P * K), got = poison(P * K);
        arunet::cpu::softmax_forward(want.data(), logits.data(), P, K);
        emu::launch(k_softmax, kGrid, kBlock256, got.data(), logits.data(), P, K);
        expect_close("softmax K=" + std::to_string(K), got, want, 1e-7, 1e-6);
        for (int dice = 1; dice >= 0; dice--) {
            const std::string what = std::string(dice ? "ce+dice" : "focal tversky") + " K=" + std::to_string(K);
            std::vector<double> ws(arunet::cpu::loss_workspace_doubles(1, K));
            std::vector<float> wgrad(P * K);
            const double wloss = dice ? arunet::cpu::cross_entropy_dice(wgrad.data(), logits.data(), target.data(),
                                                                        ws.data(), P, K, 1, 1.f, 1.f, 1e-5f)
                                      : arunet::cpu::focal_tversky(wgrad.data(), logits.data(), target.data(),
                                                                   ws.data(), P, K, 1, 0.7f, 0.3f, 0.75f, 1e-5f);
            std::vector<float> dl = poison(P * K);
            std::vector<double> ce(P);
            unsigned long long bad = ~0ull;
            emu::launch(k_softmax_ce, kGrid, kBlock256, dl.data(), ce.data(), &bad, logits.data(),
                        (const int*)target.data(), P, K);
            const i64 rpc = 32;
            const dim3 cg = col_grid(K, P, rpc);
            std::vector<Sum4> partial(cg.y * K);
            emu::launch(k_loss_partial, cg, kColBlock, partial.data(), (const float*)dl.data(),
                        (const int*)target.data(), (const double*)ce.data(), P, K, rpc);
            std::vector<double> out(1 + 3 * K);
            emu::launch(k_loss_final, kSmallGrid, kSmallBlock, out.data(), (const Sum4*)partial.data(), i64(cg.y), K);
            std::vector<double> c0, c1;
            double ce_scale = 0;
            const double loss = loss_host(dice, out, P, K, c0, c1, ce_scale);
            emu::launch(k_loss_grad, kGrid, kBlock256, dl.data(), (const int*)target.data(), (const double*)c0.data(),
                        (const double*)c1.data(), P, K, ce_scale);
            expect_true(what + " no invalid target", bad == ~0ull);
            expect_close(what + " loss", std::vector<double>{loss}, std::vector<double>{wloss}, 1e-12, 1e-9);
            expect_close(what + " gradient", dl, wgrad, 1e-8, 1e-5);
        }
        // an invalid target is reported as the smallest bad pixel index
        auto bad_target = target;
        bad_target[P - 3] = int(K);
        bad_target[17] = -1;
        std::vector<float> dl(P * K);
        std::vector<double> ce(P);
        unsigned long long bad = ~0ull;
        emu::launch(k_softmax_ce, kGrid, kBlock256, dl.data(), ce.data(), &bad, logits.data(),
                    (const int*)bad_target.data(), P, K);
        expect_true("invalid target found at its first index", bad == 17ull);
    }
}

void test_convert() {
    const i64 M = 33, C = 7;
    auto x = randn(M * C, 3.f);
    x[5] = 70000.f;   // beyond half's range: rounds to +inf
    x[6] = 1e-8f;     // half subnormal range
    std::vector<__half> h(M * C);
    std::vector<__nv_bfloat16> bf(M * C);
    emu::launch(k_to_half, kGrid, kBlock256, h.data(), x.data(), M * C);
    emu::launch(k_to_bf16, kGrid, kBlock256, bf.data(), x.data(), M * C);
    std::vector<float> hv(M * C), bv(M * C), hw(M * C), bw(M * C);
    for (i64 i = 0; i < M * C; i++) {
        hv[i] = __half2float(h[i]);
        bv[i] = __bfloat162float(bf[i]);
        hw[i] = __half2float(__float2half_rn(x[i]));
        bw[i] = __bfloat162float(__float2bfloat16_rn(x[i]));
    }
    expect_close("to half", hv, hw, 0, 0);
    expect_close("to bf16", bv, bw, 0, 0);
    expect_true("half overflow is inf", std::isinf(hv[5]));
    auto b = randn(C);
    std::vector<float> y = poison(M * C), want(M * C);
    for (i64 i = 0; i < M * C; i++) want[i] = hw[i] + b[i % C];
    emu::launch(k_half_to_f32_bias, kGrid, kBlock256, y.data(), (const __half*)h.data(), (const float*)b.data(), M, C);
    expect_close("half to f32 + bias", y, want, 0, 0);
    emu::launch(k_half_to_f32_bias, kSmallGrid, kSmallBlock, y.data(), (const __half*)h.data(), (const float*)nullptr,
                M, C);
    expect_close("half to f32", y, hw, 0, 0);
    for (i64 i = 0; i < M * C; i++) want[i] = bw[i] + b[i % C];
    emu::launch(k_bf16_to_f32_bias, kGrid, kBlock256, y.data(), (const __nv_bfloat16*)bf.data(),
                (const float*)b.data(), M, C);
    expect_close("bf16 to f32 + bias", y, want, 0, 0);
    auto z = x;
    for (i64 i = 0; i < M * C; i++) want[i] = x[i] + b[i % C];
    emu::launch(k_bias_add, kGrid, kBlock256, z.data(), (const float*)b.data(), M, C);
    expect_close("bias add", z, want, 0, 0);

    // weights OIHW <-> OHWI, incl. grouped shapes (I = in / groups) and 1x1
    for (auto dims : {std::array<i64, 4>{5, 3, 3, 3}, std::array<i64, 4>{4, 1, 7, 7}, std::array<i64, 4>{6, 9, 1, 1},
                      std::array<i64, 4>{2, 4, 3, 5}}) {
        const i64 O = dims[0], I = dims[1], KH = dims[2], KW = dims[3];
        auto w = randn(O * I * KH * KW);
        std::vector<float> ohwi(w.size()), want_ohwi(w.size());
        for (i64 o = 0; o < O; o++)
            for (i64 i = 0; i < I; i++)
                for (i64 kh = 0; kh < KH; kh++)
                    for (i64 kw = 0; kw < KW; kw++)
                        want_ohwi[((o * KH + kh) * KW + kw) * I + i] = w[((o * I + i) * KH + kh) * KW + kw];
        emu::launch(k_oihw_to_ohwi, kGrid, kBlock256, (void*)ohwi.data(), w.data(), O, I, KH, KW, 0);
        const std::string shape = std::to_string(O) + "x" + std::to_string(I) + "x" + std::to_string(KH) + "x" +
                                  std::to_string(KW);
        expect_close("oihw -> ohwi f32 " + shape, ohwi, want_ohwi, 0, 0);
        std::vector<float> back = poison(w.size());
        emu::launch(k_ohwi_to_oihw, kSmallGrid, kSmallBlock, back.data(), (const void*)ohwi.data(), O, I, KH, KW, 0);
        expect_close("ohwi -> oihw f32 " + shape, back, w, 0, 0);
        std::vector<__half> oh(w.size());
        emu::launch(k_oihw_to_ohwi, kGrid, kBlock256, (void*)oh.data(), w.data(), O, I, KH, KW, 1);
        std::vector<float> ohv(w.size()), ohw(w.size());
        for (std::size_t i = 0; i < w.size(); i++) {
            ohv[i] = __half2float(oh[i]);
            ohw[i] = __half2float(__float2half_rn(want_ohwi[i]));
        }
        expect_close("oihw -> ohwi f16 " + shape, ohv, ohw, 0, 0);
        std::vector<__nv_bfloat16> ob(w.size());
        emu::launch(k_oihw_to_ohwi, kGrid, kBlock256, (void*)ob.data(), w.data(), O, I, KH, KW, 2);
        emu::launch(k_ohwi_to_oihw, kGrid, kBlock256, back.data(), (const void*)ob.data(), O, I, KH, KW, 2);
        std::vector<float> wb(w.size());
        for (std::size_t i = 0; i < w.size(); i++) wb[i] = __bfloat162float(__float2bfloat16_rn(w[i]));
        expect_close("bf16 round trip " + shape, back, wb, 0, 0);
    }
}

/** Every float4 twin against its scalar kernel, bitwise (Note [vectorized kernels]). */
void test_vectorized() {
    const i64 N = 2, H = 5, W = 6, C = 12, C4 = C / 4, M = N * H * W;
    auto f4 = [](std::vector<float>& v) { return reinterpret_cast<float4*>(v.data()); };
    auto cf4 = [](const std::vector<float>& v) { return reinterpret_cast<const float4*>(v.data()); };
    auto x = randn(M * C), b = randn(M * C), w = randn(N * C), beta = randn(C), coef = randn(3 * C);
    auto y = randn(M * C), dy = randn(M * C), mean = randn(C);
    // the vectors need 16-byte alignment: std::vector<float> gives at least that on x86-64 glibc
    std::vector<float> s1(M * C), v1 = poison(M * C);
    emu::launch(k_add, kGrid, kBlock256, s1.data(), x.data(), b.data(), M * C);
    emu::launch(k_add4, kGrid, kBlock256, f4(v1), cf4(x), cf4(b), M * C / 4);
    expect_close("add4 = add", v1, s1, 0, 0);
    emu::launch(k_mul, kGrid, kBlock256, s1.data(), x.data(), b.data(), M * C);
    emu::launch(k_mul4, kSmallGrid, kSmallBlock, f4(v1), cf4(x), cf4(b), M * C / 4);
    expect_close("mul4 = mul", v1, s1, 0, 0);
    emu::launch(k_mul_channel, kGrid, kBlock256, s1.data(), x.data(), w.data(), N, H * W, C);
    emu::launch(k_mul_channel4, kGrid, dim3(96), f4(v1), cf4(x), cf4(w), N, H * W, C4);
    expect_close("mul_channel4 = mul_channel", v1, s1, 0, 0);
    for (int relu = 0; relu < 2; relu++) {
        const std::string tag = relu ? " relu" : "";
        emu::launch(k_bn_apply, kGrid, kBlock256, s1.data(), x.data(), (const float*)coef.data(), beta.data(), M, C, relu);
        v1 = poison(M * C);
        emu::launch(k_bn_apply4, kGrid, kBlock256, f4(v1), cf4(x), (const float*)coef.data(), cf4(beta), M, C4, relu);
        expect_close("bn_apply4 = bn_apply" + tag, v1, s1, 0, 0);
        emu::launch(k_bn_bwd_apply, kGrid, kBlock256, s1.data(), dy.data(), x.data(), (const float*)y.data(),
                    (const float*)mean.data(), (const float*)coef.data(), M, C, relu);
        v1 = poison(M * C);
        emu::launch(k_bn_bwd_apply4, kSmallGrid, kSmallBlock, f4(v1), cf4(dy), cf4(x), relu ? cf4(y) : nullptr,
                    cf4(mean), (const float*)coef.data(), M, C4, relu);
        expect_close("bn_bwd_apply4 = bn_bwd_apply" + tag, v1, s1, 0, 0);
    }
    std::vector<__half> hs(M * C), hv(M * C);
    std::vector<__nv_bfloat16> bs(M * C), bv(M * C);
    emu::launch(k_to_half, kGrid, kBlock256, hs.data(), x.data(), M * C);
    emu::launch(k_to_half4, kGrid, kBlock256, reinterpret_cast<Half4*>(hv.data()), cf4(x), M * C / 4);
    emu::launch(k_to_bf16, kGrid, kBlock256, bs.data(), x.data(), M * C);
    emu::launch(k_to_bf16_4, kGrid, kBlock256, reinterpret_cast<Bf164*>(bv.data()), cf4(x), M * C / 4);
    bool same = true;
    for (i64 i = 0; i < M * C; i++) {
        same &= __half2float(hs[i]) == __half2float(hv[i]) && __bfloat162float(bs[i]) == __bfloat162float(bv[i]);
    }
    expect_true("to_half4 = to_half, to_bf16_4 = to_bf16", same);
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        const std::string tag = with_bias ? " + bias" : "";
        const float* bias = with_bias ? beta.data() : nullptr;
        emu::launch(k_half_to_f32_bias, kGrid, kBlock256, s1.data(), (const __half*)hs.data(), bias, M, C);
        v1 = poison(M * C);
        emu::launch(k_half_to_f32_bias4, kGrid, kBlock256, f4(v1), reinterpret_cast<const Half4*>(hs.data()),
                    with_bias ? cf4(beta) : nullptr, M, C4);
        expect_close("half_to_f32_bias4 = half_to_f32_bias" + tag, v1, s1, 0, 0);
        emu::launch(k_bf16_to_f32_bias, kGrid, kBlock256, s1.data(), (const __nv_bfloat16*)bs.data(), bias, M, C);
        v1 = poison(M * C);
        emu::launch(k_bf16_to_f32_bias4, kSmallGrid, kSmallBlock, f4(v1), reinterpret_cast<const Bf164*>(bs.data()),
                    with_bias ? cf4(beta) : nullptr, M, C4);
        expect_close("bf16_to_f32_bias4 = bf16_to_f32_bias" + tag, v1, s1, 0, 0);
    }
    auto z1 = x, z2 = x;
    emu::launch(k_bias_add, kGrid, kBlock256, z1.data(), (const float*)beta.data(), M, C);
    emu::launch(k_bias_add4, kGrid, kBlock256, f4(z2), cf4(beta), M, C4);
    expect_close("bias_add4 = bias_add", z2, z1, 0, 0);
    // resampling and concatenation
    std::vector<float> u1(4 * M * C), u2 = poison(4 * M * C);
    emu::launch(k_upsample_fwd, kGrid, kBlock256, u1.data(), x.data(), N, H, W, C);
    emu::launch(k_upsample_fwd4, kGrid, kBlock256, f4(u2), cf4(x), N, H, W, C4);
    expect_close("upsample_fwd4 = upsample_fwd", u2, u1, 0, 0);
    auto g = randn(4 * M * C);
    v1 = poison(M * C);
    emu::launch(k_upsample_bwd, kGrid, kBlock256, s1.data(), g.data(), N, H, W, C);
    emu::launch(k_upsample_bwd4, kSmallGrid, kSmallBlock, f4(v1), cf4(g), N, H, W, C4);
    expect_close("upsample_bwd4 = upsample_bwd", v1, s1, 0, 0);
    const i64 Cb = 8;
    auto bb = randn(M * Cb);
    std::vector<float> c1(M * (C + Cb)), c2 = poison(M * (C + Cb));
    emu::launch(k_concat, kGrid, kBlock256, c1.data(), x.data(), bb.data(), M, C, Cb);
    emu::launch(k_concat4, kGrid, kBlock256, f4(c2), cf4(x), cf4(bb), M, C4, Cb / 4);
    expect_close("concat4 = concat", c2, c1, 0, 0);
    std::vector<float> da = poison(M * C), db = poison(M * Cb);
    emu::launch(k_split4, kGrid, kBlock256, f4(da), f4(db), cf4(c1), M, C4, Cb / 4);
    expect_close("split4 a", da, x, 0, 0);
    expect_close("split4 b", db, bb, 0, 0);
}


/** Reads a buffer of dtype code d (kF32, kF16, kBF16) as floats. */
std::vector<float> as_floats(const void* p, int d, std::size_t n) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; i++) v[i] = load_as(p, d, i64(i));
    return v;
}

/**
 * The convolution epilogue (Note [convolution epilogue]) against the unfused kernels it replaces, bit for
 * bit: bias (or the half-to-float conversion with bias), k_bn_apply with k_bn_eval_coef's rows, k_act_fwd,
 * k_add, k_mul; scalar and float4 kernels, both grids, F32 / F16 / BF16 sources, and the F32 source read in
 * place. Then the casting upsample and concatenation against k_upsample_fwd / k_concat + k_to_half.
 */
void test_epilogue() {
    const i64 N = 2, H = 3, W = 5, C = 8, M = N * H * W, n = M * C;
    auto f4 = [](std::vector<float>& v) { return reinterpret_cast<float4*>(v.data()); };
    auto cf4 = [](const std::vector<float>& v) { return reinterpret_cast<const float4*>(v.data()); };
    auto x = randn(n, 2.f), b = randn(C), old = randn(n), m = randn(n), a = randn(n);
    auto gamma = randn(C), beta = randn(C), rm = randn(C), rv = randn(C, 0.3f, 1.f);
    for (float& v : rv) v = std::fabs(v);
    std::vector<float> coef(3 * C);
    emu::launch(k_bn_eval_coef, kSmallGrid, kSmallBlock, coef.data(), (const float*)gamma.data(),
                (const float*)rm.data(), (const float*)rv.data(), C, 1e-5f);
    std::vector<__half> xh(n);
    std::vector<__nv_bfloat16> xb(n);
    for (i64 i = 0; i < n; i++) {
        xh[i] = __float2half_rn(x[i]);
        xb[i] = __float2bfloat16_rn(x[i]);
    }
    const void* sources[3] = {x.data(), xh.data(), xb.data()};
    struct Chain {
        const char* name;
        std::vector<int> steps;
    };
    const std::vector<Chain> chains = {
        {"none", {}},
        {"bn relu", {kEpiAffine, kEpiRelu}},
        {"bn relu sum", {kEpiAffine, kEpiRelu, kEpiSum}},
        {"bn mul add", {kEpiAffine, kEpiMul, kEpiAdd}},
        {"gelu bn add", {kEpiGelu, kEpiAffine, kEpiAdd}},
        {"bn sigmoid", {kEpiAffine, kEpiSigmoid}},
        {"sum relu", {kEpiSum, kEpiRelu}},
    };
    for (int d = 0; d < 3; d++) {
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            const float* bias = with_bias ? b.data() : nullptr;
            for (const Chain& ch : chains) {
                // the unfused reference
                std::vector<float> t = poison(n);
                if (d == kF32) {
                    t = x;
                    if (bias) emu::launch(k_bias_add, kGrid, kBlock256, t.data(), bias, M, C);
                } else if (d == kF16) {
                    emu::launch(k_half_to_f32_bias, kGrid, kBlock256, t.data(), (const __half*)xh.data(), bias, M, C);
                } else {
                    emu::launch(k_bf16_to_f32_bias, kGrid, kBlock256, t.data(), (const __nv_bfloat16*)xb.data(), bias,
                                M, C);
                }
                int prog = 0, shift = 0, k = 0;
                const float* ops[4] = {nullptr, nullptr, nullptr, nullptr};
                bool mulDone = false;
                for (int st : ch.steps) {
                    prog |= st << shift;
                    shift += 4;
                    switch (st) {
                        case kEpiAffine:
                            emu::launch(k_bn_apply, kGrid, kBlock256, t.data(), (const float*)t.data(),
                                        (const float*)coef.data(), (const float*)beta.data(), M, C, 0);
                            ops[k++] = coef.data();
                            ops[k++] = beta.data();
                            break;
                        case kEpiRelu: emu::launch(k_act_fwd, kGrid, kBlock256, t.data(), (const float*)t.data(), int(kActRelu), n); break;
                        case kEpiGelu: emu::launch(k_act_fwd, kGrid, kBlock256, t.data(), (const float*)t.data(), int(kActGelu), n); break;
                        case kEpiSigmoid: emu::launch(k_act_fwd, kGrid, kBlock256, t.data(), (const float*)t.data(), int(kActSigmoid), n); break;
                        case kEpiSum: emu::launch(k_add, kGrid, kBlock256, t.data(), (const float*)t.data(), (const float*)old.data(), n); break;
                        case kEpiMul:
                            emu::launch(k_mul, kGrid, kBlock256, t.data(), (const float*)t.data(), (const float*)m.data(), n);
                            ops[k++] = m.data();
                            mulDone = true;
                            break;
                        case kEpiAdd:
                            emu::launch(k_add, kGrid, kBlock256, t.data(), (const float*)t.data(), (const float*)a.data(), n);
                            ops[k++] = a.data();
                            break;
                    }
                }
                (void)mulDone;
                const std::string tag = std::string(" ") + ch.name + (d == 0 ? " f32" : d == 1 ? " f16" : " bf16") +
                                        (with_bias ? " +bias" : "");
                std::vector<float> y = old;
                emu::launch(k_epilogue, kGrid, kBlock256, y.data(), sources[d], d, bias, M, C, prog, ops[0], ops[1],
                            ops[2], ops[3]);
                expect_close("epilogue" + tag, y, t, 0, 0);
                y = old;
                emu::launch(k_epilogue4, kSmallGrid, kSmallBlock, y.data(), sources[d], d, bias, M, C / 4, prog, ops[0],
                            ops[1], ops[2], ops[3]);
                expect_close("epilogue4" + tag, y, t, 0, 0);
                bool hasSum = false;
                for (int st : ch.steps) hasSum |= st == kEpiSum;
                if (d == kF32 && !hasSum) {  // the F32 convolution's output read and written in place
                    y = x;
                    emu::launch(k_epilogue4, kGrid, kBlock256, y.data(), (const void*)y.data(), d, bias, M, C / 4,
                                prog, ops[0], ops[1], ops[2], ops[3]);
                    expect_close("epilogue4 in place" + tag, y, t, 0, 0);
                    y = x;
                    emu::launch(k_epilogue, kSmallGrid, kSmallBlock, y.data(), (const void*)y.data(), d, bias, M, C,
                                prog, ops[0], ops[1], ops[2], ops[3]);
                    expect_close("epilogue in place" + tag, y, t, 0, 0);
                }
            }
        }
    }

    // casting upsample and concatenation
    std::vector<float> up(4 * n);
    emu::launch(k_upsample_fwd, kGrid, kBlock256, up.data(), (const float*)x.data(), N, H, W, C);
    const i64 Cb = 4;
    auto xb2 = randn(M * Cb);
    std::vector<float> cat(M * (C + Cb));
    emu::launch(k_concat, kGrid, kBlock256, cat.data(), (const float*)x.data(), (const float*)xb2.data(), M, C, Cb);
    for (int d = 0; d < 3; d++) {
        const std::string tag = d == 0 ? " f32" : d == 1 ? " f16" : " bf16";
        auto rounded = [d](std::vector<float> v) {
            for (float& e : v) e = d == kF16 ? __half2float(__float2half_rn(e)) : d == kBF16 ? __bfloat162float(__float2bfloat16_rn(e)) : e;
            return v;
        };
        std::vector<float> buf = poison(4 * n);  // 4 n floats hold 4 n halves too
        emu::launch(k_upsample_cvt, kGrid, kBlock256, (void*)buf.data(), (const float*)x.data(), N, H, W, C, d);
        expect_close("upsample_cvt" + tag, as_floats(buf.data(), d, 4 * n), rounded(up), 0, 0);
        buf = poison(4 * n);
        emu::launch(k_upsample_cvt4, kSmallGrid, kSmallBlock, (void*)buf.data(), cf4(x), N, H, W, C / 4, d);
        expect_close("upsample_cvt4" + tag, as_floats(buf.data(), d, 4 * n), rounded(up), 0, 0);
        std::vector<float> cb = poison(M * (C + Cb));
        emu::launch(k_concat_cvt, kGrid, kBlock256, (void*)cb.data(), (const float*)x.data(), (const float*)xb2.data(),
                    M, C, Cb, d);
        expect_close("concat_cvt" + tag, as_floats(cb.data(), d, M * (C + Cb)), rounded(cat), 0, 0);
        cb = poison(M * (C + Cb));
        emu::launch(k_concat_cvt4, kGrid, kBlock256, (void*)cb.data(), cf4(x), cf4(xb2), M, C / 4, Cb / 4, d);
        expect_close("concat_cvt4" + tag, as_floats(cb.data(), d, M * (C + Cb)), rounded(cat), 0, 0);
    }
    (void)f4;
}
}  // namespace

int main() {
    omp_set_num_threads(1);
    test_pointwise();
    test_activations();
    test_adam_sums();
    test_maxpool();
    test_resample();
    test_channel_and_global_pooling();
    test_batchnorm();
    test_losses();
    test_convert();
    test_vectorized();
    test_epilogue();
    std::printf("%d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
