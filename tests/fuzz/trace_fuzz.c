/*
 * trace_fuzz.c — libFuzzer target for the trace format: arbitrary bytes go to the text line
 * parser (each line), the text reader and the binary reader (as given, and behind a valid
 * header of each version the reader takes, 2 and 1, so mutations reach the record decoder
 * quickly and the version-1 rule — no buffer events — is exercised too). Besides "no crash, no sanitizer
 * report", it checks the format's promises and aborts when one breaks:
 *   - every event a parser or decoder returns is valid (iommu_trace_event_check),
 *   - it formats to a line that parses back to the same event, and formatting is stable,
 *   - every error message is one printable line naming its source,
 *   - no event is newer than the version of the file it came from.
 */
/* The fuzz build instruments the whole library (-fsanitize=fuzzer-no-link, CMakeLists.txt)
 * so coverage feedback reaches the parser and the decoder. */
#include "traces/trace.h"
#include "traces/trace_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void must(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "trace_fuzz: broken promise: %s\n", what);
        abort();
    }
}

static void check_event(const struct iommu_trace_event *ev)
{
    char reason[512], line[512], line2[512];
    must(iommu_trace_event_check(ev, reason, sizeof reason) == 0, "returned event is invalid");
    int n = iommu_trace_format_line(ev, line, sizeof line);
    must(n > 0 && (size_t)n == strlen(line), "valid event does not format");
    struct iommu_trace_event back;
    must(iommu_trace_parse_line(line, (size_t)n, &back, reason, sizeof reason) == 1,
         "formatted line does not parse");
    must(iommu_trace_event_equal(ev, &back), "format/parse round trip changed the event");
    int n2 = iommu_trace_format_line(&back, line2, sizeof line2);
    must(n2 == n && !memcmp(line, line2, (size_t)n), "canonical form is not stable");
}

static void check_message(const char *msg, const char *name)
{
    must(strncmp(msg, name, strlen(name)) == 0, "error message does not name its source");
    for (const char *p = msg; *p; p++)
        must((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7F, "error message not one printable line");
    must(strlen(msg) > strlen(name), "empty error message");
}

static void read_all(const uint8_t *data, size_t size, enum iommu_trace_form form)
{
    struct iommu_trace_error err;
    const char *name = form == IOMMU_TRACE_TEXT ? "fuzz.trace" : "fuzz.bin";
    iommu_trace_reader_t *r = iommu_trace_open_mem(data, size, form, name, &err);
    if (!r) {
        check_message(err.msg, name);
        return;
    }
    struct iommu_trace_event ev;
    int st;
    while ((st = iommu_trace_next(r, &ev, &err)) > 0) {
        check_event(&ev);
        must(iommu_trace_event_version(&ev) <= iommu_trace_version(r),
             "an event newer than its file's version");
    }
    if (st < 0) {
        check_message(err.msg, name);
        must(iommu_trace_next(r, &ev, &err) == -1, "reader left its error state");
    }
    iommu_trace_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* 1. the line parser, on each line */
    const char *s = (const char *)data, *end = s + size;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        struct iommu_trace_event ev;
        char reason[512];
        int st = iommu_trace_parse_line(s, n, &ev, reason, sizeof reason);
        if (st > 0)
            check_event(&ev);
        else if (st < 0)
            for (const char *p = reason; *p; p++)
                must((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7F,
                     "parse reason not one printable line");
        s += n + 1;
    }
    /* 2. both readers on the bytes as given */
    read_all(data, size, IOMMU_TRACE_TEXT);
    read_all(data, size, IOMMU_TRACE_BINARY);
    /* 3. the binary reader on the bytes as records behind a valid header: the current
     * version (every record type), then version 1 (buffer events are errors there) */
    uint8_t hdr[16] = {0x89, 'I', 'O', 'T', 'R', '\r', '\n', 0x1a, IOMMU_TRACE_VERSION, 0};
    uint8_t *buf = malloc(size + sizeof hdr);
    if (buf) {
        memcpy(buf, hdr, sizeof hdr);
        if (size)
            memcpy(buf + sizeof hdr, data, size);
        read_all(buf, size + sizeof hdr, IOMMU_TRACE_BINARY);
        buf[8] = IOMMU_TRACE_VERSION_MIN;
        read_all(buf, size + sizeof hdr, IOMMU_TRACE_BINARY);
        free(buf);
    }
    return 0;
}
