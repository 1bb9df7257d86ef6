/* density_png.c: paper Figure 1 rows as pictures, grid points and sample histograms
 * (density_png.h).
 *
 * A panel pixel is viridis(exp(logp − max logp)): the linear density relative to the panel's
 * maximum, so each model is shown on its own scale as in the paper. Viridis is the degree-6
 * polynomial fit of matplotlib's table (max error ≈ 1/255 per channel), so no 256-entry table is
 * needed. Text and shapes are drawn on the shared canvas (eval/plot_canvas.h). */
#include "fce/density_png.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/plot_canvas.h"
#include "fce/log.h"

#define FCE_DPNG_GAP 4
#define FCE_DPNG_MAX_PANELS 64
#define FCE_DPNG_MAX_HIST_POINTS ((size_t)1 << 24) /* float counts stay exact */

static const unsigned char INK[3] = {30, 30, 30};

static int font_scale(int res) {
    int s = res / 128;
    return s < 1 ? 1 : (s > 4 ? 4 : s);
}

// ---- colormap ----

static unsigned char to_byte(double v) {
    if (!(v > 0.0)) return 0;
    if (v >= 1.0) return 255;
    return (unsigned char)(v * 255.0 + 0.5);
}

/* Viridis, t in [0, 1] (polynomial fit of matplotlib's colormap). */
static void viridis(double t, unsigned char rgb[3]) {
    static const double c[7][3] = {
        {0.2777273272234177, 0.005407344544966578, 0.3340998053353061},
        {0.1050930431085774, 1.404613529898575, 1.384590162594685},
        {-0.3308618287255563, 0.214847559468213, 0.09509516302823659},
        {-4.634230498983486, -5.799100973351585, -19.33244095627987},
        {6.228269936347081, 14.17993336680509, 56.69055260068105},
        {4.776384997670288, -13.74514537774601, -65.35303263337234},
        {-5.435455855934631, 4.645852612178535, 26.3124352495832},
    };
    t = t < 0.0 ? 0.0 : (t > 1.0 ? 1.0 : t);
    for (int ch = 0; ch < 3; ch++) {
        double v = c[6][ch];
        for (int k = 5; k >= 0; k--) v = v * t + c[k][ch];
        rgb[ch] = to_byte(v);
    }
}

// ---- panels ----

/* The panel's densities at (x0, top), res×res pixels. */
static void draw_panel(fce_canvas *cv, int x0, int top, int res, const float *lp) {
    size_t cells = (size_t)res * (size_t)res;
    double m = -INFINITY;
    for (size_t k = 0; k < cells; k++)
        if (isfinite(lp[k]) && lp[k] > m) m = lp[k];
    for (int r = 0; r < res; r++) {
        for (int c = 0; c < res; c++) {
            float l = lp[(size_t)r * (size_t)res + (size_t)c];
            double v = (isfinite(l) && isfinite(m)) ? exp((double)l - m) : 0.0;
            viridis(v, fce_canvas_px(cv, x0 + c, top + r));
        }
    }
}

/* The layout both pictures share: panels of res pixels from column `left`, GAP apart, at row `top`,
 * with their titles GAP + 7·s above. */
typedef struct dpng_layout {
    int res, s, left, top, w, h;
} dpng_layout;

static int panel_x0(const dpng_layout *L, int p) { return L->left + p * (L->res + FCE_DPNG_GAP); }

