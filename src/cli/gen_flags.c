/* The subcommands' flag parser and shared loading (gen_cli.h). */
#include <stdio.h>
#include <string.h>

#include "gen_cli.h"
#include "stylize_inputs.h"

int gen_flag_index(const gen_flag *flags, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(flags[i].name, name) == 0)
            return i;
    return -1;
}

static int find_short(const gen_flag *flags, int n, char c)
{
    for (int i = 0; i < n; i++)
        if (flags[i].short_name == c)
            return i;
    return -1;
}

static void print_help(const char *usage, const gen_flag *flags, int n)
{
    printf("%s\nFlags:\n", usage);
    for (int i = 0; i < n; i++) {
        if (!flags[i].help)
            continue;
        char left[64];
        snprintf(left, sizeof left, "%s%c%s--%s %s", flags[i].short_name ? "-" : "",
                 flags[i].short_name ? flags[i].short_name : ' ', flags[i].short_name ? ", " : "  ",
                 flags[i].name, flags[i].takes_value ? flags[i].metavar : "");
        if (strlen(left) > 28)
            printf("  %s\n  %-28s %s\n", left, "", flags[i].help);
        else
            printf("  %-28s %s\n", left, flags[i].help);
    }
}

/* One "--name[=v]" or "-x" at argv[*i]. */
static int one_flag(const char *cmd, const gen_flag *flags, int n, int argc, char **argv, int *i,
                    gen_args *a)
{
    const char *arg = argv[*i], *eq = strchr(arg, '=');
    int k;
    if (arg[1] == '-') {
        char name[64];
        size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        snprintf(name, sizeof name, "%.*s", (int)(len < 63 ? len : 63), arg + 2);
        k = gen_flag_index(flags, n, name);
    } else {
        k = arg[2] == '\0' ? find_short(flags, n, arg[1]) : -1;
        eq = NULL;
    }
    if (k < 0) {
        fprintf(stderr, "stylize %s: unknown option '%s' (see stylize %s --help)\n", cmd, arg, cmd);
        return EXIT_USAGE;
    }
    if (!flags[k].takes_value) {
        if (eq) {
            fprintf(stderr, "stylize %s: --%s takes no value\n", cmd, flags[k].name);
            return EXIT_USAGE;
        }
        a->value[k] = "";
    } else if (eq) {
        a->value[k] = eq + 1;
    } else if (*i + 1 < argc) {
        a->value[k] = argv[++*i];
    } else {
        fprintf(stderr, "stylize %s: option --%s needs a value\n", cmd, flags[k].name);
        return EXIT_USAGE;
    }
    return GEN_GO_ON;
}

int gen_parse(const char *cmd, const char *usage, const gen_flag *flags, int n, int argc, char **argv,
              gen_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_help(usage, flags, n);
            return 0;
        }
        if (arg[0] == '-' && arg[1] != '\0') {
            int rc = one_flag(cmd, flags, n, argc, argv, &i, a);
            if (rc != GEN_GO_ON)
                return rc;
        } else if (a->n_positional < GEN_MAX_POSITIONAL) {
            a->positional[a->n_positional++] = argv[i];
        } else {
            fprintf(stderr, "stylize %s: too many arguments\n", cmd);
            return EXIT_USAGE;
        }
    }
    return GEN_GO_ON;
}

const char *gen_str(const gen_flag *flags, int n, const gen_args *a, const char *name)
{
    int k = gen_flag_index(flags, n, name);
    return k >= 0 ? a->value[k] : NULL;
}

int gen_int(const char *cmd, const gen_flag *flags, int n, const gen_args *a, const char *name, long lo,
            long hi, int *out)
{
    const char *v = gen_str(flags, n, a, name);
    if (v && cli_parse_int(v, lo, hi, out) != 0) {
        fprintf(stderr, "stylize %s: --%s: '%s' is not an integer in [%ld, %ld]\n", cmd, name, v, lo, hi);
        return EXIT_USAGE;
    }
    return GEN_GO_ON;
}

int gen_double(const char *cmd, const gen_flag *flags, int n, const gen_args *a, const char *name,
               double lo, double hi, double *out)
{
    const char *v = gen_str(flags, n, a, name);
    if (v && cli_parse_double(v, lo, hi, out) != 0) {
        fprintf(stderr, "stylize %s: --%s: '%s' is not a number in [%g, %g]\n", cmd, name, v, lo, hi);
        return EXIT_USAGE;
    }
    return GEN_GO_ON;
}
