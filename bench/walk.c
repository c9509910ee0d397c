/* walk.c: the physical lower bound for reading a capture: mmap the file and visit every record
 * header (classic pcap: 16-byte record headers; pcapng: block type + total length), summing
 * caplen. No decoding. Prints one JSON line: records, caplen sum, seconds inside (open + mmap +
 * walk + munmap, timed with CLOCK_MONOTONIC) and peak RSS.
 *
 *   walk FILE [REPEAT [lazy]]   REPEAT walks of the file in one process (for tiny files);
 *                               lazy: no MAP_POPULATE (page faults on first touch, as a plain mmap) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }

static uint32_t rd32(const uint8_t *p, int swap)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return swap ? __builtin_bswap32(v) : v;
}

static int populate = MAP_POPULATE;

static int walk(const char *path, uint64_t *records, uint64_t *capsum)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) { perror(path); return -1; }
    struct stat st;
    if (fstat(fd, &st) || st.st_size < 24) { fprintf(stderr, "%s: too small\n", path); return -1; }
    size_t len = (size_t)st.st_size;
    const uint8_t *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE | populate, fd, 0);
    if (m == MAP_FAILED) { perror("mmap"); return -1; }
    madvise((void *)m, len, MADV_SEQUENTIAL);
    uint32_t magic;
    memcpy(&magic, m, 4);
    uint64_t n = 0, sum = 0;
    if (magic == 0xa1b2c3d4u || magic == 0xa1b23c4du || magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u) {
        int swap = magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u;
        size_t off = 24;
        while (off + 16 <= len) {
            uint32_t cap = rd32(m + off + 8, swap);
            off += 16 + (size_t)cap;
            if (off > len) break;
            sum += cap;
            n++;
        }
    } else if (magic == 0x0a0d0d0au) {
        uint32_t bom;
        memcpy(&bom, m + 8, 4);
        int swap = bom != 0x1a2b3c4du;
        size_t off = 0;
        while (off + 12 <= len) {
            uint32_t type = rd32(m + off, swap), blen = rd32(m + off + 4, swap);
            if (blen < 12 || off + blen > len) break;
            if (type == 6) { sum += rd32(m + off + 20, swap); n++; }       /* EPB caplen */
            else if (type == 3) { sum += blen - 16; n++; }                  /* SPB */
            off += blen;
        }
    } else {
        fprintf(stderr, "%s: not a capture\n", path);
        return -1;
    }
    munmap((void *)m, len);
    close(fd);
    *records += n;
    *capsum += sum;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) { fprintf(stderr, "usage: walk FILE [REPEAT]\n"); return 2; }
    int repeat = argc > 2 ? atoi(argv[2]) : 1;
    if (argc > 3 && strcmp(argv[3], "lazy") == 0)
        populate = 0;
    uint64_t n = 0, sum = 0;
    double t0 = now(), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    for (int i = 0; i < repeat; i++)
        if (walk(argv[1], &n, &sum)) return 1;
    double dt = now() - t0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long hwm = 0;   /* VmHWM: peak RSS of this address space (ru_maxrss inherits the parent's) */
    FILE *st = fopen("/proc/self/status", "r");
    char line[256];
    while (st && fgets(line, sizeof line, st))
        if (sscanf(line, "VmHWM: %ld", &hwm) == 1)
            break;
    if (st)
        fclose(st);
    printf("{\"packets\": %llu, \"caplen_sum\": %llu, \"seconds\": %.9f, \"cpu_seconds\": %.9f, \"vmhwm_kb\": %ld, "
           "\"maxrss_kb\": %ld}\n", (unsigned long long)n, (unsigned long long)sum, dt, cpu, hwm, ru.ru_maxrss);
    return 0;
}
