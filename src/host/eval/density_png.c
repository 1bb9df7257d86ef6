/* density_png.c: paper Figure 1 rows as pictures, grid points and sample histograms
 * (density_png.h).
 *
 * A panel pixel is viridis(exp(logp − max logp)): the linear density relative to the panel's
 * maximum, so each model is shown on its own scale as in the paper. Viridis is the degree-6
 * polynomial fit of matplotlib's table (max error ≈ 1/255 per channel), so no 256-entry table is
 * needed. Titles use a 5×7 bitmap font (one byte per row, bit 4 = leftmost column). */
#include "fce/density_png.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fce/image_io.h"
#include "fce/log.h"

#define FCE_DPNG_GAP 4
#define FCE_DPNG_MAX_PANELS 64
#define FCE_DPNG_MAX_HIST_POINTS ((size_t)1 << 24) /* float counts stay exact */

// ---- font ----

typedef struct fce_glyph {
    char c;
    unsigned char rows[7];
} fce_glyph;

static const fce_glyph fce_font5x7[] = {
    {' ', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}},
    {'A', {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'B', {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}},
    {'C', {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}},
    {'D', {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}},
    {'E', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}},
    {'F', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}},
    {'G', {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}},
    {'H', {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'I', {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'J', {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}},
    {'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}},
    {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}},
    {'M', {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}},
    {'N', {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}},
    {'O', {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'P', {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}},
    {'Q', {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}},
    {'R', {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}},
    {'S', {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}},
    {'T', {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
    {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}},
    {'W', {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}},
    {'X', {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}},
    {'Y', {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04}},
    {'Z', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}},
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}},
    {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}},
    {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}},
    {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}},
    {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}},
    {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'-', {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}},
    {',', {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08}},
    {':', {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}},
    {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}},
    {'=', {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00}},
    {'+', {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}},
    {'/', {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}},
    {'_', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F}},
    {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}},
    {'#', {0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A}},
    {'?', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04}},
    {'!', {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04}},
    {'*', {0x00, 0x04, 0x15, 0x0E, 0x15, 0x04, 0x00}},
    {'[', {0x0E, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0E}},
    {']', {0x0E, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0E}},
    {'\'', {0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00}},
};

static const unsigned char *glyph_rows(char c) {
    if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
    const unsigned char *unknown = NULL;
    for (size_t i = 0; i < sizeof fce_font5x7 / sizeof fce_font5x7[0]; i++) {
        if (fce_font5x7[i].c == c) return fce_font5x7[i].rows;
        if (fce_font5x7[i].c == '?') unknown = fce_font5x7[i].rows;
    }
    return unknown;
}

static int font_scale(int res) {
    int s = res / 128;
    return s < 1 ? 1 : (s > 4 ? 4 : s);
}

/* Draws text centred in columns [x0, x0 + span) with its top at row y0, cut to fit. */
static void draw_text(unsigned char *img, int img_w, int x0, int span, int y0, int s,
                      const char *text) {
    int adv = 6 * s; /* 5 columns of glyph + 1 of spacing */
    int n = (int)strlen(text), fit = (span + s) / adv;
    if (n > fit) n = fit;
    if (n <= 0) return;
    int x = x0 + (span - (n * adv - s)) / 2;
    for (int i = 0; i < n; i++, x += adv) {
        const unsigned char *rows = glyph_rows(text[i]);
        for (int gy = 0; gy < 7 * s; gy++) {
            for (int gx = 0; gx < 5 * s; gx++) {
                if (!(rows[gy / s] & (0x10 >> (gx / s)))) continue;
                size_t at = ((size_t)(y0 + gy) * (size_t)img_w + (size_t)(x + gx)) * 3;
                unsigned char *px = img + at;
                px[0] = px[1] = px[2] = 30;
            }
        }
    }
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

// ---- public API ----

void fce_density_png_size(int res, int n_panels, int *width, int *height) {
    FCE_ASSERT(res >= 1 && n_panels >= 1, "res %d, n_panels %d", res, n_panels);
    *width = n_panels * res + (n_panels + 1) * FCE_DPNG_GAP;
    *height = FCE_DPNG_GAP + 7 * font_scale(res) + FCE_DPNG_GAP + res + FCE_DPNG_GAP;
}

fce_status fce_density_png_write(const char *path, int res, float box,
                                 const float *const *panels_logp, const char *const *titles,
                                 int n_panels) {
    FCE_ASSERT(path && panels_logp, "NULL path or panels");
    FCE_ASSERT(res >= 1 && res <= 8192, "panel resolution %d", res);
    FCE_ASSERT(n_panels >= 1 && n_panels <= FCE_DPNG_MAX_PANELS, "n_panels %d", n_panels);
    (void)box; /* the extent is implied by the grid the caller evaluated; kept for the contract */
    int w, h, s = font_scale(res);
    fce_density_png_size(res, n_panels, &w, &h);
    size_t bytes = (size_t)w * (size_t)h * 3;
    unsigned char *img = malloc(bytes);
    if (!img) {
        fce_log_error("out of memory rendering %s (%zu bytes)", path, bytes);
        return FCE_STATUS_ERR_NOMEM;
    }
    memset(img, 255, bytes);
    int top = FCE_DPNG_GAP + 7 * s + FCE_DPNG_GAP;
    size_t cells = (size_t)res * (size_t)res;
    for (int p = 0; p < n_panels; p++) {
        const float *lp = panels_logp[p];
        FCE_ASSERT(lp, "NULL panel %d", p);
        int x0 = FCE_DPNG_GAP + p * (res + FCE_DPNG_GAP);
        double m = -INFINITY;
        for (size_t k = 0; k < cells; k++)
            if (isfinite(lp[k]) && lp[k] > m) m = lp[k];
        for (int r = 0; r < res; r++) {
            for (int c = 0; c < res; c++) {
                float l = lp[(size_t)r * (size_t)res + (size_t)c];
                double v = (isfinite(l) && isfinite(m)) ? exp((double)l - m) : 0.0;
                viridis(v, img + ((size_t)(top + r) * (size_t)w + (size_t)(x0 + c)) * 3);
            }
        }
        if (titles && titles[p]) draw_text(img, w, x0, res, FCE_DPNG_GAP, s, titles[p]);
    }
    fce_status st = fce_image_write_rgb(path, img, w, h);
    free(img);
    return st;
}

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
