/* density_png.h: one row of paper Figure 1 (data | flow | EBM densities) as a single picture.
 *
 * Coordinates: a panel covers [−box, box]² with res×res cells of side 2·box/res. Everything here is
 * row-major with row 0 at the top (y = +box − cell/2) and column 0 at the left (x = −box + cell/2):
 * cell (r, c) has centre x = −box + (c + ½)·cell, y = box − (r + ½)·cell and flat index r·res + c.
 *
 * Picture layout (GAP = 4 white pixels, font scale s = clamp(res / 128, 1, 4), glyphs 5×7·s):
 *   width  = n_panels·res + (n_panels + 1)·GAP
 *   height = GAP + 7·s + GAP + res + GAP          (title band above the panels)
 * Panels are separated by GAP white columns. Each panel shows exp(logp) divided by the panel's
 * maximum through a viridis colormap (dark purple = 0, yellow = the maximum); non-finite logp is
 * density 0. Titles are drawn with the 5×7 bitmap font of the plot canvas (eval/plot_canvas.h: A–Z,
 * 0–9, space and - . , : ( ) = + / _ % # ? ! * [ ] ' < >), lowercase shown as uppercase, other
 * characters as '?', centred and cut to the panel width. The file is written with
 * fce_image_write_rgb (PNG, or PPM without libpng).
 *
 * The figure training writes (density.png, fce_density_figure_write) adds a caption line above the
 * titles (the run's step and MSEs) and axes: ticks at −box, −box/2, 0, box/2 and box under every
 * panel and left of the first, labelled with the coordinate (%g). With th = 7·s, TICK = 3·s and
 * lw the width of the widest tick label (6·s per character − s):
 *   left   = GAP + lw + 2 + TICK                (the y labels; the first panel starts here)
 *   width  = left + n_panels·res + (n_panels − 1)·GAP + GAP
 *   height = GAP + th + GAP + th + GAP + res + TICK + 2 + th + GAP   (caption, titles, panels, x labels) */
#ifndef FCE_DENSITY_PNG_H
#define FCE_DENSITY_PNG_H

#include <stddef.h>

#include "fce/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Picture size fce_density_png_write produces for res ≥ 1 and n_panels ≥ 1 (formula above). */
void fce_density_png_size(int res, int n_panels, int *width, int *height);

/* Writes the n_panels (1..64) panels side by side to path. panels_logp[p] is a (res, res)
 * row-major array of natural-log densities in the cell order above; titles may be NULL (no
 * text) or hold n_panels strings (NULL entries allowed). Returns FCE_STATUS_OK, or the status of
 * fce_image_write_rgb (ERR_IO / ERR_PNG, logged), or FCE_STATUS_ERR_NOMEM. */
fce_status fce_density_png_write(const char *path, int res, float box,
                                 const float *const *panels_logp /* n_panels × (res, res) */,
                                 const char *const *titles /* n_panels, or NULL */, int n_panels);

/* Picture size fce_density_figure_write produces (formula above). */
void fce_density_figure_size(int res, float box, int n_panels, int *width, int *height);

/* The panels as fce_density_png_write draws them, with axes and, when caption is not NULL, the
 * caption centred above the titles (cut to the width). Same returns. */
fce_status fce_density_figure_write(const char *path, int res, float box,
                                    const float *const *panels_logp /* n_panels × (res, res) */,
                                    const char *const *titles, int n_panels, const char *caption);

/* Cell-centre coordinates in the cell order above: xy[2k] = x, xy[2k+1] = y for k = r·res + c.
 * Evaluate a model on these points to get a panel's logp. */
void fce_density_grid_points(int res, float box, float *xy /* (res·res, 2) */);

/* Log-histogram density of n samples on the same grid: logp_out[k] = log(count_k / (n·cell²)),
 * −INFINITY for empty cells (and for all cells when n = 0). Points outside [−box, box]² (or
 * non-finite) are not counted but still count in n, so Σ exp(logp)·cell² = fraction inside.
 * Counts are accumulated in logp_out itself (no allocation): n ≤ 2^24 (asserted). */
void fce_density_histogram_logp(const float *xy /* (n, 2) */, size_t n, int res, float box,
                                float *logp_out /* (res, res) */);

#ifdef __cplusplus
}
#endif
#endif
