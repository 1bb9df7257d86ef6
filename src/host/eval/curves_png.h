/* curves_png.h: curves.png, the training curves of a run drawn from its metrics.jsonl: one panel per
 * quantity (value, accuracy, bits/dim, MSE, ... as the run kind logs them) against the step.
 *
 * Layout: a title line, then the panels in two columns, each PANEL_W × PANEL_H pixels of plot area
 * framed in grey, its name above it, its y range (the finite values' minimum and maximum, padded by
 * 5%) labelled at the top and bottom left of the frame, the first and last step under it. The curve
 * joins consecutive finite values (a null row leaves a gap). A panel with log_y draws log10 of the
 * value when every finite value is > 0 (its labels still show the values) and says "(LOG)". A
 * quantity with no finite value reads "NO DATA". */
#ifndef FCE_CURVES_PNG_H
#define FCE_CURVES_PNG_H

#include "fce/status.h"

typedef struct fce_curve {
    const char *key;   /* the metrics.jsonl field */
    const char *title; /* the panel's name; NULL: the key */
    int log_y;
} fce_curve;

/* Reads metrics_path and writes png_path (PNG, or PPM without libpng). Errors are logged naming
 * the file: FCE_STATUS_ERR_IO, ERR_PNG, ERR_NOMEM. n_curves in 1..16. */
fce_status fce_curves_png_write(const char *metrics_path, const char *png_path, const char *title,
                                const fce_curve *curves, int n_curves);

#endif
