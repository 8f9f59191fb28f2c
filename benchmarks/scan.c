/* Baseline for benchmarks/validate.sh: the least a YAML reader can do with a file.
 *
 * Reads FILE whole into memory (as pipeline's reader does), feeds it to libyaml with
 * yaml_parser_set_input_string, pulls every event with yaml_parser_parse and deletes it.
 * Builds nothing. Prints the event count; exits 0 on success, 1 on a parse error,
 * 2 on a usage or I/O error.
 *
 * build: cc -O2 -o scan scan.c -lyaml
 */
#include <stdio.h>
#include <stdlib.h>
#include <yaml.h>

static unsigned char *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); return NULL; }
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) { fclose(f); return NULL; }
    for (;;) {
        if (len == cap) {
            cap *= 2;
            unsigned char *grown = realloc(buf, cap);
            if (!grown) { free(buf); fclose(f); return NULL; }
            buf = grown;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) break;
    }
    if (ferror(f)) { perror(path); free(buf); fclose(f); return NULL; }
    fclose(f);
    *size = len;
    return buf;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s FILE\n", argv[0]); return 2; }
    size_t size = 0;
    unsigned char *bytes = read_file(argv[1], &size);
    if (!bytes) return 2;

    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) { fprintf(stderr, "yaml_parser_initialize failed\n"); return 2; }
    yaml_parser_set_input_string(&parser, bytes, size);

    unsigned long events = 0;
    int status = 0;
    for (;;) {
        yaml_event_t event;
        if (!yaml_parser_parse(&parser, &event)) {
            fprintf(stderr, "%s:%lu:%lu: %s\n", argv[1],
                    (unsigned long)parser.problem_mark.line + 1,
                    (unsigned long)parser.problem_mark.column + 1,
                    parser.problem ? parser.problem : "parse error");
            status = 1;
            break;
        }
        events++;
        int done = event.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&event);
        if (done) break;
    }
    yaml_parser_delete(&parser);
    free(bytes);
    if (status == 0) printf("%lu events\n", events);
    return status;
}
