// Package measure is what the peers' load generators of `make bench-peers` (river-bench,
// temporal-bench) measure alike, so that both systems are measured the same way: CPU time of the
// generator itself (getrusage) and of the whole PostgreSQL cluster (/proc), latency quantiles,
// and the latency samples written for the chart.
package measure

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// SelfCPU is the user+system CPU time of this process so far.
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ProcStat returns utime+stime, cutime+cstime (ticks) and the parent pid of pid.
func ProcStat(pid int) (own, children int64, ppid int, err error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	s := string(raw)
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 15 {
		return 0, 0, 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	num := func(i int) int64 { v, _ := strconv.ParseInt(fields[i], 10, 64); return v }
	// fields[0] is field 3 (state): field k is fields[k-3].
	return num(11) + num(12), num(13) + num(14), int(num(1)), nil
}

// PostgresCPU is the CPU seconds of the whole cluster so far: the postmaster (with the children
// it reaped) and every live child.
func PostgresCPU(postmaster, clkTck int) (float64, error) {
	if postmaster <= 0 {
		return 0, nil
	}
	own, children, _, err := ProcStat(postmaster)
	if err != nil {
		return 0, fmt.Errorf("postmaster %d: %w", postmaster, err)
	}
	total := own + children
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == postmaster {
			continue
		}
		o, c, ppid, err := ProcStat(pid)
		if err != nil || ppid != postmaster {
			continue
		}
		total += o + c
	}
	return float64(total) / float64(cmp.Or(clkTck, 100)), nil
}

// Quantile q (0..1) of sorted samples, nearest rank.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// WriteSamples writes the samples to path, in microseconds, one per line.
func WriteSamples(path string, samples []time.Duration) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, s := range samples {
		fmt.Fprintf(w, "%d\n", s.Microseconds())
	}
	return errors.Join(w.Flush(), f.Close())
}

// Ms is d in milliseconds, rounded to the microsecond.
func Ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// CPU is what a load generator reads of its system's processes at one moment: CPU seconds by
// name ("postgres": the whole cluster).
type CPU map[string]float64

// Since returns the CPU seconds spent since before, by name, and their sum.
func (c CPU) Since(before CPU) (map[string]float64, float64) {
	out := make(map[string]float64, len(c))
	var total float64
	for k, v := range c {
		out[k] = v - before[k]
		total += out[k]
	}
	return out, total
}

// UntilAfterBurst sleeps until wait has passed since lastCompletion, and at least minAfter after
// the moment `after`; it returns early when ctx ends.
func UntilAfterBurst(ctx context.Context, lastCompletion time.Time, wait time.Duration, after time.Time, minAfter time.Duration) error {
	due := lastCompletion.Add(wait)
	if m := after.Add(minAfter); m.After(due) {
		due = m
	}
	select {
	case <-time.After(time.Until(due)):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
