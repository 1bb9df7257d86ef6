/* probe_plot.c: probe.png, the Figure 4 plot (probe_internal.h, fce_probe_plot).
 *
 * A 640×440 RGB canvas, rasterised here: white background; plot area with grey grid lines at
 * accuracy 0, 0.1, …, 1 (labelled 0.0 … 1.0 on the left) and a vertical grid line at each label
 * budget (labelled under the axis); x is log10(labels) over [k_min/1.5, k_max·1.5], y is the
 * accuracy over [0, 1]. Each method is a polyline (Bresenham, 4 pixels wide for the first method,
 * 2 for the others, so coinciding curves stay visible) in its colour with square markers
 * (11, 9, 7 pixels); NaN accuracies are skipped (the line joins the points on either side). A legend
 * box (colour swatch + name) sits in the lower right, the title above the plot. Text uses a 3×5
 * bitmap font (digits, '.', ',', ':', '-', '=', ' ' and the capital letters), drawn at 2× scale;
 * lower-case letters are drawn as capitals. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fce/image_io.h"
#include "fce/log.h"
#include "probe/probe_internal.h"

#define PW 640
#define PH 440
#define X0 70  /* plot area: [X0, X1] × [Y0, Y1] (y grows downwards) */
#define X1 620
#define Y0 40
#define Y1 380
#define FONT_SCALE 2

typedef struct canvas {
    unsigned char *rgb;
    int w, h;
} canvas;

static const unsigned char WHITE[3] = {255, 255, 255}, BLACK[3] = {0, 0, 0},
                           GRID[3] = {220, 220, 220};
static const unsigned char COLOURS[][3] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189}};

static void put(canvas *c, int x, int y, const unsigned char *col) {
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    memcpy(c->rgb + ((size_t)y * c->w + x) * 3, col, 3);
}

static void rect(canvas *c, int x0, int y0, int x1, int y1, const unsigned char *col) {
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) put(c, x, y, col);
}

/* Bresenham from (x0, y0) to (x1, y1), `thick` pixels wide (a square brush). */
static void line(canvas *c, int x0, int y0, int x1, int y1, int thick, const unsigned char *col) {
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
        rect(c, x0 - thick / 2, y0 - thick / 2, x0 + (thick - 1) / 2, y0 + (thick - 1) / 2, col);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * err;
        if (e2 >= dy) err += dy, x0 += sx;
        if (e2 <= dx) err += dx, y0 += sy;
    }
}

/* 3×5 glyphs: five rows of three bits, the top row in the high bits. */
static unsigned glyph(char ch) {
    static const struct {
        char c;
        unsigned bits;
    } G[] = {
        {'0', 075557}, {'1', 026227}, {'2', 071747}, {'3', 071717}, {'4', 055711}, {'5', 074717},
        {'6', 074757}, {'7', 071111}, {'8', 075757}, {'9', 075717}, {'.', 000002}, {',', 000012},
        {':', 002020}, {'-', 000700}, {'=', 007070}, {'A', 025755}, {'B', 065656}, {'C', 034443},
        {'D', 065556}, {'E', 074647}, {'F', 074644}, {'G', 034553}, {'H', 055755}, {'I', 072227},
        {'J', 011152}, {'K', 055655}, {'L', 044447}, {'M', 057755}, {'N', 065555}, {'O', 025552},
        {'P', 065644}, {'Q', 025573}, {'R', 065655}, {'S', 034216}, {'T', 072222}, {'U', 055557},
        {'V', 055552}, {'W', 055775}, {'X', 055255}, {'Y', 055222}, {'Z', 071247}, {'(', 012221},
        {')', 042224}, {'/', 011244}};
    ch = (char)toupper((unsigned char)ch);
    for (size_t i = 0; i < sizeof G / sizeof G[0]; i++)
        if (G[i].c == ch) return G[i].bits;
    return 0; /* space and anything unknown */
}

static int text_width(const char *s) { return (int)strlen(s) * 4 * FONT_SCALE - FONT_SCALE; }

static void text(canvas *c, int x, int y, const char *s, const unsigned char *col) {
    for (; *s; s++, x += 4 * FONT_SCALE) {
        unsigned g = glyph(*s);
        for (int r = 0; r < 5; r++)
            for (int q = 0; q < 3; q++)
                if ((g >> (14 - (r * 3 + q))) & 1u)
                    rect(c, x + q * FONT_SCALE, y + r * FONT_SCALE, x + q * FONT_SCALE + FONT_SCALE - 1,
                         y + r * FONT_SCALE + FONT_SCALE - 1, col);
    }
}

fce_status fce_probe_plot(const char *path, const char *title, const int *k, int n_k,
                          const double *const *acc, const char *const *names, int n_methods) {
    FCE_ASSERT(n_k >= 1 && n_methods >= 0 && n_methods <= 5, "probe plot: %d budgets, %d methods",
               n_k, n_methods);
    canvas c = {malloc((size_t)PW * PH * 3), PW, PH};
    if (!c.rgb) {
        fce_log_error("probe plot: out of host memory");
        return FCE_STATUS_ERR_NOMEM;
    }
    rect(&c, 0, 0, PW - 1, PH - 1, WHITE);
    double lo = log10((double)k[0] / 1.5), hi = log10((double)k[n_k - 1] * 1.5);
    int xs[64];
    for (int i = 0; i < n_k && i < 64; i++)
        xs[i] = X0 + (int)lround((log10((double)k[i]) - lo) / (hi - lo) * (X1 - X0));
    char buf[64];
    for (int t = 0; t <= 10; t++) { /* horizontal grid and accuracy ticks */
        int y = Y1 - (int)lround(t / 10.0 * (Y1 - Y0));
        line(&c, X0, y, X1, y, 1, GRID);
        snprintf(buf, sizeof buf, "%d.%d", t / 10, t % 10);
        text(&c, X0 - 8 - text_width(buf), y - 5, buf, BLACK);
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
        rect(&c, bx0, by0, bx1, by1, WHITE);
        line(&c, bx0, by0, bx1, by0, 1, BLACK);
        line(&c, bx0, by1, bx1, by1, 1, BLACK);
        line(&c, bx0, by0, bx0, by1, 1, BLACK);
        line(&c, bx1, by0, bx1, by1, 1, BLACK);
        for (int m = 0; m < n_methods; m++) {
            int y = by0 + 10 + 18 * m;
            line(&c, bx0 + 8, y + 5, bx0 + 30, y + 5, 2, COLOURS[m]);
            rect(&c, bx0 + 16, y + 2, bx0 + 22, y + 8, COLOURS[m]);
            text(&c, bx0 + 38, y, names[m], BLACK);
        }
    }
    fce_status st = fce_image_write_rgb(path, c.rgb, PW, PH);
    free(c.rgb);
    return st;
}