static fce_status draw(const char *path, const dpng_layout *L, const float *const *panels_logp,
                       const char *const *titles, int n_panels, fce_canvas *cv) {
    FCE_ASSERT(path && panels_logp, "NULL path or panels");
    FCE_ASSERT(L->res >= 1 && L->res <= 8192, "panel resolution %d", L->res);
    FCE_ASSERT(n_panels >= 1 && n_panels <= FCE_DPNG_MAX_PANELS, "n_panels %d", n_panels);
    FCE_TRY(fce_canvas_init(cv, L->w, L->h, path));
    for (int p = 0; p < n_panels; p++) {
        FCE_ASSERT(panels_logp[p], "NULL panel %d", p);
        draw_panel(cv, panel_x0(L, p), L->top, L->res, panels_logp[p]);
        if (titles && titles[p])
            fce_canvas_text_centred(cv, panel_x0(L, p), L->res, L->top - FCE_DPNG_GAP - FCE_FONT_H * L->s,
                                    L->s, titles[p], INK);
    }
    return FCE_STATUS_OK;
}

// ---- the plain row ----

void fce_density_png_size(int res, int n_panels, int *width, int *height) {
    FCE_ASSERT(res >= 1 && n_panels >= 1, "res %d, n_panels %d", res, n_panels);
    *width = n_panels * res + (n_panels + 1) * FCE_DPNG_GAP;
    *height = FCE_DPNG_GAP + FCE_FONT_H * font_scale(res) + FCE_DPNG_GAP + res + FCE_DPNG_GAP;
}

fce_status fce_density_png_write(const char *path, int res, float box,
                                 const float *const *panels_logp, const char *const *titles,
                                 int n_panels) {
    (void)box; /* the extent is implied by the grid the caller evaluated; kept for the contract */
    dpng_layout L = {res, font_scale(res), FCE_DPNG_GAP, 0, 0, 0};
    L.top = FCE_DPNG_GAP + FCE_FONT_H * L.s + FCE_DPNG_GAP;
    fce_density_png_size(res, n_panels, &L.w, &L.h);
    fce_canvas cv = {0};
    fce_status st = draw(path, &L, panels_logp, titles, n_panels, &cv);
    if (st == FCE_STATUS_OK) st = fce_canvas_write(&cv, path);
    fce_canvas_free(&cv);
    return st;
}

// ---- the figure with a caption and axes ----

#define N_TICKS 5 /* at −box, −box/2, 0, box/2, box */

static void tick_label(float box, int i, char *buf, size_t n) {
    snprintf(buf, n, "%g", (double)box * (i - (N_TICKS - 1) / 2) / ((N_TICKS - 1) / 2));
}

/* Pixel offset of tick i along a panel of res pixels. */
static int tick_at(int res, int i) {
    int at = (int)lround((double)i / (N_TICKS - 1) * res);
    return at > res - 1 ? res - 1 : at;
}

static dpng_layout figure_layout(int res, float box, int n_panels) {
    dpng_layout L = {res, font_scale(res), 0, 0, 0, 0};
    const int th = FCE_FONT_H * L.s, tick = 3 * L.s;
    int widest = 0;
    char buf[32];
    for (int i = 0; i < N_TICKS; i++) {
        tick_label(box, i, buf, sizeof buf);
        int w = fce_canvas_text_width(buf, L.s);
        widest = w > widest ? w : widest;
    }
    L.left = FCE_DPNG_GAP + widest + 2 + tick;
    L.top = FCE_DPNG_GAP + th + FCE_DPNG_GAP + th + FCE_DPNG_GAP;
    L.w = L.left + n_panels * res + (n_panels - 1) * FCE_DPNG_GAP + FCE_DPNG_GAP;
    L.h = L.top + res + tick + 2 + th + FCE_DPNG_GAP;
    return L;
}

void fce_density_figure_size(int res, float box, int n_panels, int *width, int *height) {
    FCE_ASSERT(res >= 1 && n_panels >= 1 && box > 0.0f, "res %d, n_panels %d", res, n_panels);
    dpng_layout L = figure_layout(res, box, n_panels);
    *width = L.w;
    *height = L.h;
}

/* Ticks and coordinate labels under every panel and left of the first. The end labels of a panel
 * are aligned inwards, so neighbouring panels' labels never touch. */
