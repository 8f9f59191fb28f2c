// The YAML reader's event loop: see include/CYAMLArena.h. Each step mirrors what the Swift builder
// before it did (commit f0ec67a's YAMLReader.swift), so node numbers, duplicate reports and the
// problem that stops a read are the same.
#define _GNU_SOURCE
#include "CYAMLArena.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct {
    int32_t node;
    int32_t pending_start;
    int32_t key_table; // -1: none
    uint8_t is_mapping;
    uint8_t expecting_key;
    uint8_t drop_value;
    uint64_t key_bits;
} frame;

typedef struct {
    pl_arena *arena;
    const uint8_t *input;
    size_t length;
    int32_t node_capacity;
    int32_t child_capacity;
    size_t extra_capacity;
    int32_t duplicate_capacity;
    int32_t *pending;
    int32_t pending_count;
    int32_t pending_capacity;
    frame *frames; // frames[0..depth-1]: the open collections, innermost last
    int32_t frame_capacity;
    int32_t depth;
    int32_t max_depth;
    int32_t tables; // open key tables
    // The input's first `${{` at or after ref_from (length: none), for the scalars that are
    // slices of it: they come in the order of their offsets, so the input is searched once.
    size_t ref_next;
    size_t ref_from;
    int documents;
    pl_key_seen key_seen;
    pl_table_closed table_closed;
    void *context;
} builder;

// Buffers of 4 MB or more ask for transparent huge pages (HugePages.swift says why).
static void advise_huge(void *buffer, size_t bytes) {
#ifdef MADV_HUGEPAGE
    if (bytes < ((size_t)4 << 20) || buffer == NULL) return;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    uintptr_t start = ((uintptr_t)buffer + (uintptr_t)page - 1) / (uintptr_t)page * (uintptr_t)page;
    uintptr_t end = ((uintptr_t)buffer + bytes) / (uintptr_t)page * (uintptr_t)page;
    if (end > start) (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)buffer;
    (void)bytes;
#endif
}

// Grows *buffer (of *capacity elements of `size` bytes) to hold at least `needed`; 0 on failure.
static int grow(void **buffer, size_t size, size_t *capacity, size_t needed) {
    if (needed <= *capacity) return 1;
    size_t next = *capacity < 64 ? 64 : *capacity;
    while (next < needed) next *= 2;
    if (next > (size_t)INT32_MAX) next = (size_t)INT32_MAX;
    if (next < needed) return 0;
    void *moved = realloc(*buffer, next * size);
    if (moved == NULL) return 0;
    *buffer = moved;
    *capacity = next;
    return 1;
}

static int grow32(void **buffer, size_t size, int32_t *capacity, int32_t count) {
    size_t c = (size_t)*capacity;
    if (!grow(buffer, size, &c, (size_t)count + 1)) return 0;
    *capacity = (int32_t)c;
    return 1;
}

// The first `${{` in bytes [0, count), or NULL. memchr finds each `$` a vector at a time (glibc's
// memmem is a byte-at-a-time two-way search: ~10M instructions over a 1.7 MB file holding none).
static const uint8_t *find_reference(const uint8_t *bytes, size_t count) {
    if (count < 3) return NULL;
    const uint8_t *at = bytes;
    const uint8_t *last = bytes + (count - 2);
    while (at < last) {
        const uint8_t *dollar = memchr(at, '$', (size_t)(last - at));
        if (dollar == NULL) return NULL;
        if (dollar[1] == '{' && dollar[2] == '{') return dollar;
        at = dollar + 1;
    }
    return NULL;
}

static int opens_reference(const uint8_t *bytes, size_t count) { return find_reference(bytes, count) != NULL; }

// Whether the input's bytes [offset, offset + count) hold `${{`.
static int slice_opens_reference(builder *b, size_t offset, size_t count) {
    if (offset < b->ref_from || b->ref_next < offset) {
        const uint8_t *found = offset <= b->length ? find_reference(b->input + offset, b->length - offset) : NULL;
        b->ref_next = found != NULL ? (size_t)(found - b->input) : b->length;
        b->ref_from = offset;
    }
    return b->ref_next < b->length && b->ref_next + 3 <= offset + count;
}

static uint64_t key_bit(const uint8_t *key, size_t count) {
    if (count == 0) return 1;
    return (uint64_t)1 << (((uint64_t)count * 7 + (uint64_t)key[0] * 3 + (uint64_t)key[count - 1]) & 63);
}

