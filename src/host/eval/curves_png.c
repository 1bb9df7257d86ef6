/* curves_png.c: curves.png from metrics.jsonl (curves_png.h), drawn on the plot canvas. */
#include "eval/curves_png.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "eval/metrics_log.h"
#include "eval/plot_canvas.h"
#include "fce/log.h"

#define PANEL_W 300
#define PANEL_H 150
#define MARGIN_L 88 /* y labels: up to 14 characters */
#define MARGIN_R 16
#define MARGIN_T 16 /* the panel's name */
#define MARGIN_B 22 /* x labels */
#define TITLE_H 20
#define CELL_W (MARGIN_L + PANEL_W + MARGIN_R)
#define CELL_H (MARGIN_T + PANEL_H + MARGIN_B)
#define MAX_CURVES 16
#define MARKERS_UP_TO 40 /* points drawn as squares too when the curve has at most this many */

static const unsigned char INK[3] = {30, 30, 30}, FRAME[3] = {170, 170, 170}, LINE[3] = {31, 119, 180};

/* The finite values' range of column v (of log10 v when log_y); 0 when there is none. */
static int value_range(const double *v, size_t n, int log_y, double *lo, double *hi) {
    *lo = INFINITY, *hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) continue;
        double y = log_y ? log10(v[i]) : v[i];
        *lo = y < *lo ? y : *lo;
        *hi = y > *hi ? y : *hi;
    }
    if (!(*lo <= *hi)) return 0;
    double pad = 0.05 * (*hi - *lo);
    if (pad <= 1e-12 * (fabs(*hi) + 1)) pad = 0.05 * (fabs(*hi) + 1); /* a flat curve */
    *lo -= pad, *hi += pad;
    return 1;
}

static int all_positive(const double *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]) && v[i] <= 0) return 0;
    return 1;
}

/* The range's labels, with the fewest significant digits (4 at least) that tell them apart. */
static void range_labels(double lo, double hi, char *lo_s, char *hi_s, size_t n) {
    for (int digits = 4; digits <= 12; digits++) {
        snprintf(lo_s, n, "%.*g", digits, lo);
        snprintf(hi_s, n, "%.*g", digits, hi);
        if (strcmp(lo_s, hi_s) != 0) return;
    }
}

/* Panel p of the curve in column v, its frame's top-left corner at (fx, fy). */
static void draw_panel(fce_canvas *cv, int fx, int fy, const fce_curve *cu, const double *step,
                       const double *v, size_t n) {
    char buf[64];
    const int log_y = cu->log_y && all_positive(v, n);
    snprintf(buf, sizeof buf, "%s%s", cu->title ? cu->title : cu->key, log_y ? " (LOG)" : "");
    fce_canvas_text(cv, fx, fy - MARGIN_T + 4, 1, buf, INK);
    fce_canvas_frame(cv, fx - 1, fy - 1, fx + PANEL_W, fy + PANEL_H, FRAME);
    double lo, hi;
    if (!value_range(v, n, log_y, &lo, &hi)) {
        fce_canvas_text_centred(cv, fx, PANEL_W, fy + PANEL_H / 2 - 3, 1, "NO DATA", INK);
        return;
    }
    char lo_s[32];
    range_labels(log_y ? pow(10, lo) : lo, log_y ? pow(10, hi) : hi, lo_s, buf, sizeof lo_s);
    fce_canvas_text_right(cv, fx - 4, fy, 1, buf, INK);
    fce_canvas_text_right(cv, fx - 4, fy + PANEL_H - FCE_FONT_H, 1, lo_s, INK);
    double s0 = step[0], s1 = step[n - 1];
    snprintf(buf, sizeof buf, "%.0f", s0);
    fce_canvas_text(cv, fx, fy + PANEL_H + 5, 1, buf, INK);
    snprintf(buf, sizeof buf, "%.0f", s1);
    fce_canvas_text_right(cv, fx + PANEL_W - 1, fy + PANEL_H + 5, 1, buf, INK);
    fce_canvas_text_centred(cv, fx, PANEL_W, fy + PANEL_H + 5, 1, "STEP", INK);
    int px = 0, py = 0, have = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            have = 0;
            continue;
        }
        double y = log_y ? log10(v[i]) : v[i];
        int x = s1 > s0 ? fx + (int)lround((step[i] - s0) / (s1 - s0) * (PANEL_W - 1)) : fx + PANEL_W / 2;
        int yy = fy + PANEL_H - 1 - (int)lround((y - lo) / (hi - lo) * (PANEL_H - 1));
        if (have) fce_canvas_line(cv, px, py, x, yy, 2, LINE);
        if (n <= MARKERS_UP_TO) fce_canvas_rect(cv, x - 2, yy - 2, x + 2, yy + 2, LINE);
        px = x, py = yy, have = 1;
    }
}

fce_status fce_curves_png_write(const char *metrics_path, const char *png_path, const char *title,
                                const fce_curve *curves, int n_curves) {
    FCE_ASSERT(n_curves >= 1 && n_curves <= MAX_CURVES, "%d curves", n_curves);
    const char *keys[MAX_CURVES];
    for (int k = 0; k < n_curves; k++) keys[k] = curves[k].key;
    fce_metrics_columns m;
    FCE_TRY(fce_metrics_read(metrics_path, keys, n_curves, &m));
    const int cols = n_curves > 1 ? 2 : 1, rows = (n_curves + cols - 1) / cols;
    fce_canvas cv;
    fce_status st = fce_canvas_init(&cv, cols * CELL_W, TITLE_H + rows * CELL_H, png_path);
    if (st == FCE_STATUS_OK) {
        if (title) fce_canvas_text_centred(&cv, 0, cv.w, 7, 1, title, INK);
        for (int k = 0; k < n_curves; k++) {
            int fx = (k % cols) * CELL_W + MARGIN_L, fy = TITLE_H + (k / cols) * CELL_H + MARGIN_T;
            if (m.n) draw_panel(&cv, fx, fy, &curves[k], m.step, m.value[k], m.n);
            else draw_panel(&cv, fx, fy, &curves[k], NULL, NULL, 0);
        }
        st = fce_canvas_write(&cv, png_path);
    }
    fce_canvas_free(&cv);
    fce_metrics_columns_free(&m);
    return st;
}
