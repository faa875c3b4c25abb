/* SPDX-License-Identifier: MIT */
/*
 * wire: byte-order helpers, CRC-32C and the constants of the xlmig wire
 * format (docs/stream-format.md is the normative text).  Every field is
 * read and written byte by byte in explicit order; no C struct is ever
 * copied to or from the wire.
 */
#ifndef XLMIG_ENGINE_WIRE_H
#define XLMIG_ENGINE_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Switch record body (after the libxc record header {SWITCH, 24}). */
#define WIRE_MAGIC   0x31464d47494d4c58ull /* "XLMIGMF1" LE */
#define WIRE_VERSION 1u
#define WIRE_SWITCH_BYTES \
    32u /* magic, version, rsvd, caps, cache pages,
                               * crc32c, rsvd */
#define WIRE_CAP_ZLIB   (1u << 0)
#define WIRE_CAP_ZSTD   (1u << 1)
#define WIRE_CAP_LZ4    (1u << 2)
#define WIRE_CAP_DELTA  (1u << 3)
#define WIRE_CAPS_KNOWN 0xfu

/* Wire record header: type u32, body length u32, crc32c u32, rsvd u32. */
#define WIRE_HDR_BYTES 16u
#define WIRE_BODY_MAX  (8u << 20)
#define WIRE_PASS_MAX  (1u << 20) /* original bytes per PASS record */

#define WIRE_T_END   0x0u /* final status */
#define WIRE_T_PASS  0x1u /* original bytes, verbatim */
#define WIRE_T_PAGES 0x2u /* one encoded PAGE_DATA record */

/* Page kinds in a PAGES record. */
#define WIRE_K_ZERO   0u /* all-zero page, no data */
#define WIRE_K_FILL8  1u /* 1 byte: page filled with it */
#define WIRE_K_FILL64 2u /* 8 bytes: page filled with this word */
#define WIRE_K_DELTA  3u /* u16 length + XBZRLE bytes vs the cache */
#define WIRE_K_BATCH  4u /* content in the record's batch */
#define WIRE_K_MAX    4u

/* Batch methods. */
#define WIRE_M_STORED 0u
#define WIRE_M_ZLIB   1u
#define WIRE_M_ZSTD   2u
#define WIRE_M_LZ4    3u

/* PAGES fixed part: count, res1, data pages, batch pages, pfn runs (u32). */
#define WIRE_PAGES_FIXED   20u
#define WIRE_PFN_RUN_BYTES 10u /* first pfn word u64, length u16 */
#define WIRE_BATCH_HDR     8u  /* method u8, level u8, rsvd u16, len u32 */
#define WIRE_END_BYTES \
    24u /* status i32, rsvd u32, bytes u64,
                                 * pages u64 */

static inline uint16_t wire_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t wire_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline uint64_t wire_get64(const uint8_t *p)
{
    return (uint64_t)wire_get32(p) | (uint64_t)wire_get32(p + 4) << 32;
}

static inline uint16_t wire_get16be(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t wire_get32be(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

static inline uint64_t wire_get64be(const uint8_t *p)
{
    return (uint64_t)wire_get32be(p) << 32 | wire_get32be(p + 4);
}

static inline void wire_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void wire_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline void wire_put64(uint8_t *p, uint64_t v)
{
    wire_put32(p, (uint32_t)v);
    wire_put32(p + 4, (uint32_t)(v >> 32));
}

static inline void wire_put32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void wire_put64be(uint8_t *p, uint64_t v)
{
    wire_put32be(p, (uint32_t)(v >> 32));
    wire_put32be(p + 4, (uint32_t)v);
}

/* Native 64-bit load/store of memory (not wire fields). */
static inline uint64_t wire_load64(const void *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
    return v;
}

/*
 * Make *buf (of *cap bytes) hold at least need bytes, growing it
 * geometrically; the content is kept.  0 or -ENOMEM (*buf unchanged).
 */
int wire_buf_reserve(uint8_t **buf, size_t *cap, size_t need);

/* CRC-32C (Castagnoli), init 0: crc = wire_crc32c(crc, buf, len). */
uint32_t wire_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