static const uint8_t *text_of(const builder *b, const pl_node *node) {
    if (node->start >= 0) return b->input + node->start;
    // An empty text copied before any other has no buffer to point into: it has no byte to read.
    if (b->arena->extra == NULL) return b->input;
    return b->arena->extra + ~node->start;
}

static pl_read_status stop(builder *b, pl_read_status status, yaml_mark_t mark) {
    b->arena->problem_line = (int32_t)(mark.line + 1 > INT32_MAX ? INT32_MAX : mark.line + 1);
    b->arena->problem_column = (int32_t)(mark.column + 1 > INT32_MAX ? INT32_MAX : mark.column + 1);
    return status;
}

static int push_pending(builder *b, int32_t id) {
    if (b->pending_count == b->pending_capacity &&
        !grow32((void **)&b->pending, sizeof(int32_t), &b->pending_capacity, b->pending_count))
        return 0;
    b->pending[b->pending_count++] = id;
    return 1;
}

// Adds a value (or a sequence item) to the innermost open collection.
static int attach(builder *b, int32_t id) {
    frame *top = &b->frames[b->depth - 1];
    if (!top->is_mapping) return push_pending(b, id);
    top->expecting_key = 1;
    if (top->drop_value) {
        top->drop_value = 0;
        return 1;
    }
    return push_pending(b, id);
}

// The line a key was first written on in the innermost open mapping, or 0 (then it is recorded).
static int32_t first_line(builder *b, const uint8_t *key, size_t count, int32_t line) {
    frame *top = &b->frames[b->depth - 1];
    if (top->key_table >= 0) return b->key_seen(b->context, top->key_table, key, count, line);
    const pl_node *nodes = b->arena->nodes;
    int32_t start = top->pending_start;
    if (b->pending_count - start > 32) {
        // A large mapping: its keys go to a table of the caller's (a hashed lookup, O(1) a key).
        int32_t table = b->tables++;
        top->key_table = table;
        for (int32_t i = start; i < b->pending_count; i += 2) {
            const pl_node *other = &nodes[b->pending[i]];
            (void)b->key_seen(b->context, table, text_of(b, other), (size_t)other->count, other->line);
        }
        return b->key_seen(b->context, table, key, count, line);
    }
    uint64_t bit = key_bit(key, count);
    if ((top->key_bits & bit) == 0) {
        top->key_bits |= bit;
        return 0;
    }
    for (int32_t i = start; i < b->pending_count; i += 2) {
        const pl_node *other = &nodes[b->pending[i]];
        // An empty key's text may be at no address (no extra text yet): equal lengths of 0 are a match.
        if ((size_t)other->count == count && (count == 0 || memcmp(text_of(b, other), key, count) == 0)) return other->line;
    }
    return 0;
}

