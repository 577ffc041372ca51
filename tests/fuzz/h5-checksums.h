/* h5-checksums.h: recompute the checksums of an HDF5 file's superblock (version 2 or 3) and
 * object headers (version 2: OHDR chunks and the OCHK continuation chunks their messages point
 * to), for the session fuzzer's mutator (fuzz-session.c). check-h5-checksums.c verifies that
 * on files HDF5 wrote it changes nothing, i.e. it computes what HDF5 computes.
 * Header-only (static functions): included by both. */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <string.h>

/* ---- HDF5's metadata checksum: Bob Jenkins' lookup3 hashlittle, byte at a time, as
 * H5_checksum_lookup3 (H5checksum.c) computes it with initval 0 ---- */

#define ROT(x, k) (((x) << (k)) ^ ((x) >> (32 - (k))))
#define MIX(a, b, c)                                                                                                   \
  {                                                                                                                    \
    a -= c, a ^= ROT (c, 4), c += b;                                                                                   \
    b -= a, b ^= ROT (a, 6), a += c;                                                                                   \
    c -= b, c ^= ROT (b, 8), b += a;                                                                                   \
    a -= c, a ^= ROT (c, 16), c += b;                                                                                  \
    b -= a, b ^= ROT (a, 19), a += c;                                                                                  \
    c -= b, c ^= ROT (b, 4), b += a;                                                                                   \
  }
#define FINAL(a, b, c)                                                                                                 \
  {                                                                                                                    \
    c ^= b, c -= ROT (b, 14);                                                                                          \
    a ^= c, a -= ROT (c, 11);                                                                                          \
    b ^= a, b -= ROT (a, 25);                                                                                          \
    c ^= b, c -= ROT (b, 16);                                                                                          \
    a ^= c, a -= ROT (c, 4);                                                                                           \
    b ^= a, b -= ROT (a, 14);                                                                                          \
    c ^= b, c -= ROT (b, 24);                                                                                          \
  }

static uint32_t
lookup3 (const uint8_t *k, size_t length)
{
  uint32_t a, b, c;
  a = b = c = 0xdeadbeef + (uint32_t) length;
  while (length > 12) {
    a += k[0] + ((uint32_t) k[1] << 8) + ((uint32_t) k[2] << 16) + ((uint32_t) k[3] << 24);
    b += k[4] + ((uint32_t) k[5] << 8) + ((uint32_t) k[6] << 16) + ((uint32_t) k[7] << 24);
    c += k[8] + ((uint32_t) k[9] << 8) + ((uint32_t) k[10] << 16) + ((uint32_t) k[11] << 24);
    MIX (a, b, c);
    length -= 12;
    k += 12;
  }
  if (length == 0)
    return c;
  uint8_t tail[12] = { 0 };
  memcpy (tail, k, length);
  a += tail[0] + ((uint32_t) tail[1] << 8) + ((uint32_t) tail[2] << 16) + ((uint32_t) tail[3] << 24);
  b += tail[4] + ((uint32_t) tail[5] << 8) + ((uint32_t) tail[6] << 16) + ((uint32_t) tail[7] << 24);
  c += tail[8] + ((uint32_t) tail[9] << 8) + ((uint32_t) tail[10] << 16) + ((uint32_t) tail[11] << 24);
  FINAL (a, b, c);
  return c;
}

static unsigned h5_checksums_written; /* for check-h5-checksums */

static void
put_checksum (uint8_t *data, size_t size, size_t start, size_t end)
{
  if (end < start || end + 4 > size)
    return;
  h5_checksums_written++;
  uint32_t sum = lookup3 (data + start, end - start);
  for (int i = 0; i < 4; i++)
    data[end + i] = (uint8_t) (sum >> (8 * i));
}

static uint64_t
get_le (const uint8_t *p, int width)
{
  uint64_t v = 0;
  for (int i = width - 1; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

/* The messages of an object header chunk [q, end): a continuation message (type 0x10) names
 * an OCHK chunk (address, length) whose checksum is fixed too, and its messages walked. */
static void fix_chunk_messages (uint8_t *data, size_t size, size_t q, size_t end, gboolean crt_order, int depth);

static void
fix_ochk (uint8_t *data, size_t size, uint64_t addr, uint64_t len, gboolean crt_order, int depth)
{
  if (depth > 8 || addr > size || len < 8 || len > size - addr || memcmp (data + addr, "OCHK", 4) != 0)
    return;
  fix_chunk_messages (data, size, addr + 4, addr + len - 4, crt_order, depth + 1);
  put_checksum (data, size, addr, addr + len - 4);
}

static void
fix_chunk_messages (uint8_t *data, size_t size, size_t q, size_t end, gboolean crt_order, int depth)
{
  size_t head = crt_order ? 6 : 4;
  while (q + head <= end && end <= size) {
    uint8_t type = data[q];
    size_t msize = (size_t) get_le (data + q + 1, 2);
    size_t body = q + head;
    if (body + msize > end)
      return;
    if (type == 0x10 && msize >= 16)
      fix_ochk (data, size, get_le (data + body, 8), get_le (data + body + 8, 8), crt_order, depth);
    q = body + msize;
  }
}

/* Superblock version 2 or 3 at offset 0 (sizes of offsets and lengths 8), and every object
 * header of version 2 found by its signature. */
static G_GNUC_UNUSED void
fix_checksums (uint8_t *data, size_t size)
{
  static const uint8_t sig[8] = { 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n' };
  if (size >= 48 && memcmp (data, sig, 8) == 0 && (data[8] == 2 || data[8] == 3) && data[9] == 8)
    put_checksum (data, size, 0, 12 + 4 * 8);
  for (size_t p = 0; p + 8 <= size; p++) {
    if (memcmp (data + p, "OHDR", 4) != 0 || data[p + 4] != 2)
      continue;
    uint8_t flags = data[p + 5];
    size_t q = p + 6 + (flags & 0x20 ? 16 : 0) + (flags & 0x10 ? 4 : 0);
    int width = 1 << (flags & 3);
    if (q + width > size)
      continue;
    uint64_t chunk = get_le (data + q, width);
    q += width;
    if (chunk > size - q || q + chunk + 4 > size)
      continue;
    fix_chunk_messages (data, size, q, q + chunk, (flags & 0x04) != 0, 0);
    put_checksum (data, size, p, q + chunk);
  }
}