static void draw_axes(fce_canvas *cv, const dpng_layout *L, float box, int n_panels) {
    const int s = L->s, th = FCE_FONT_H * s, tick = 3 * s, below = L->top + L->res;
    char buf[32];
    for (int i = 0; i < N_TICKS; i++) {
        tick_label(box, i, buf, sizeof buf);
        int w = fce_canvas_text_width(buf, s), at = tick_at(L->res, i);
        for (int p = 0; p < n_panels; p++) {
            int x = panel_x0(L, p) + at;
            fce_canvas_rect(cv, x, below, x + s - 1, below + tick - 1, INK);
            int tx = i == 0 ? x : i == N_TICKS - 1 ? x - w + s : x - w / 2;
            fce_canvas_text(cv, tx, below + tick + 2, s, buf, INK);
        }
        int y = L->top + L->res - 1 - at; /* the y axis grows upwards */
        fce_canvas_rect(cv, L->left - tick, y, L->left - 1, y + s - 1, INK);
        fce_canvas_text_right(cv, L->left - tick - 3, y - th / 2, s, buf, INK);
    }
}

fce_status fce_density_figure_write(const char *path, int res, float box,
                                    const float *const *panels_logp, const char *const *titles,
                                    int n_panels, const char *caption) {
    FCE_ASSERT(box > 0.0f, "box %g", (double)box);
    dpng_layout L = figure_layout(res, box, n_panels);
    fce_canvas cv = {0};
    fce_status st = draw(path, &L, panels_logp, titles, n_panels, &cv);
    if (st == FCE_STATUS_OK) {
        draw_axes(&cv, &L, box, n_panels);
        if (caption) fce_canvas_text_centred(&cv, L.left, L.w - L.left - FCE_DPNG_GAP, FCE_DPNG_GAP, L.s, caption, INK);
        st = fce_canvas_write(&cv, path);
    }
    fce_canvas_free(&cv);
    return st;
}

// ---- grid points and histograms ----

void fce_density_grid_points(int res, float box, float *xy) {
    FCE_ASSERT(res >= 1 && box > 0.0f && xy, "res %d, box %g", res, (double)box);
    double cell = 2.0 * (double)box / res;
    for (int r = 0; r < res; r++) {
        for (int c = 0; c < res; c++) {
            size_t k = (size_t)r * (size_t)res + (size_t)c;
            xy[2 * k] = (float)(-(double)box + (c + 0.5) * cell);
            xy[2 * k + 1] = (float)((double)box - (r + 0.5) * cell);
        }
    }
}

void fce_density_histogram_logp(const float *xy, size_t n, int res, float box, float *logp_out) {
    FCE_ASSERT(res >= 1 && box > 0.0f && logp_out && (xy || n == 0), "res %d, box %g", res,
               (double)box);
    FCE_ASSERT(n <= FCE_DPNG_MAX_HIST_POINTS, "%zu points: counts are exact floats only up to 2^24",
               n);
    size_t cells = (size_t)res * (size_t)res;
    for (size_t k = 0; k < cells; k++) logp_out[k] = 0.0f; /* counts first, in place */
    double b = box, cell = 2.0 * b / res;
    for (size_t i = 0; i < n; i++) {
        double x = xy[2 * i], y = xy[2 * i + 1];
        if (!(x >= -b && x <= b && y >= -b && y <= b)) continue; /* also drops NaN */
        int c = (int)floor((x + b) / cell), r = (int)floor((b - y) / cell);
        c = c < 0 ? 0 : (c >= res ? res - 1 : c);
        r = r < 0 ? 0 : (r >= res ? res - 1 : r);
        logp_out[(size_t)r * (size_t)res + (size_t)c] += 1.0f;
    }
    double norm = (double)n * cell * cell;
    for (size_t k = 0; k < cells; k++)
        logp_out[k] = logp_out[k] > 0.0f ? (float)log((double)logp_out[k] / norm) : -INFINITY;
}
