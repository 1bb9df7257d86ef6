/* emu_runner.cpp: the case runner of the emulated-kernel test (emu_runner.h): buffer
 * descriptions, guard-zoned host memory, the ulp comparison and run_case. */
#include "emu_runner.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "emu_cuda.h"

namespace emu_test {

// ---------------------------------------------------------------- buffers

static size_t esize(Ty t) { return t == Ty::U8 ? 1 : 4; }

static Buf fbuf(const char *name, Role r, const std::vector<float> &v, Tol t) {
    Buf b;
    b.name = name;
    b.role = r;
    b.tol = t;
    b.n = v.size();
    b.init.resize(v.size() * 4);
    if (!v.empty()) std::memcpy(b.init.data(), v.data(), b.init.size());
    return b;
}
Buf in(const char *name, const std::vector<float> &v) { return fbuf(name, Role::IN, v, EXACT); }
Buf out(const char *name, size_t n, Tol t) {
    return fbuf(name, Role::OUT, std::vector<float>(n, -777.25f), t);
}
Buf inout(const char *name, const std::vector<float> &v, Tol t) {
    return fbuf(name, Role::INOUT, v, t);
}
Buf nul(const char *name) {
    Buf b;
    b.name = name;
    b.role = Role::NUL;
    return b;
}
Buf alias(const char *name, int of) {
    Buf b;
    b.name = name;
    b.role = Role::ALIAS;
    b.of = of;
    return b;
}
Buf in_i32(const char *name, const std::vector<int32_t> &v) {
    Buf b;
    b.name = name;
    b.ty = Ty::I32;
    b.n = v.size();
    b.init.resize(v.size() * 4);
    if (!v.empty()) std::memcpy(b.init.data(), v.data(), b.init.size());
    return b;
}
Buf u8buf(const char *name, Role r, const std::vector<uint8_t> &v) {
    Buf b;
    b.name = name;
    b.ty = Ty::U8;
    b.role = r;
    b.n = v.size();
    b.init.assign(v.begin(), v.end());
    return b;
}

/* Host memory with guard zones on both sides. */
constexpr size_t GUARD = 64;
constexpr unsigned char GUARD_BYTE = 0xA5;
struct Mem {
    std::vector<unsigned char> raw;
    size_t bytes = 0;
    explicit Mem(const std::vector<unsigned char> &init) : raw(init.size() + 2 * GUARD, GUARD_BYTE),
                                                           bytes(init.size()) {
        if (!init.empty()) std::memcpy(raw.data() + GUARD, init.data(), init.size());
    }
    unsigned char *p() { return raw.data() + GUARD; }
    bool guards_ok() const {
        for (size_t i = 0; i < GUARD; i++)
            if (raw[i] != GUARD_BYTE || raw[GUARD + bytes + i] != GUARD_BYTE) return false;
        return true;
    }
};

// ---------------------------------------------------------------- comparison

static int64_t ordered(float x) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    return (u & 0x80000000u) ? -(int64_t)(u & 0x7fffffffu) : (int64_t)u;
}
static bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }
static bool close(float got, float ref, Tol t) {
    if (same_bits(got, ref) || (std::isnan(got) && std::isnan(ref))) return true;
    if (std::isnan(got) || std::isnan(ref) || std::isinf(got) || std::isinf(ref)) return false;
    if (std::fabs((double)got - (double)ref) <= t.abs) return true;
    int64_t d = ordered(got) - ordered(ref);
    return (d < 0 ? -d : d) <= t.ulps;
}


int g_failures = 0, g_cases = 0;
long g_inexact = 0;
int64_t g_inexact_max = 0;
bool g_verbose = false, g_break = false, g_broken_done = false;
const char *g_only = nullptr;
Rng rng{20240601};


