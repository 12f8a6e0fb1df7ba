# tests/integration/gen_c.awk - writes a C program of a few thousand lines for
# gcc.sh: N functions with loops, switches, arrays and string handling, a table
# of function pointers and a main that prints every result.  awk -v N=... -f gen_c.awk
BEGIN {
    if (N == "") N = 300
    print "#include <stdio.h>"
    print "#include <stdlib.h>"
    print "#include <string.h>"
    print "struct pair { long a, b; };"
    for (i = 0; i < N; i++) {
        print "static long f" i "(long x)"
        print "{"
        print "    long acc = " (i * 7 + 3) ";"
        print "    long arr[" (i % 13 + 4) "];"
        print "    struct pair p = { x, " i " };"
        print "    char buf[64];"
        print "    for (int k = 0; k < " (i % 13 + 4) "; k++)"
        print "        arr[k] = (x + k * " (i + 1) ") % 1009;"
        print "    for (int k = 0; k < " (i % 13 + 4) "; k++) {"
        print "        switch ((arr[k] + k) % 4) {"
        print "        case 0: acc += arr[k] * " (i % 5 + 1) "; break;"
        print "        case 1: acc ^= arr[k] << " (i % 7) "; break;"
        print "        case 2: acc -= p.b + k; break;"
        print "        default: acc = acc * 3 + p.a % 17; break;"
        print "        }"
        print "    }"
        print "    snprintf(buf, sizeof buf, \"f" i ":%ld\", acc);"
        print "    acc += (long)strlen(buf);"
        if (i > 0)
            print "    if (x % 3 == 0) acc += f" (i - 1) "(x / 3);"
        print "    return acc % 1000003;"
        print "}"
        print ""
    }
    print "static long (*const table[])(long) = {"
    for (i = 0; i < N; i++)
        print "    f" i ","
    print "};"
    print "int main(void)"
    print "{"
    print "    long total = 0;"
    print "    for (unsigned i = 0; i < sizeof table / sizeof table[0]; i++) {"
    print "        long r = table[i]((long)i * 31 + 7);"
    print "        total += r;"
    print "        if (i % 25 == 0) printf(\"f%u -> %ld\\n\", i, r);"
    print "    }"
    print "    printf(\"total %ld\\n\", total);"
    print "    return 0;"
    print "}"
}
