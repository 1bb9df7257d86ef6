/* plot_canvas.h: the small RGB canvas the project's pictures are drawn on (density.png, curves.png,
 * probe.png): filled rectangles, lines of a given thickness, and text in a 5×7 bitmap font at an
 * integer scale, all clipped at the canvas edge; written with fce_image_write_rgb (PNG, or PPM in a
 * build without libpng).
 *
 * Coordinates are pixels, x to the right and y downwards, (0, 0) the top-left pixel; rectangles
 * include both corners. The font has A–Z, 0–9, space and - . , : ( ) = + / _ % # ? ! * [ ] ' < >;
 * lower case is drawn as upper case and any other character as '?'. A glyph is 5·s × 7·s pixels
 * and text advances 6·s per character. */
#ifndef FCE_PLOT_CANVAS_H
#define FCE_PLOT_CANVAS_H

#include "fce/status.h"

typedef struct fce_canvas {
    unsigned char *rgb; /* (h, w, 3), row 0 at the top */
    int w, h;
} fce_canvas;

/* A white w×h canvas; FCE_STATUS_ERR_NOMEM (logged, naming what) when it cannot be allocated. */
fce_status fce_canvas_init(fce_canvas *c, int w, int h, const char *what);
void fce_canvas_free(fce_canvas *c);
/* The pixel at (x, y), NULL outside the canvas. */
unsigned char *fce_canvas_px(fce_canvas *c, int x, int y);
void fce_canvas_rect(fce_canvas *c, int x0, int y0, int x1, int y1, const unsigned char col[3]);
/* The outline of the rectangle, one pixel wide. */
void fce_canvas_frame(fce_canvas *c, int x0, int y0, int x1, int y1, const unsigned char col[3]);
/* Bresenham from (x0, y0) to (x1, y1) with a square brush `thick` pixels wide. */
void fce_canvas_line(fce_canvas *c, int x0, int y0, int x1, int y1, int thick, const unsigned char col[3]);

#define FCE_FONT_H 7 /* glyph height at scale 1 */
int fce_canvas_text_width(const char *s, int scale);
/* Text with its top-left corner at (x, y). */
void fce_canvas_text(fce_canvas *c, int x, int y, int scale, const char *s, const unsigned char col[3]);
/* Text centred in columns [x0, x0 + span), cut to the characters that fit. */
void fce_canvas_text_centred(fce_canvas *c, int x0, int span, int y, int scale, const char *s,
                             const unsigned char col[3]);
/* Right-aligned: the text ends at column x_right. */
void fce_canvas_text_right(fce_canvas *c, int x_right, int y, int scale, const char *s,
                           const unsigned char col[3]);

fce_status fce_canvas_write(const fce_canvas *c, const char *path);

#endif
