#ifndef PIPELINE_CYAMLARENA_H
#define PIPELINE_CYAMLARENA_H
// The YAML reader's event loop (PipelineYAML's YAMLReader calls it; nothing else does): pulls
// every libyaml event of a document and turns it into the flat node arena that YAMLDocument reads,
// enforcing the strict rules as it goes. In C because it is the reader's hot loop: about 225,000
// events for a 10,000-stage file, each a handful of field reads and stores, where Swift paid an
// exclusivity, bounds and uniqueness check per store and a call per event (benchmarks/RESULTS.md).
// It formats no message and owns nothing past the call: the reader turns a code into its message
// and frees the buffers (pl_arena_free) once it has adopted or copied them.
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

/// One node, laid out as PipelineYAML's YAMLNode (which checks the layout before it reads one):
/// 1-based line and column; a scalar's text at `start` in the input (>= 0) or at `~start` in the
/// extra text (< 0), `count` bytes; a collection's children at `start` in the child list, `count`
/// of them (a mapping's as key, value, key, value...).
typedef struct {
    int32_t line;
    int32_t column;
    int32_t start;
    int32_t count;
    uint8_t kind;  // 0 scalar, 1 mapping, 2 sequence
    uint8_t style; // 0 plain, 1 single-quoted, 2 double-quoted, 3 literal, 4 folded
} pl_node;

/// A repeated key: the node of the repetition, and the line of the key's first definition.
typedef struct {
    int32_t key;
    int32_t first_line;
} pl_duplicate;

/// Why a read stopped.
typedef enum {
    PL_READ_OK = 0,
    PL_READ_PARSER_ERROR,       // libyaml's own: its parser holds the problem and marks
    PL_READ_TAG,                // at problem_line/column
    PL_READ_ANCHOR,
    PL_READ_ALIAS,
    PL_READ_SECOND_DOCUMENT,
    PL_READ_MAPPING_KEY,        // a mapping as a key
    PL_READ_SEQUENCE_KEY,       // a sequence as a key
    PL_READ_TOO_DEEP,
    PL_READ_TEXT_TOO_LARGE,     // the extra text would not be addressable by 32-bit offsets
    PL_READ_NO_MEMORY,
} pl_read_status;

/// The caller's check of the keys of a large mapping (more than 32 keys; smaller ones are checked
/// here, by length and bytes): looks `key` up in table `table` (tables are numbered from 0 by the
/// open mappings that have one, innermost last; a number one past the last opens a new table) and
/// returns the line it was first written on, or 0 after recording it with `line`.
typedef int32_t (*pl_key_seen)(void *context, int32_t table, const uint8_t *key, size_t length, int32_t line);
/// The caller drops table `table` (the last), whose mapping has ended.
typedef void (*pl_table_closed)(void *context, int32_t table);

/// What a read makes. Buffers are malloc'ed; pl_arena_free frees those still set.
typedef struct {
    pl_node *nodes;
    int32_t node_count;
    int32_t *children;
    int32_t child_count;
    uint8_t *extra;
    size_t extra_count;
    pl_duplicate *duplicates;
    int32_t duplicate_count;
    /// The root node, -1 for none (an empty stream).
    int32_t root;
    /// Whether some scalar holds the bytes `${{`.
    int may_hold_references;
    /// Where the read stopped (a status other than OK and PARSER_ERROR), 1-based.
    int32_t problem_line;
    int32_t problem_column;
} pl_arena;

/// Reads every event of `parser` (whose input is `input`, `length` bytes, set by the caller) into
/// `arena`. Duplicate keys are collected (the first is kept, the repetition and its value left
/// out of the mapping); every other problem stops the read.
pl_read_status pl_arena_read(yaml_parser_t *parser, yaml_event_t *event, const uint8_t *input, size_t length,
                             int32_t max_depth, pl_key_seen key_seen, pl_table_closed table_closed, void *context,
                             pl_arena *arena);

/// Frees the buffers of `arena` that are still set, and clears them.
void pl_arena_free(pl_arena *arena);

#endif
