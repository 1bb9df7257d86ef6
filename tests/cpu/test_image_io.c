/* test_image_io.c: image_io.h (PNG, or the PPM fallback of a build without libpng) and
 * density_png.h (Figure 1 rows, grid points, histograms). Files are written to the working
 * directory (build/tests under ctest) with a test_image_io_ prefix and left there for inspection. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/data2d.h"
#include "fce/density_png.h"
#include "fce/image_io.h"
#include "fce/philox.h"
#include "fce_test.h"
#include "test_util.h"

/* The file fce_image_write_rgb really creates for "<stem>.png". */
#ifdef FCE_HAVE_PNG
#define WRITTEN(stem) stem ".png"
#else
#define WRITTEN(stem) stem ".ppm"
#endif

static int file_starts_with(const char *path, const void *magic, size_t n) {
    unsigned char buf[16];
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t got = fread(buf, 1, n, f);
    fclose(f);
    return got == n && memcmp(buf, magic, n) == 0;
}

static int write_bytes(const char *path, const unsigned char *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(b, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* Known pixels: every byte distinct enough to catch transposes and channel swaps. */
static void fill_pattern(unsigned char *rgb, int w, int h) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned char *p = rgb + ((size_t)y * w + x) * 3;
            p[0] = (unsigned char)(x * 17 + y);
            p[1] = (unsigned char)(y * 29 + 3 * x);
            p[2] = (unsigned char)((x ^ y) * 7 + 128);
        }
}

TEST(roundtrip) {
    enum { W = 13, H = 7 };
    unsigned char px[W * H * 3];
    fill_pattern(px, W, H);
    ASSERT_OK(fce_image_write_rgb("test_image_io_rt.png", px, W, H));
#ifdef FCE_HAVE_PNG
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    ASSERT_TRUE(file_starts_with("test_image_io_rt.png", sig, 8));
#else
    fprintf(stderr, "  built without libpng: testing the PPM fallback instead of PNG\n");
    ASSERT_TRUE(file_starts_with("test_image_io_rt.ppm", "P6", 2));
#endif
    FILE *tmp = fopen(WRITTEN("test_image_io_rt") ".tmp", "rb");
    ASSERT_TRUE(tmp == NULL); /* renamed away */
    unsigned char *back = NULL;
    int w = 0, h = 0;
    ASSERT_OK(fce_image_read_rgb("test_image_io_rt.png", &back, &w, &h));
    ASSERT_EQ_INT(w, W);
    ASSERT_EQ_INT(h, H);
    ASSERT_TRUE(memcmp(back, px, sizeof px) == 0);
    free(back);
    /* Overwriting an existing file works (rename over it). */
    px[0] ^= 0xFF;
    ASSERT_OK(fce_image_write_rgb("test_image_io_rt.png", px, W, H));
    ASSERT_OK(fce_image_read_rgb("test_image_io_rt.png", &back, &w, &h));
    ASSERT_TRUE(memcmp(back, px, sizeof px) == 0);
    free(back);
    return 0;
}

/* A hand-written PPM (with a header comment) is readable in every build. */
TEST(read_ppm) {
    const unsigned char file[] = "P6\n# comment\n2 1\n255\n\x01\x02\x03\xfd\xfe\xff";
    ASSERT_TRUE(write_bytes("test_image_io_hand.ppm", file, sizeof file - 1));
    unsigned char *rgb = NULL;
    int w = 0, h = 0;
    ASSERT_OK(fce_image_read_rgb("test_image_io_hand.ppm", &rgb, &w, &h));
    ASSERT_EQ_INT(w, 2);
    ASSERT_EQ_INT(h, 1);
    const unsigned char want[6] = {1, 2, 3, 0xfd, 0xfe, 0xff};
    ASSERT_TRUE(memcmp(rgb, want, 6) == 0);
    free(rgb);
    /* Truncated pixel data and an unsupported maxval are format errors. */
    ASSERT_TRUE(write_bytes("test_image_io_trunc.ppm", file, sizeof file - 3));
    fprintf(stderr, "  (errors about truncated / maxval / missing / corrupt files are expected)\n");
    ASSERT_EQ_INT(fce_image_read_rgb("test_image_io_trunc.ppm", &rgb, &w, &h),
                  FCE_STATUS_ERR_FORMAT);
    ASSERT_TRUE(rgb == NULL);
    const unsigned char deep[] = "P6 1 1 65535\n\x00\x01\x00\x02\x00\x03";
    ASSERT_TRUE(write_bytes("test_image_io_deep.ppm", deep, sizeof deep - 1));
    ASSERT_EQ_INT(fce_image_read_rgb("test_image_io_deep.ppm", &rgb, &w, &h),
                  FCE_STATUS_ERR_FORMAT);
    return 0;
}

