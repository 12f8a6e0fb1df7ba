/* cache_thrash.c - active false sharing; see falseshare.h. */
#define FS_REPS 100000
#include "falseshare.h"

int main(int argc, char **argv)
{
    return fs_main(argc, argv, 0);
}
