# plots.gp: the benchmark pictures in docs/img/, drawn from the data files the bench scripts
# write (bench/plots.sh runs it: gnuplot -e "data='DIR'; out='DIR'" bench/plots.gp).
#
#   dns_qps.png         DNS queries/s per path (dns_dnsperf.dat)
#   dns_cpu.png         CPU per DNS query per path, pdns / gateway / responder (dns_dnsperf.dat)
#   call_latency.png    p50 / p90 / p99 of one call per path (call_latency.dat; the first
#                       layout in the file, "one" when both were measured)
#   connectors_cpu.png  gateway CPU per call per path, 1 and 16 connections, beside the
#                       do-nothing relay (connectors_cpu.dat)
#
# A picture whose data file is missing is skipped.

if (!exists("data")) data = "docs/img/data"
if (!exists("out")) out = "docs/img"

# s with every a replaced by b (labels: " -> " becomes a line break).
strrep(s, a, b) = strstrt(s, a) == 0 ? s : s[1:strstrt(s, a) - 1] . b . strrep(s[strstrt(s, a) + strlen(a):], a, b)
lbl(s) = strrep(s, " -> ", "\n→ ")
num(c) = strcol(c) eq "-" ? 0 : column(c)
exists_file(f) = system("test -r '" . f . "' && echo 1 || echo 0") == 1

set terminal pngcairo size 1100,600 font "DejaVu Sans,11" noenhanced
set style fill solid 0.85 border -1
set grid ytics lc rgb "#dddddd"
set border 3
set xtics nomirror scale 0
set ytics nomirror
set key top left noautotitle

c_pdns = "#4e79a7"
c_gw = "#f28e2b"
c_resp = "#59a14f"

f = data . "/dns_dnsperf.dat"
if (exists_file(f)) {
    # the run's first comment line, for the subtitle
    sub = system("head -1 '" . f . "' | sed 's/^# bench\\/dns_dnsperf.sh, //'")
    # ~150 pixels a bar, so that the two-line labels of many paths do not run into each other
    nrows = int(system("grep -c '^\"' '" . f . "'"))
    set terminal pngcairo size (nrows * 150 > 1100 ? nrows * 150 : 1100),600 font "DejaVu Sans,11" noenhanced
    set output out . "/dns_qps.png"
    set title "pdns 4.7 queries per second, caches off (higher is better)\n" . sub
    set ylabel "queries / s"
    set yrange [0:*]
    set style data histograms
    set style histogram clustered gap 1
    set boxwidth 0.75
    set bmargin 5
    # rbgw's paths in orange, the paths without it in grey
    set xrange [-0.6:*]
    plot f using 0:2:(0.6):(strstrt(strcol(1), "rbgw") ? 0xf28e2b : 0x9c9c9c):xtic(lbl(strcol(1))) \
            with boxes lc rgb variable notitle, \
         '' using 0:2:(sprintf("%.0f", $2)) with labels offset 0,0.7 notitle
    set xrange [*:*]
    set output out . "/dns_cpu.png"
    set title "CPU per DNS query, by process (lower is better)\n" . sub
    set ylabel "µs of CPU per query"
    set style histogram rowstacked gap 1
    set key outside top center horizontal
    plot f using (num(3)):xtic(lbl(strcol(1))) lc rgb c_pdns title "pdns", \
         '' using (num(4)) lc rgb c_gw title "gateway (rbgw or the relay)", \
         '' using (num(5)) lc rgb c_resp title "responder", \
         '' using 0:(num(3) + num(4) + num(5)):(sprintf("%.0f", num(3) + num(4) + num(5))) \
            with labels offset 0,0.7 notitle
    set key inside top left vertical noautotitle
    unset title
    set terminal pngcairo size 1100,600 font "DejaVu Sans,11" noenhanced
}

f = data . "/call_latency.dat"
if (exists_file(f)) {
    sub = system("head -1 '" . f . "' | sed 's/^# bench\\/call_latency.sh, //'")
    set output out . "/call_latency.png"
    set title "Latency of one call, one call in flight (lower is better)\n" . sub
    set ylabel "µs (log scale)"
    set logscale y
    set yrange [1:*]
    set style data histograms
    set style histogram clustered gap 1
    set boxwidth 0.9
    set key top left
    plot f using 4:xtic(lbl(strcol(2))) lc rgb "#4e79a7" title "p50", \
         '' using 5 lc rgb "#f28e2b" title "p90", \
         '' using 6 lc rgb "#e15759" title "p99", \
         '' using ($0 - 0.27):4:(sprintf("%.0f", $4)) with labels offset 0,0.7 notitle, \
         '' using ($0):5:(sprintf("%.0f", $5)) with labels offset 0,0.7 notitle, \
         '' using ($0 + 0.27):6:(sprintf("%.0f", $6)) with labels offset 0,0.7 notitle
    unset logscale y
    set yrange [0:*]
    unset title
}

f = data . "/connectors_cpu.dat"
if (exists_file(f)) {
    sub = system("head -1 '" . f . "' | sed 's/^# //'")
    set output out . "/connectors_cpu.png"
    set title "Gateway CPU per call: rbgw's paths beside a do-nothing relay (lower is better)\n" . sub
    set ylabel "µs of CPU per call (utime + stime)"
    set style data histograms
    set style histogram clustered gap 1
    set boxwidth 0.9
    set key top left
    plot f using (num(2)):xtic(lbl(strcol(1))) lc rgb "#4e79a7" title "1 connection", \
         '' using (num(3)) lc rgb "#f28e2b" title "16 connections", \
         '' using ($0 - 0.2):(num(2)):(sprintf("%.1f", num(2))) with labels offset 0,0.7 notitle, \
         '' using ($0 + 0.2):(num(3)):(sprintf("%.1f", num(3))) with labels offset 0,0.7 notitle
    unset title
}