TEST(missing_and_corrupt) {
    unsigned char sentinel = 7, *rgb = &sentinel;
    int w = 0, h = 0;
    remove(WRITTEN("test_image_io_missing"));
    fce_status st = fce_image_read_rgb("test_image_io_missing.png", &rgb, &w, &h);
    ASSERT_TRUE(st != FCE_STATUS_OK);
    ASSERT_TRUE(rgb == NULL);
    /* Random bytes (seeded; first byte 0 so it is neither a PNG signature nor "P6"). */
    unsigned char junk[512];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(fce_philox_uniform(99, i) * 256.0f);
    junk[0] = 0;
    ASSERT_TRUE(write_bytes("test_image_io_corrupt.ppm", junk, sizeof junk));
    ASSERT_EQ_INT(fce_image_read_rgb("test_image_io_corrupt.ppm", &rgb, &w, &h),
                  FCE_STATUS_ERR_FORMAT);
    ASSERT_TRUE(rgb == NULL);
    /* An empty file too. */
    ASSERT_TRUE(write_bytes("test_image_io_empty.ppm", junk, 0));
    ASSERT_EQ_INT(fce_image_read_rgb("test_image_io_empty.ppm", &rgb, &w, &h),
                  FCE_STATUS_ERR_FORMAT);
#ifdef FCE_HAVE_PNG
    /* A PNG signature followed by junk, and a real PNG cut in half. */
    memcpy(junk, "\x89PNG\r\n\x1a\n", 8);
    ASSERT_TRUE(write_bytes("test_image_io_badsig.png", junk, sizeof junk));
    ASSERT_EQ_INT(fce_image_read_rgb("test_image_io_badsig.png", &rgb, &w, &h),
                  FCE_STATUS_ERR_FORMAT);
    enum { W = 64, H = 64 };
    unsigned char *px = malloc(W * H * 3);
    ASSERT_TRUE(px);
    for (int i = 0; i < W * H * 3; i++) px[i] = (unsigned char)(fce_philox_uniform(5, i) * 256.0f);
    ASSERT_OK(fce_image_write_rgb("test_image_io_full.png", px, W, H));
    free(px);
    FILE *f = fopen("test_image_io_full.png", "rb");
    ASSERT_TRUE(f);
    unsigned char buf[20000];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    ASSERT_TRUE(n > 1000 && n < sizeof buf);
    ASSERT_TRUE(write_bytes("test_image_io_half.png", buf, n / 2));
    ASSERT_EQ_INT(fce_image_read_rgb("test_image_io_half.png", &rgb, &w, &h),
                  FCE_STATUS_ERR_FORMAT);
    ASSERT_TRUE(rgb == NULL);
#endif
    /* Writing into a directory that does not exist is an I/O (or PNG) error naming the file. */
    unsigned char one[3] = {1, 2, 3};
    st = fce_image_write_rgb("test_image_io_no_such_dir/x.png", one, 1, 1);
    ASSERT_TRUE(st == FCE_STATUS_ERR_IO || st == FCE_STATUS_ERR_PNG);
    return 0;
}

TEST(grid_points) {
    enum { R = 8 };
    float xy[R * R * 2];
    fce_density_grid_points(R, 4.0f, xy);
    /* cell = 1: (r, c) -> (−3.5 + c, 3.5 − r). */
    for (int r = 0; r < R; r++)
        for (int c = 0; c < R; c++) {
            ASSERT_NEAR(xy[2 * (r * R + c)], -3.5 + c, 1e-6);
            ASSERT_NEAR(xy[2 * (r * R + c) + 1], 3.5 - r, 1e-6);
        }
    /* One point per cell -> every cell has density 1/(n·cell²) = 1/64. */
    float lp[R * R];
    fce_density_histogram_logp(xy, R * R, R, 4.0f, lp);
    for (int k = 0; k < R * R; k++) ASSERT_NEAR(lp[k], log(1.0 / 64.0), 1e-6);
    /* A single point at (−3.9, 3.9) lands top-left; at (3.9, −3.9) bottom-right. */
    const float corner[4] = {-3.9f, 3.9f, 3.9f, -3.9f};
    fce_density_histogram_logp(corner, 1, R, 4.0f, lp);
    ASSERT_NEAR(lp[0], 0.0, 1e-6);
    fce_density_histogram_logp(corner + 2, 1, R, 4.0f, lp);
    ASSERT_NEAR(lp[R * R - 1], 0.0, 1e-6);
    ASSERT_TRUE(lp[0] == -INFINITY);
    return 0;
}