static void fail(const std::string &label, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fail(const std::string &label, const char *fmt, ...) {
    std::printf("FAIL %s: ", label.c_str());
    va_list ap;
    va_start(ap, fmt);
    std::vprintf(fmt, ap);
    va_end(ap);
    std::printf("\n");
}

void run_case(const std::string &label, std::vector<Buf> bufs, const CudaFn &cuda, const RefFn &ref,
              fce_status expect, bool may_launch) {
    if (g_only && label.find(g_only) == std::string::npos) return;
    g_cases++;
    int bad = 0;
    std::vector<Mem> mg, mr;
    mg.reserve(bufs.size());
    mr.reserve(bufs.size());
    for (auto &b : bufs) {
        mg.emplace_back(b.init);
        mr.emplace_back(b.init);
    }
    Ptrs pg(bufs.size(), nullptr), pr(bufs.size(), nullptr);
    for (size_t i = 0; i < bufs.size(); i++) {
        if (bufs[i].role == Role::NUL) continue;
        if (bufs[i].role == Role::ALIAS) {
            pg[i] = pg[bufs[i].of];
            pr[i] = pr[bufs[i].of];
            continue;
        }
        pg[i] = mg[i].p();
        pr[i] = mr[i].p();
    }
    const long l0 = emu::launches.load(), v0 = emu::violations.load();
    fce_status st = cuda(pg);
    const long nl = emu::launches.load() - l0;
    if (st != expect) {
        fail(label, "launcher returned status %d, expected %d", (int)st, (int)expect);
        bad++;
    }
    if (emu::violations.load() != v0) {
        fail(label, "%ld CUDA programming-model violation(s) (see stderr)", emu::violations.load() - v0);
        bad++;
    }
    if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) {
        fail(label, "sticky CUDA error left after the launcher: %s", cudaGetErrorString(e));
        bad++;
    }
    if (!may_launch && nl != 0) {
        fail(label, "%ld kernel launch(es) where none was expected", nl);
        bad++;
    }
    if (g_break && !g_broken_done && label.rfind("scale", 0) == 0) {
        for (size_t i = 0; i < bufs.size(); i++)
            if ((bufs[i].role == Role::OUT || bufs[i].role == Role::INOUT) && bufs[i].n > 0) {
                float *y = static_cast<float *>(pg[i]);
                y[bufs[i].n / 2] = -y[bufs[i].n / 2] + 1.0f;
                std::printf("self-test: corrupted %s[%zu] of %s; this case must FAIL\n",
                            bufs[i].name.c_str(), bufs[i].n / 2, label.c_str());
                g_broken_done = true;
                break;
            }
    }
    if (expect == FCE_STATUS_OK) ref(pr);
    for (size_t i = 0; i < bufs.size(); i++) {
        const Buf &b = bufs[i];
        if (b.role == Role::NUL || b.role == Role::ALIAS) continue;
        if (!mg[i].guards_ok()) {
            fail(label, "out-of-bounds write next to %s (kernel side)", b.name.c_str());
            bad++;
        }
        if (!mr[i].guards_ok()) {
            fail(label, "out-of-bounds write next to %s (reference side)", b.name.c_str());
            bad++;
        }
        const unsigned char *g = mg[i].p(), *r = mr[i].p();
        if (b.role == Role::IN || expect != FCE_STATUS_OK) {
            if (std::memcmp(g, b.init.data(), b.init.size()) != 0) {
                fail(label, "%s was modified by the kernel", b.name.c_str());
                bad++;
            }
            continue;
        }
        size_t nbad = 0, worst = 0;
        double worst_d = -1;
        for (size_t k = 0; k < b.n; k++) {
            bool ok;
            double d;
            if (b.ty == Ty::F32) {
                float x, y;
                std::memcpy(&x, g + 4 * k, 4);
                std::memcpy(&y, r + 4 * k, 4);
                ok = close(x, y, b.tol);
                if (ok && !same_bits(x, y) && !(std::isnan(x) && std::isnan(y))) {
                    int64_t u = ordered(x) - ordered(y);
                    g_inexact++;
                    g_inexact_max = std::max(g_inexact_max, u < 0 ? -u : u);
                }
                d = std::isnan(x) != std::isnan(y) ? INFINITY : std::fabs((double)x - (double)y);
            } else {
                ok = std::memcmp(g + esize(b.ty) * k, r + esize(b.ty) * k, esize(b.ty)) == 0;
                d = ok ? 0 : 1;
            }
            if (!ok) {
                nbad++;
                if (d > worst_d || std::isnan(d)) worst_d = d, worst = k;
            }
        }
        if (nbad) {
            bad++;
            if (b.ty == Ty::F32) {
                float x, y;
                std::memcpy(&x, g + 4 * worst, 4);
                std::memcpy(&y, r + 4 * worst, 4);
                fail(label, "%s: %zu of %zu differ; worst [%zu] kernel %.9g ref %.9g (%" PRId64
                     " ulp; tol %d ulp / %g)", b.name.c_str(), nbad, b.n, worst, (double)x,
                     (double)y, ordered(x) - ordered(y), b.tol.ulps, b.tol.abs);
            } else if (b.ty == Ty::U8) {
                fail(label, "%s: %zu of %zu differ; first [%zu] kernel %u ref %u", b.name.c_str(),
                     nbad, b.n, worst, g[worst], r[worst]);
            } else {
                fail(label, "%s: %zu of %zu differ", b.name.c_str(), nbad, b.n);
            }
        }
    }
    if (bad) g_failures++;
    else if (g_verbose) std::printf("ok   %s (%ld launches)\n", label.c_str(), nl);
}

std::string fmt(const char *f, ...) {
    char b[256];
    va_list ap;
    va_start(ap, f);
    std::vsnprintf(b, sizeof b, f, ap);
    va_end(ap);
    return b;
}

}  // namespace emu_test
