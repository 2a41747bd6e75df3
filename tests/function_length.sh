#!/usr/bin/env bash
# Two size rules for src/*.c (issue 26). A function is at most 100 lines, counted from the first
# line of its signature to its closing brace (`main` excepted: it reads as the wiring list it is).
# A buffer's cap is named where the buffer is owned: buf_init's cap is never a bare literal
# (2048, 1u << 16, (size_t)-1); a cap computed from a length (n + 1) is fine. The layout is
# .clang-format's (tests/format.sh), so a function opens with `{` and closes with `}` in column 0.
# Usage: function_length.sh [source root]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
shopt -s nullglob
files=(src/*.c)
if ((${#files[@]} == 0)); then
    echo "$root/src: no C files" >&2
    exit 1
fi
perl -e '
use strict; use warnings;
my $max = 100;
my ($bad, $seen) = (0, 0);
for my $f (@ARGV) {
    open my $fh, "<", $f or die "$f: $!";
    my @l = <$fh>;
    close $fh;
    my ($sig, $open);
    for my $i (0 .. $#l) {
        my $s = $l[$i];
        if (!defined $open) {
            if ($s =~ /^\{\s*$/) {
                $open = $i;
            } elsif ($s =~ /^[A-Za-z_]/ && $s !~ /^(typedef\b|#)/) {
                # a signature starts after a blank line, a statement, a comment or a directive
                $sig = $i if !defined $sig || $l[$i - 1] =~ m!^(\s*$|.*[;}]\s*$|.*\*/\s*$|#|//)!;
            } elsif ($s =~ /^\s*$/ || $s =~ /^#/) {
                undef $sig;
            }
        } elsif ($s =~ /^\}/) {
            my $start = $sig // $open;
            my ($name) = join("", @l[$start .. $open]) =~ /([A-Za-z_]\w*)\s*\(/;
            $name //= "?";
            my $n = $i - $start + 1;
            $seen++;
            if ($n > $max && $name ne "main") {
                printf STDERR "%s:%d: %s is %d lines (at most %d): split it into named helpers\n",
                    $f, $start + 1, $name, $n, $max;
                $bad = 1;
            }
            undef $open;
            undef $sig;
        }
    }
    # buf_init(&x, CAP): the cap with casts to size_t, number literals and operators taken out
    # must leave a name behind.
    my $text = join "", @l;
    $text =~ s{/\*.*?\*/}{ my $c = $&; $c =~ s/[^\n]//g; $c }gse;
    while ($text =~ /\bbuf_init\s*\(/g) {
        my $at = pos $text;
        my $line = 1 + (() = substr($text, 0, $at) =~ /\n/g);
        my ($depth, $arg, $cap) = (1, 0, "");
        for my $ch (split //, substr($text, $at)) {
            $depth++ if $ch eq "(";
            $depth-- if $ch eq ")";
            last if $depth == 0;
            if ($ch eq "," && $depth == 1) { $arg++; next; }
            $cap .= $ch if $arg == 1;
        }
        (my $rest = $cap) =~ s/\(\s*size_t\s*\)//g;
        $rest =~ s/\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]*\b//g;
        if ($rest !~ /[A-Za-z_]/) {
            $cap =~ s/^\s+|\s+$//g;
            printf STDERR "%s:%d: buf_init with the literal cap %s: name it (#define X_CAP, with why)\n",
                $f, $line, $cap;
            $bad = 1;
        }
    }
}
die "no functions found in src/*.c\n" if !$seen;
exit $bad;
' "${files[@]}"
