/* ppe_hash_test.c: the FOE hash (csrc/ppe.c:pf_ppe_hash_tuple, a model of
 * mtk_ppe.c:mtk_ppe_hash_entry) against the test vectors of shared/docs/hw-offload-detail.md
 * §1.2.
 *   gcc -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -fsanitize=address,undefined -I../../csrc \
 *       -o ppe_hash_test ppe_hash_test.c ../../csrc/ppe.c && ./ppe_hash_test */
#include <stdint.h>
#include <stdio.h>

extern uint32_t pf_ppe_hash_tuple(int l3, const uint8_t *src, const uint8_t *dst, uint16_t sport,
                                  uint16_t dport, uint32_t entries, uint32_t ways);

static int failures;

static void check(const char *what, uint32_t got, uint32_t want)
{
    if (got != want) {
        printf("FAIL %s: got 0x%x, want 0x%x\n", what, got, want);
        failures++;
    } else {
        printf("ok   %s = 0x%x\n", what, got);
    }
}

int main(void)
{
    static const uint8_t lan[4] = {192, 168, 1, 10}, srv[4] = {93, 184, 216, 34},
                         wan[4] = {203, 0, 113, 5};
    static const uint8_t v6a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
    static const uint8_t v6b[16] = {0x26, 0x06, 0x28, 0x00, 0x02, 0x20, 0x00, 0x01,
                                    0,    0,    0,    0,    0,    0,    0,    0x01};

    check("v4 lan->srv 2-way 8K", pf_ppe_hash_tuple(4, lan, srv, 40000, 443, 8192, 2), 0x73e);
    check("v4 lan->srv 2-way 16K", pf_ppe_hash_tuple(4, lan, srv, 40000, 443, 16384, 2), 0x273e);
    check("v4 lan->srv 4-way 8K", pf_ppe_hash_tuple(4, lan, srv, 40000, 443, 8192, 4), 0xe7c);
    check("v4 lan->srv 4-way 16K", pf_ppe_hash_tuple(4, lan, srv, 40000, 443, 16384, 4), 0xe7c);
    check("v4 srv->wan 2-way 8K", pf_ppe_hash_tuple(4, srv, wan, 443, 40000, 8192, 2), 0xd2);
    check("v4 srv->wan 2-way 16K", pf_ppe_hash_tuple(4, srv, wan, 443, 40000, 16384, 2), 0xd2);
    check("v4 srv->wan 4-way 8K", pf_ppe_hash_tuple(4, srv, wan, 443, 40000, 8192, 4), 0x1a4);
    check("v6 2-way 8K", pf_ppe_hash_tuple(6, v6a, v6b, 40000, 443, 8192, 2), 0x18bc);
    check("v6 2-way 16K", pf_ppe_hash_tuple(6, v6a, v6b, 40000, 443, 16384, 2), 0x18bc);
    check("v6 4-way 8K", pf_ppe_hash_tuple(6, v6a, v6b, 40000, 443, 8192, 4), 0x1178);
    check("v6 4-way 16K", pf_ppe_hash_tuple(6, v6a, v6b, 40000, 443, 16384, 4), 0x3178);
    /* small tables: the same value masked after the shift */
    check("v4 lan->srv 2-way 64", pf_ppe_hash_tuple(4, lan, srv, 40000, 443, 64, 2), 0x73e & 63);
    check("v4 lan->srv 1-way 8K", pf_ppe_hash_tuple(4, lan, srv, 40000, 443, 8192, 1),
          0x273e >> 1); /* unshifted hash, 13 bits */
    printf(failures ? "%d FAILED\n" : "all hash vectors ok\n", failures);
    return failures != 0;
}
