#include <yaml.h>
// mallopt, for the reader's heap reservation of a large file (HugePages.reserveHeap): the
// Swift Glibc module does not export <malloc.h>.
#include <malloc.h>
