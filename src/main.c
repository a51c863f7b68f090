/* main.c: placeholder entry point until the gateway lands (replaced in the next commit). */
#include <stdio.h>

int
main(void)
{
    fprintf(stderr, "rbgw: not built yet\n");
    return 1;
}