/* Σ exp(logp)·cell² equals the fraction of points inside the box. */
TEST(histogram_integrates) {
    enum { N = 100000, R = 50 };
    const float box = 3.0f; /* cuts part of gmm8 (radius 2.83) off */
    float *xy = fce_test_alloc(2 * N), *lp = fce_test_alloc(R * R);
    fce_data2d_sample(FCE_DATA2D_GMM8, xy, N, 42, 0);
    fce_density_histogram_logp(xy, N, R, box, lp);
    double cell = 2.0 * box / R, mass = 0.0;
    for (int k = 0; k < R * R; k++) mass += exp((double)lp[k]) * cell * cell;
    size_t inside = 0;
    for (size_t i = 0; i < N; i++)
        inside += fabsf(xy[2 * i]) <= box && fabsf(xy[2 * i + 1]) <= box;
    fprintf(stderr, "  histogram mass %.6f, fraction inside %.6f\n", mass, (double)inside / N);
    ASSERT_TRUE(inside < N && inside > N / 2);
    ASSERT_NEAR(mass, (double)inside / N, 1e-5);
    free(xy);
    free(lp);
    return 0;
}

/* Three panels of gmm8 (histogram, true density, a pinwheel histogram) at res 64: the picture has
 * the documented size, white gaps, dark empty cells and a bright maximum. Also writes a res-256
 * version of the same row for a human to look at. */
TEST(density_png) {
    enum { N = 200000 };
    const float box = 4.0f;
    float *xy = fce_test_alloc(2 * N);
    const int sizes[2] = {64, 256};
    for (int t = 0; t < 2; t++) {
        int res = sizes[t];
        size_t cells = (size_t)res * res;
        float *grid = fce_test_alloc(2 * cells), *p0 = fce_test_alloc(cells);
        float *p1 = fce_test_alloc(cells), *p2 = fce_test_alloc(cells);
        fce_data2d_sample(FCE_DATA2D_GMM8, xy, N, 1, 0);
        fce_density_histogram_logp(xy, N, res, box, p0);
        fce_density_grid_points(res, box, grid);
        for (size_t k = 0; k < cells; k++)
            p1[k] = (float)fce_data2d_log_density(FCE_DATA2D_GMM8, grid[2 * k], grid[2 * k + 1]);
        fce_data2d_sample(FCE_DATA2D_PINWHEEL, xy, N, 1, 0);
        fce_density_histogram_logp(xy, N, res, box, p2);
        p2[0] = NAN; /* non-finite values render as density 0 */
        const float *panels[3] = {p0, p1, p2};
        const char *titles[3] = {"DATA", "Gmm8 (true)", "PINWHEEL 200K"};
        const char *path = t == 0 ? "test_image_io_fig1_small.png" : "test_image_io_fig1.png";
        ASSERT_OK(fce_density_png_write(path, res, box, panels, titles, 3));
        int ew, eh, w, h;
        fce_density_png_size(res, 3, &ew, &eh);
        unsigned char *rgb = NULL;
        ASSERT_OK(fce_image_read_rgb(path, &rgb, &w, &h));
        ASSERT_EQ_INT(w, ew);
        ASSERT_EQ_INT(h, eh);
        ASSERT_EQ_INT(w, 3 * res + 4 * 4);
        /* Bottom-row pixels: the left gap is white; panel 1's corner (density ~0) is dark. */
        const unsigned char *gap = rgb + ((size_t)(h - 8) * w + 1) * 3;
        ASSERT_TRUE(gap[0] == 255 && gap[1] == 255 && gap[2] == 255);
        const unsigned char *corner = rgb + ((size_t)(h - 8) * w + 4 + res + 4 + 1) * 3;
        ASSERT_TRUE(corner[0] < 80 && corner[1] < 30 && corner[2] > 60); /* viridis(0) purple */
        /* Panel 1 at the centre (2√2, 0) -> column 3/4·res + ..., brightest: viridis(1) yellow. */
        int col = 4 + res + 4 + (int)((2.8284 + box) / (2 * box) * res);
        int row = h - 4 - res + res / 2;
        const unsigned char *peak = rgb + ((size_t)row * w + col) * 3;
        ASSERT_TRUE(peak[0] > 180 && peak[1] > 180 && peak[2] < 120);
        /* Title pixels exist (dark) in the band above panel 0. */
        int dark = 0;
        for (int y = 0; y < h - res - 8; y++)
            for (int x = 4; x < 4 + res; x++) dark += rgb[((size_t)y * w + x) * 3] < 100;
        ASSERT_TRUE(dark > 20);
        free(rgb);
        free(grid);
        free(p0);
        free(p1);
        free(p2);
    }
    free(xy);
    return 0;
}

FCE_TEST_MAIN_BEGIN
RUN_TEST(roundtrip);
RUN_TEST(read_ppm);
RUN_TEST(missing_and_corrupt);
RUN_TEST(grid_points);
RUN_TEST(histogram_integrates);
RUN_TEST(density_png);
FCE_TEST_MAIN_END
