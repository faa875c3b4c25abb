/* SPDX-License-Identifier: MIT */
/*
 * Simulated guest backend (a TEST INSTRUMENT): helpers shared by its
 * sender, restore side, CLI and the benchmark.
 */
#ifndef XLMIG_TESTS_SIM_PRIV_H
#define XLMIG_TESTS_SIM_PRIV_H

#include <stdbool.h>
#include <stdint.h>

struct sim_rng {
    uint64_t s[4];
};

void sim_rng_seed(struct sim_rng *r, uint64_t seed);
uint64_t sim_rng_next(struct sim_rng *r);
uint64_t sim_rng_below(struct sim_rng *r, uint64_t n);

/* One 4 KiB page of text, code or kernel-like data. */
void sim_gen_text_page(struct sim_rng *r, uint8_t *page);
bool sim_page_is_zero(const uint8_t *page);

void sim_put_le16(uint8_t *p, uint16_t v);
void sim_put_le32(uint8_t *p, uint32_t v);
void sim_put_le64(uint8_t *p, uint64_t v);
void sim_put_be32(uint8_t *p, uint32_t v);
void sim_put_be64(uint8_t *p, uint64_t v);
uint32_t sim_get_le32(const uint8_t *p);
uint64_t sim_get_le64(const uint8_t *p);
uint32_t sim_get_be32(const uint8_t *p);
uint64_t sim_get_be64(const uint8_t *p);

#endif