static pl_read_status add_scalar(builder *b, const yaml_event_t *event) {
    pl_arena *arena = b->arena;
    const uint8_t *value = event->data.scalar.value;
    size_t count = event->data.scalar.length;
    if (event->data.scalar.tag != NULL) return stop(b, PL_READ_TAG, event->start_mark);
    if (event->data.scalar.anchor != NULL) return stop(b, PL_READ_ANCHOR, event->start_mark);
    uint8_t style;
    switch (event->data.scalar.style) {
    case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = 1; break;
    case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = 2; break;
    case YAML_LITERAL_SCALAR_STYLE: style = 3; break;
    case YAML_FOLDED_SCALAR_STYLE: style = 4; break;
    default: style = 0; break;
    }
    if (arena->node_count == b->node_capacity &&
        !grow32((void **)&arena->nodes, sizeof(pl_node), &b->node_capacity, arena->node_count))
        return PL_READ_NO_MEMORY;
    int32_t id = arena->node_count;
    // Where the text is written exactly as it reads, if it is: a plain scalar at its start mark, a
    // quoted one just past its quote (libyaml's mark index counts characters; where that is not
    // the byte offset, the bytes differ and the text is copied).
    int64_t offset = -1;
    if (style <= 2) {
        int64_t at = (int64_t)event->start_mark.index + (style == 0 ? 0 : 1);
        if (at >= 0 && count <= b->length && (uint64_t)at <= (uint64_t)(b->length - count) &&
            at <= (int64_t)INT32_MAX - (int64_t)count && (count == 0 || memcmp(b->input + at, value, count) == 0))
            offset = at;
    }
    int32_t start;
    if (offset >= 0) {
        start = (int32_t)offset;
        if (!arena->may_hold_references) arena->may_hold_references = slice_opens_reference(b, (size_t)offset, count);
    } else {
        if (arena->extra_count + count > (size_t)INT32_MAX) return stop(b, PL_READ_TEXT_TOO_LARGE, event->start_mark);
        if (!grow((void **)&arena->extra, 1, &b->extra_capacity, arena->extra_count + count)) return PL_READ_NO_MEMORY;
        start = ~(int32_t)arena->extra_count;
        if (count > 0) memcpy(arena->extra + arena->extra_count, value, count);
        arena->extra_count += count;
        if (!arena->may_hold_references) arena->may_hold_references = opens_reference(value, count);
    }
    pl_node *node = &arena->nodes[id];
    node->line = (int32_t)(event->start_mark.line + 1 > INT32_MAX ? INT32_MAX : event->start_mark.line + 1);
    node->column = (int32_t)(event->start_mark.column + 1 > INT32_MAX ? INT32_MAX : event->start_mark.column + 1);
    node->start = start;
    node->count = (int32_t)count;
    node->kind = 0;
    node->style = style;
    arena->node_count = id + 1;
    if (b->depth == 0) {
        arena->root = id;
        return PL_READ_OK;
    }
    frame *top = &b->frames[b->depth - 1];
    if (!top->is_mapping || !top->expecting_key) return attach(b, id) ? PL_READ_OK : PL_READ_NO_MEMORY;
    // A key: compared with the keys before it in the same mapping.
    top->expecting_key = 0;
    int32_t first = first_line(b, value, count, node->line);
    if (first > 0) {
        if (arena->duplicate_count == b->duplicate_capacity &&
            !grow32((void **)&arena->duplicates, sizeof(pl_duplicate), &b->duplicate_capacity, arena->duplicate_count))
            return PL_READ_NO_MEMORY;
        arena->duplicates[arena->duplicate_count++] = (pl_duplicate){.key = id, .first_line = first};
        b->frames[b->depth - 1].drop_value = 1;
        return PL_READ_OK;
    }
    return push_pending(b, id) ? PL_READ_OK : PL_READ_NO_MEMORY;
}

static pl_read_status open_collection(builder *b, const yaml_event_t *event, int is_mapping, int has_tag, int has_anchor) {
    pl_arena *arena = b->arena;
    if (has_tag) return stop(b, PL_READ_TAG, event->start_mark);
    if (has_anchor) return stop(b, PL_READ_ANCHOR, event->start_mark);
    if (b->depth > 0) {
        frame *top = &b->frames[b->depth - 1];
        if (top->is_mapping && top->expecting_key)
            return stop(b, is_mapping ? PL_READ_MAPPING_KEY : PL_READ_SEQUENCE_KEY, event->start_mark);
    }
    if (b->depth >= b->max_depth) return stop(b, PL_READ_TOO_DEEP, event->start_mark);
    if (arena->node_count == b->node_capacity &&
        !grow32((void **)&arena->nodes, sizeof(pl_node), &b->node_capacity, arena->node_count))
        return PL_READ_NO_MEMORY;
    int32_t id = arena->node_count;
    // Frames grow with the nesting the file has, not the limit's (which may be very large).
    if (b->depth == b->frame_capacity && !grow32((void **)&b->frames, sizeof(frame), &b->frame_capacity, b->depth))
        return PL_READ_NO_MEMORY;
    b->frames[b->depth++] = (frame){
        .node = id, .pending_start = b->pending_count, .key_table = -1, .is_mapping = (uint8_t)is_mapping, .expecting_key = 1};
    pl_node *node = &arena->nodes[id];
    node->line = (int32_t)(event->start_mark.line + 1 > INT32_MAX ? INT32_MAX : event->start_mark.line + 1);
    node->column = (int32_t)(event->start_mark.column + 1 > INT32_MAX ? INT32_MAX : event->start_mark.column + 1);
    node->start = 0;
    node->count = 0;
    node->kind = is_mapping ? 1 : 2;
    node->style = 0;
    arena->node_count = id + 1;
    return PL_READ_OK;
}

