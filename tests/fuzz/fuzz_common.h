/* fuzz_common.h: what every libFuzzer harness of tests/fuzz shares. The readers take paths, so each
 * input is written to a file in a private scratch folder (on /dev/shm when there is one) and the
 * reader is called on it; checkpoint harnesses also get one CPU backend context for the process.
 *
 * Expect-reject mode: with FCE_FUZZ_EXPECT_REJECT=1 in the environment a harness aborts when a
 * reader ACCEPTS its input. tests/fuzz/run.sh sets it for the regression inputs under
 * regress/<harness>/reject/ (files every hardened reader must refuse: truncated, bytes flipped).
 * Header peeks (fce_iglow_ckpt_peek, fce_ebm_image_file_n_bits) are exempt: they read no blob. */
#ifndef FCE_FUZZ_COMMON_H
#define FCE_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "fce/backend.h"
#include "fce/status.h"

/* "<scratch folder>/<name>": the folder is made on first use, once per process; the returned
 * buffer is static and stays valid. Aborts when no folder can be made (not a finding). */
const char *fuzz_path(const char *name);
/* fuzz_path(name) made as a folder (if it is not one yet); returns the path. */
const char *fuzz_dir(const char *name);
/* Writes the input to fuzz_path(name) and returns that path; aborts on I/O failure. */
const char *fuzz_write(const char *name, const uint8_t *data, size_t size);
/* Checkpoint inputs: when the last 24 bytes are an integrity trailer (formats/ckpt_io.h: "FCECRC32",
 * content length, CRC-32), rewrites its length and CRC to match the bytes before it, so a mutation
 * of the content is parsed past the integrity check (the range checks behind it are what the
 * fuzzer should reach); a mutation that breaks the trailer itself still tests the check. */
void fuzz_fix_trailer(uint8_t *p, size_t n);
/* fuzz_write for a checkpoint: the trailer repaired as above, except in expect-reject mode, where
 * regress/<harness>/reject/ files (truncated, flipped bytes) must reach the reader as they are. */
const char *fuzz_write_checkpoint(const char *name, const uint8_t *data, size_t size);
/* The process's CPU backend context (made on first use). */
fce_ctx *fuzz_cpu_ctx(void);
/* In expect-reject mode, aborts (a crash libFuzzer reports, with `what` named) when st is OK. */
void fuzz_expect_reject(fce_status st, const char *what);
/* Aborts with a message: a harness setup step that must not fail (not a finding in the reader). */
void fuzz_check_setup(fce_status st, const char *what);

#endif
