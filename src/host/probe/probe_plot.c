/* probe_plot.c: probe.png, the Figure 4 plot (probe_internal.h, fce_probe_plot).
 *
 * A 640×440 RGB canvas, rasterised here: white background; plot area with grey grid lines at
 * accuracy 0, 0.1, …, 1 (labelled 0.0 … 1.0 on the left) and a vertical grid line at each label
 * budget (labelled under the axis); x is log10(labels) over [k_min/1.5, k_max·1.5], y is the
 * accuracy over [0, 1]. Each method is a polyline (Bresenham, 4 pixels wide for the first method,
 * 2 for the others, so coinciding curves stay visible) in its colour with square markers
 * (11, 9, 7 pixels); NaN accuracies are skipped (the line joins the points on either side). A legend
 * box (colour swatch + name) sits in the lower right, the title above the plot. Text uses the plot
 * canvas's 5×7 bitmap font (eval/plot_canvas.h) at 2× scale; lower-case letters are drawn as
 * capitals. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "eval/plot_canvas.h"
#include "fce/log.h"
#include "probe/probe_internal.h"

#define PW 640
#define PH 440
#define X0 70  /* plot area: [X0, X1] × [Y0, Y1] (y grows downwards) */
#define X1 620
#define Y0 40
#define Y1 380
#define FONT_SCALE 2
#define TEXT_H (FCE_FONT_H * FONT_SCALE)

static const unsigned char BLACK[3] = {0, 0, 0}, GRID[3] = {220, 220, 220};
static const unsigned char COLOURS[][3] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189}};

static int text_width(const char *s) { return fce_canvas_text_width(s, FONT_SCALE); }

static void text(fce_canvas *c, int x, int y, const char *s, const unsigned char *col) {
    fce_canvas_text(c, x, y, FONT_SCALE, s, col);
}

static void line(fce_canvas *c, int x0, int y0, int x1, int y1, int thick, const unsigned char *col) {
    fce_canvas_line(c, x0, y0, x1, y1, thick, col);
}

static void rect(fce_canvas *c, int x0, int y0, int x1, int y1, const unsigned char *col) {
    fce_canvas_rect(c, x0, y0, x1, y1, col);
}

fce_status fce_probe_plot(const char *path, const char *title, const int *k, int n_k,
                          const double *const *acc, const char *const *names, int n_methods) {
    FCE_ASSERT(n_k >= 1 && n_methods >= 0 && n_methods <= 5, "probe plot: %d budgets, %d methods",
               n_k, n_methods);
    fce_canvas c;
    FCE_TRY(fce_canvas_init(&c, PW, PH, path));
    double lo = log10((double)k[0] / 1.5), hi = log10((double)k[n_k - 1] * 1.5);
    int xs[64];
    for (int i = 0; i < n_k && i < 64; i++)
        xs[i] = X0 + (int)lround((log10((double)k[i]) - lo) / (hi - lo) * (X1 - X0));
    char buf[64];
    for (int t = 0; t <= 10; t++) { /* horizontal grid and accuracy ticks */
        int y = Y1 - (int)lround(t / 10.0 * (Y1 - Y0));
        line(&c, X0, y, X1, y, 1, GRID);
        snprintf(buf, sizeof buf, "%d.%d", t / 10, t % 10);
        text(&c, X0 - 8 - text_width(buf), y - TEXT_H / 2, buf, BLACK);
    }
    for (int i = 0; i < n_k && i < 64; i++) { /* vertical grid and label ticks */
        line(&c, xs[i], Y0, xs[i], Y1, 1, GRID);
        line(&c, xs[i], Y1, xs[i], Y1 + 5, 1, BLACK);
        snprintf(buf, sizeof buf, "%d", k[i]);
        text(&c, xs[i] - text_width(buf) / 2, Y1 + 10, buf, BLACK);
    }
    line(&c, X0, Y0, X0, Y1, 2, BLACK); /* axes */
    line(&c, X0, Y1, X1, Y1, 2, BLACK);
    text(&c, (X0 + X1 - text_width("LABELS (LOG SCALE)")) / 2, Y1 + 34, "LABELS (LOG SCALE)", BLACK);
    text(&c, 8, Y0 - 28, "TEST ACC", BLACK);
    if (title) text(&c, (X0 + X1 - text_width(title)) / 2, 10, title, BLACK);
    for (int m = 0; m < n_methods; m++) {
        const unsigned char *col = COLOURS[m];
        int px = -1, py = -1;
        /* earlier methods are drawn wider, so coinciding curves stay visible */
        const int thick = m == 0 ? 4 : 2, half = 5 - m;
        for (int i = 0; i < n_k && i < 64; i++) {
            double a = acc[m][i];
            if (!isfinite(a)) continue;
            a = a < 0 ? 0 : a > 1 ? 1 : a;
            int y = Y1 - (int)lround(a * (Y1 - Y0));
            if (px >= 0) line(&c, px, py, xs[i], y, thick, col);
            px = xs[i], py = y;
        }
        for (int i = 0; i < n_k && i < 64; i++) {
            double a = acc[m][i];
            if (!isfinite(a)) continue;
            a = a < 0 ? 0 : a > 1 ? 1 : a;
            int y = Y1 - (int)lround(a * (Y1 - Y0));
            rect(&c, xs[i] - half, y - half, xs[i] + half, y + half, col);
        }
    }
    if (n_methods > 0) { /* legend, lower right of the plot area */
        int lw = 0;
        for (int m = 0; m < n_methods; m++)
            if (text_width(names[m]) > lw) lw = text_width(names[m]);
        int bx1 = X1 - 10, bx0 = bx1 - lw - 44, by1 = Y1 - 10, by0 = by1 - 18 * n_methods - 10;
        static const unsigned char WHITE[3] = {255, 255, 255};
        rect(&c, bx0, by0, bx1, by1, WHITE);
        fce_canvas_frame(&c, bx0, by0, bx1, by1, BLACK);
        for (int m = 0; m < n_methods; m++) {
            int y = by0 + 10 + 18 * m;
            line(&c, bx0 + 8, y + 6, bx0 + 30, y + 6, 2, COLOURS[m]);
            rect(&c, bx0 + 16, y + 3, bx0 + 22, y + 9, COLOURS[m]);
            text(&c, bx0 + 38, y, names[m], BLACK);
        }
    }
    fce_status st = fce_canvas_write(&c, path);
    fce_canvas_free(&c);
    return st;
}