static pl_read_status close_collection(builder *b) {
    pl_arena *arena = b->arena;
    if (b->depth == 0) return PL_READ_OK;
    frame *top = &b->frames[b->depth - 1];
    int32_t id = top->node;
    int32_t start = top->pending_start;
    int32_t count = b->pending_count - start;
    if (arena->child_count > INT32_MAX - count) return PL_READ_NO_MEMORY;
    if (arena->child_count + count > b->child_capacity) {
        size_t c = (size_t)b->child_capacity;
        if (!grow((void **)&arena->children, sizeof(int32_t), &c, (size_t)arena->child_count + (size_t)count))
            return PL_READ_NO_MEMORY;
        b->child_capacity = (int32_t)c;
    }
    arena->nodes[id].start = arena->child_count;
    arena->nodes[id].count = count;
    if (count > 0) memcpy(arena->children + arena->child_count, b->pending + start, (size_t)count * sizeof(int32_t));
    arena->child_count += count;
    b->pending_count = start;
    if (top->key_table >= 0) {
        b->tables -= 1;
        b->table_closed(b->context, top->key_table);
    }
    b->depth -= 1;
    if (b->depth == 0) {
        arena->root = id;
        return PL_READ_OK;
    }
    return attach(b, id) ? PL_READ_OK : PL_READ_NO_MEMORY;
}

static pl_read_status consume(builder *b, const yaml_event_t *event, int *done) {
    switch (event->type) {
    case YAML_SCALAR_EVENT:
        return add_scalar(b, event);
    case YAML_MAPPING_START_EVENT:
        return open_collection(b, event, 1, event->data.mapping_start.tag != NULL, event->data.mapping_start.anchor != NULL);
    case YAML_SEQUENCE_START_EVENT:
        return open_collection(b, event, 0, event->data.sequence_start.tag != NULL, event->data.sequence_start.anchor != NULL);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return close_collection(b);
    case YAML_DOCUMENT_START_EVENT:
        b->documents += 1;
        if (b->documents > 1) return stop(b, PL_READ_SECOND_DOCUMENT, event->start_mark);
        return PL_READ_OK;
    case YAML_ALIAS_EVENT:
        return stop(b, PL_READ_ALIAS, event->start_mark);
    case YAML_STREAM_END_EVENT:
        *done = 1;
        return PL_READ_OK;
    default:
        // Stream start, document end.
        return PL_READ_OK;
    }
}

pl_read_status pl_arena_read(yaml_parser_t *parser, yaml_event_t *event, const uint8_t *input, size_t length,
                             int32_t max_depth, pl_key_seen key_seen, pl_table_closed table_closed, void *context,
                             pl_arena *arena) {
    memset(arena, 0, sizeof *arena);
    arena->root = -1;
    if (max_depth < 0) max_depth = 0;
    builder b = {
        .arena = arena,
        .input = input,
        .length = length,
        .max_depth = max_depth,
        .key_seen = key_seen,
        .table_closed = table_closed,
        .context = context,
    };
    // A node takes at least ~8 bytes of text (`- a: b\n` is three), so the arena rarely grows.
    size_t expected = length / 8 < 1024 ? 1024 : length / 8;
    if (expected > (size_t)INT32_MAX) expected = (size_t)INT32_MAX;
    arena->nodes = malloc(expected * sizeof(pl_node));
    arena->children = malloc(expected * sizeof(int32_t));
    if (arena->nodes == NULL || arena->children == NULL) return PL_READ_NO_MEMORY;
    advise_huge(arena->nodes, expected * sizeof(pl_node));
    b.node_capacity = (int32_t)expected;
    b.child_capacity = (int32_t)expected;
    b.ref_from = 0;
    const uint8_t *first_reference = find_reference(input, length);
    b.ref_next = first_reference != NULL ? (size_t)(first_reference - input) : length;
    pl_read_status status = PL_READ_OK;
    int done = 0;
    while (!done) {
        if (yaml_parser_parse(parser, event) == 0) {
            status = PL_READ_PARSER_ERROR;
            break;
        }
        status = consume(&b, event, &done);
        yaml_event_delete(event);
        if (status != PL_READ_OK) break;
    }
    // Key tables still open (a read stopped inside their mapping) are dropped, innermost first.
    while (b.tables > 0) b.table_closed(b.context, --b.tables);
    free(b.pending);
    free(b.frames);
    return status;
}

void pl_arena_free(pl_arena *arena) {
    free(arena->nodes);
    free(arena->children);
    free(arena->extra);
    free(arena->duplicates);
    arena->nodes = NULL;
    arena->children = NULL;
    arena->extra = NULL;
    arena->duplicates = NULL;
}
