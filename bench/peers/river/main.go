// river-bench: the River side of `make bench-peers` (bench/bench-peers.sh).
//
// Runs River (github.com/riverqueue/river, pgx v5 driver) with a no-op worker against the
// PostgreSQL cluster `make up` started, in a throwaway database it creates through the admin URL
// (DATABASE_URL_ADMIN) and drops at the end (unless -keep). It applies River's own migrations
// (rivermigrate), starts one client with -workers workers on the default queue, and measures,
// in this order:
//
//  1. warm-up: -warmup jobs inserted and run to completion (not measured);
//  2. latency: single jobs inserted at -rate jobs/s for -latency-secs (open loop: each insert is
//     its own goroutine, started on schedule); submit -> started is the time from just before
//     Client.Insert to the moment the worker's Work method is entered (one process, monotonic
//     clock). Every sample goes to -samples-out (microseconds, one per line, in submission order).
//     CPU seconds of this process (getrusage: the inserts included) and of every process of the
//     PostgreSQL cluster (/proc/<pid>/stat of the postmaster, including its reaped children, and
//     of its live children) from just before the first insert to the last job's JobCompleted
//     event: the CPU per task at a steady rate of single inserts;
//  3. a pause of -settle-secs (PostgreSQL flushes a backend's statistics up to 10 s late);
//  4. throughput: -tasks jobs inserted with InsertManyFast in batches of -batch, -inflight
//     batches in flight, while the workers run; time from the first insert to the last
//     JobCompleted event (sent after River's completer committed the job's completion). CPU
//     seconds as in 2, read just before the first insert and right after the last completion.
//     PostgreSQL's own accounting of the throughput phase, as JSON lines of phase "pg" (see
//     takeSnapshot: WAL position, database size, table row counters, xact_commit), taken at
//     "idle_start" (the pause begins), "before" (the first insert), "settled" (the last
//     completion), "flushed" (-settle-secs after that: every backend has published the run's
//     counters) and "idle_end" (just before 5, the client idling in between). bench-peers-report
//     turns them into commits and row writes per task (flushed - before, minus the idle rate
//     between flushed and idle_end times the seconds from settled to flushed), WAL bytes per
//     task (pg_current_wal_lsn: the whole cluster's) and database growth (pg_database_size);
//  5. after the burst: once -after-burst-wait has passed since the last completion (and at least
//     5 s after "flushed"), single jobs at -rate jobs/s for -after-burst-secs, measured as in 2
//     (samples to -after-burst-samples-out, no CPU);
//  6. single inserts: -single-tasks jobs, one Client.Insert each, from -single-inflight goroutines
//     with no rate limit while the workers run: jobs / time from the first insert to the last
//     insert's return (the jobs are not waited for).
//
// Prints one JSON object per measured phase on stdout (see measure's Latency, Throughput, Single
// and PgLine); progress and River's warnings go to stderr.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"taskflow.local/bench/peers/measure"
)

const (
	phaseBulk    = 0 // warm-up and throughput jobs
	phaseLatency = 1 // latency jobs: Seq indexes the submit/start arrays
)

type noopArgs struct {
	Phase int `json:"phase"`
	Seq   int `json:"seq"`
}

func (noopArgs) Kind() string { return "noop" }

// noopWorker does nothing; for latency jobs it notes when Work was entered.
type noopWorker struct {
	river.WorkerDefaults[noopArgs]
	base    time.Time
	started []atomic.Int64 // ns since base (monotonic); 0: not started yet
}

func (w *noopWorker) Work(_ context.Context, job *river.Job[noopArgs]) error {
	if job.Args.Phase == phaseLatency && job.Args.Seq >= 0 && job.Args.Seq < len(w.started) {
		w.started[job.Args.Seq].CompareAndSwap(0, max(int64(time.Since(w.base)), 1))
	}
	return nil
}

type options struct {
	adminURL       string
	db             string
	config         string
	workers        int
	pool           int
	tasks          int
	batch          int
	inflight       int
	warmup         int
	rate           float64
	latencySecs    float64
	settleSecs     float64
	timeoutSecs    float64
	cooldown       time.Duration
	pollInterval   time.Duration
	postmaster     int
	clkTck         int
	samplesOut     string
	afterWait      float64
	afterSecs      float64
	afterOut       string
	singleTasks    int
	singleInflight int
	keep           bool
	phaseTimeout   time.Duration
	latencyJobs    int
	afterJobs      int
	configCooldown time.Duration
	configPoll     time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.adminURL, "admin-url", os.Getenv("DATABASE_URL_ADMIN"), "URL of the cluster's maintenance database (default $DATABASE_URL_ADMIN)")
	flag.StringVar(&o.db, "db", "", "throwaway database to create, use and drop (must not exist)")
	flag.StringVar(&o.config, "config", "default", "River configuration: default (FetchCooldown 100 ms, FetchPollInterval 1 s) or tuned")
	flag.IntVar(&o.workers, "workers", 100, "MaxWorkers of the default queue")
	flag.IntVar(&o.pool, "pool", 16, "pgxpool MaxConns")
	flag.IntVar(&o.tasks, "tasks", 20000, "jobs in the throughput phase")
	flag.IntVar(&o.batch, "batch", 100, "jobs per InsertManyFast call")
	flag.IntVar(&o.inflight, "inflight", 4, "InsertManyFast calls in flight")
	flag.IntVar(&o.warmup, "warmup", 1000, "warm-up jobs run to completion first")
	flag.Float64Var(&o.rate, "rate", 100, "jobs/s in the latency phase")
	flag.Float64Var(&o.latencySecs, "latency-secs", 20, "length of the latency phase")
	flag.Float64Var(&o.settleSecs, "settle-secs", 11, "pause between the latency and the throughput phase")
	flag.Float64Var(&o.timeoutSecs, "timeout-secs", 300, "give up a phase after this long")
	flag.DurationVar(&o.cooldown, "tuned-fetch-cooldown", time.Millisecond, "FetchCooldown of the tuned configuration")
	flag.DurationVar(&o.pollInterval, "tuned-fetch-poll-interval", 10*time.Millisecond, "FetchPollInterval of the tuned configuration")
	flag.IntVar(&o.postmaster, "pg-postmaster", 0, "pid of the cluster's postmaster (0: PostgreSQL CPU is not measured)")
	flag.IntVar(&o.clkTck, "clk-tck", 100, "clock ticks per second of /proc/<pid>/stat (getconf CLK_TCK)")
	flag.StringVar(&o.samplesOut, "samples-out", "", "write the latency samples (µs, one per line) here")
	flag.Float64Var(&o.afterWait, "after-burst-wait", 30, "the latency run after the burst starts this many seconds after its last completion")
	flag.Float64Var(&o.afterSecs, "after-burst-secs", 10, "length of the latency run after the burst (0: none)")
	flag.StringVar(&o.afterOut, "after-burst-samples-out", "", "write the samples of the latency run after the burst here")
	flag.IntVar(&o.singleTasks, "single-tasks", 3000, "jobs inserted one per Client.Insert at the end (0: none)")
	flag.IntVar(&o.singleInflight, "single-inflight", 16, "Client.Insert calls in flight in the single-insert phase")
	flag.BoolVar(&o.keep, "keep", false, "keep the database")
	flag.Parse()

	switch o.config {
	case "default":
		o.configCooldown, o.configPoll = river.FetchCooldownDefault, river.FetchPollIntervalDefault
	case "tuned":
		o.configCooldown, o.configPoll = o.cooldown, o.pollInterval
	default:
		fail(fmt.Errorf("-config must be default or tuned, got %q", o.config))
	}
	if !regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`).MatchString(o.db) {
		fail(fmt.Errorf("-db must be a lower-case identifier, got %q", o.db))
	}
	if o.adminURL == "" {
		fail(errors.New("set -admin-url or DATABASE_URL_ADMIN"))
	}
	if o.tasks < 1 || o.batch < 1 || o.inflight < 1 || o.workers < 1 || o.rate <= 0 || o.clkTck < 1 || o.singleInflight < 1 {
		fail(errors.New("-tasks, -batch, -inflight, -workers, -rate, -single-inflight and -clk-tck must be positive"))
	}
	o.latencyJobs = int(math.Round(o.rate * o.latencySecs))
	o.afterJobs = int(math.Round(o.rate * o.afterSecs))
	o.phaseTimeout = time.Duration(o.timeoutSecs * float64(time.Second))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, &o); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "river-bench: %v\n", err)
	os.Exit(1)
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[river-bench] "+format+"\n", args...)
}

func run(ctx context.Context, o *options) (err error) {
	admin, err := pgx.Connect(ctx, o.adminURL)
	if err != nil {
		return fmt.Errorf("connecting to the admin database: %w", err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, `CREATE DATABASE "`+o.db+`"`); err != nil {
		return fmt.Errorf("CREATE DATABASE %s: %w", o.db, err)
	}
	defer func() {
		if o.keep {
			progress("kept database %s", o.db)
			return
		}
		// DROP DATABASE waits for a checkpoint, which takes a while on a busy machine.
		dropCtx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if _, dropErr := admin.Exec(dropCtx, `DROP DATABASE IF EXISTS "`+o.db+`" WITH (FORCE)`); dropErr != nil {
			err = errors.Join(err, fmt.Errorf("DROP DATABASE %s: %w", o.db, dropErr))
		}
	}()

	u, err := url.Parse(o.adminURL)
	if err != nil {
		return fmt.Errorf("admin URL: %w", err)
	}
	u.Path = "/" + o.db
	poolConfig, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		return err
	}
	poolConfig.MaxConns = int32(o.pool)
	pool, err := pgxpool.NewWithConfig(ctx, poolConfig)
	if err != nil {
		return err
	}
	defer pool.Close()

	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("River migrations: %w", err)
	}

	base := time.Now()
	// Latency jobs: Seq 0.. before the burst, latencyJobs.. after it.
	worker := &noopWorker{base: base, started: make([]atomic.Int64, o.latencyJobs+o.afterJobs)}
	workers := river.NewWorkers()
	river.AddWorker(workers, worker)
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		FetchCooldown:     o.configCooldown,
		FetchPollInterval: o.configPoll,
		Logger:            slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: o.workers}},
		Workers:           workers,
	})
	if err != nil {
		return err
	}
	events, unsubscribe := client.SubscribeConfig(&river.SubscribeConfig{
		ChanSize: o.warmup + o.latencyJobs + o.tasks + o.afterJobs + o.singleTasks + 1000,
		Kinds:    []river.EventKind{river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled},
	})
	defer unsubscribe()
	if err := client.Start(ctx); err != nil {
		return err
	}
	defer func() { // before the pool closes and the database is dropped
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if stopErr := client.Stop(stopCtx); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("stopping the client: %w", stopErr))
		}
	}()
	settings := map[string]string{
		"river":               "v0.51.2 (riverpgxv5)",
		"fetch_cooldown":      o.configCooldown.String(),
		"fetch_poll_interval": o.configPoll.String(),
		"max_workers":         strconv.Itoa(o.workers),
		"pool":                strconv.Itoa(o.pool),
	}

	// 1. warm-up
	if o.warmup > 0 {
		progress("%s: warm-up, %d jobs", o.config, o.warmup)
		done := make(chan bulkResult, 1)
		go func() { done <- insertBulk(ctx, client, o.warmup, o.batch, o.inflight) }()
		if _, _, err := waitCompleted(ctx, events, o.warmup, o.phaseTimeout, nil); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		if r := <-done; r.errors > 0 {
			return fmt.Errorf("warm-up: %d InsertManyFast calls failed: %v", r.errors, r.firstErr)
		}
	}

	cpuNow := func() (measure.CPU, error) {
		pg, err := measure.PostgresCPU(o.postmaster, o.clkTck)
		cpu := measure.CPU{"river-bench": measure.SelfCPU().Seconds()}
		if o.postmaster > 0 {
			cpu["postgres"] = pg
		}
		return cpu, err
	}
	// A latency run: n single jobs (Seq from offset) inserted at -rate/s, open loop, waited for
	// until every one completed; with withCPU, the CPU over it (first insert -> last completion).
	latencyRun := func(phase string, offset, n int, samplesOut string, withCPU bool) (measure.Latency, error) {
		lat := measure.Latency{System: "river", Config: o.config, Phase: phase, Rate: o.rate, Tasks: n, Settings: settings,
			Definition: "client: just before Client.Insert -> Work entered (same process, monotonic clock)"}
		progress("%s: %s, %d jobs at %.0f/s", o.config, phase, n, o.rate)
		submitted := make([]int64, n)
		var insertErrors atomic.Int64
		var wg sync.WaitGroup
		var lateMax time.Duration
		var dbLatency []time.Duration
		collect := func(ev *river.Event) {
			if ev.Job != nil && ev.Job.AttemptedAt != nil {
				dbLatency = append(dbLatency, ev.Job.AttemptedAt.Sub(ev.Job.CreatedAt))
			}
		}
		var last time.Time // the last completion
		waitDone := make(chan error, 1)
		go func() {
			var err error
			_, last, err = waitCompleted(ctx, events, n, o.phaseTimeout+time.Duration(float64(n)/o.rate*float64(time.Second)), collect)
			waitDone <- err
		}()
		var cpuBefore measure.CPU
		if withCPU {
			var err error
			if cpuBefore, err = cpuNow(); err != nil {
				return lat, err
			}
		}
		start := time.Now()
		lat.StartUnixMs = start.UnixMilli()
		for i := range n {
			due := start.Add(time.Duration(float64(i) / o.rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return lat, ctx.Err()
				}
			}
			lateMax = max(lateMax, time.Since(due))
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				submitted[i] = int64(time.Since(base))
				if _, err := client.Insert(ctx, noopArgs{Phase: phaseLatency, Seq: offset + i}, nil); err != nil {
					insertErrors.Add(1)
				}
			}(i)
		}
		wg.Wait()
		if err := <-waitDone; err != nil {
			return lat, fmt.Errorf("%s: %w", phase, err)
		}
		lat.Secs = last.Sub(start).Seconds()
		if withCPU {
			cpuAfter, err := cpuNow()
			if err != nil {
				return lat, err
			}
			lat.CPU, lat.CPUTotal = cpuAfter.Since(cpuBefore)
			lat.CPUPer1000 = lat.CPUTotal / float64(n) * 1000
		}
		var samples []time.Duration
		for i := range n {
			if s := worker.started[offset+i].Load(); s > 0 {
				samples = append(samples, time.Duration(max(s-submitted[i], 0)))
			}
		}
		if samplesOut != "" { // in submission order: a stall shows as a run of slow ones
			if err := measure.WriteSamples(samplesOut, samples); err != nil {
				return lat, err
			}
			lat.SamplesFile = filepath.Base(samplesOut)
		}
		slices.Sort(samples)
		slices.Sort(dbLatency)
		lat.Measured = len(samples)
		lat.P50, lat.P90, lat.P99, lat.Max = measure.Ms(measure.Quantile(samples, 0.50)), measure.Ms(measure.Quantile(samples, 0.90)), measure.Ms(measure.Quantile(samples, 0.99)), measure.Ms(measure.Quantile(samples, 1))
		lat.DBP50, lat.DBP99 = measure.Ms(measure.Quantile(dbLatency, 0.50)), measure.Ms(measure.Quantile(dbLatency, 0.99))
		lat.LateMax = measure.Ms(lateMax)
		lat.Errors = insertErrors.Load()
		progress("%s: %s p50 %.2f ms, p99 %.2f ms (%d samples)", o.config, phase, lat.P50, lat.P99, lat.Measured)
		return lat, nil
	}

	// 2. latency
	var lines []any // what goes to stdout, in this order
	if o.latencyJobs > 0 {
		lat, err := latencyRun("latency", 0, o.latencyJobs, o.samplesOut, true)
		if err != nil {
			return err
		}
		lines = append(lines, lat)
	}

	// 3. settle
	var pgLines []measure.PgLine
	snap := func(at string, tables querier) error {
		sn, err := takeSnapshot(ctx, admin, tables, o.db)
		if err != nil {
			return fmt.Errorf("PostgreSQL snapshot %q: %w", at, err)
		}
		pgLines = append(pgLines, measure.PgLine{System: "river", Config: o.config, Phase: "pg", At: at, Snapshot: sn})
		return nil
	}
	if err := snap("idle_start", nil); err != nil {
		return err
	}
	if o.settleSecs > 0 {
		progress("%s: %.0f s pause (statistics flush, CPU settles)", o.config, o.settleSecs)
		select {
		case <-time.After(time.Duration(o.settleSecs * float64(time.Second))):
		case <-ctx.Done():
			return ctx.Err()
		}
	}

	// 4. throughput
	progress("%s: throughput, %d jobs in batches of %d, %d in flight", o.config, o.tasks, o.batch, o.inflight)
	// Its table read is a transaction on the database: before the commit counter (read last).
	if err := snap("before", pool); err != nil {
		return err
	}
	tpBefore, err := cpuNow()
	if err != nil {
		return err
	}
	t0 := time.Now()
	done := make(chan bulkResult, 1)
	go func() { done <- insertBulk(ctx, client, o.tasks, o.batch, o.inflight) }()
	completed, last, err := waitCompleted(ctx, events, o.tasks, o.phaseTimeout, nil)
	if err != nil {
		return fmt.Errorf("throughput phase: %w", err)
	}
	elapsed := time.Since(t0)
	tpAfter, err := cpuNow()
	if err != nil {
		return err
	}
	// WAL and size only (no table read): a transaction on the database now would be counted.
	if err := snap("settled", nil); err != nil {
		return err
	}
	bulk := <-done
	cpu, total := tpAfter.Since(tpBefore)
	tp := measure.Throughput{
		System: "river", Config: o.config, Phase: "throughput", Tasks: o.tasks, Completed: completed,
		Batch: o.batch, Inflight: o.inflight, Workers: o.workers,
		Secs: elapsed.Seconds(), TasksPerSec: float64(completed) / elapsed.Seconds(), LastCompletionUnixMs: last.UnixMilli(),
		SubmitSecs: bulk.elapsed.Seconds(), SubmitPerSec: float64(o.tasks) / bulk.elapsed.Seconds(),
		CPU: cpu, CPUTotal: total, CPUPer1000: total / float64(o.tasks) * 1000,
		Settings: settings, Errors: bulk.errors,
	}
	progress("%s: %.0f jobs/s, %.3f CPU s per 1000 jobs", o.config, tp.TasksPerSec, tp.CPUPer1000)
	lines = append(lines, tp)
	if bulk.errors > 0 {
		return fmt.Errorf("%d InsertManyFast calls failed: %v", bulk.errors, bulk.firstErr)
	}

	// The run's commits and row counters, once every backend has published them (the client
	// keeps running: what it does meanwhile is measured from here to idle_end and subtracted).
	select {
	case <-time.After(time.Duration(o.settleSecs * float64(time.Second))):
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := snap("flushed", pool); err != nil {
		return err
	}

	// 5. after the burst
	if err := measure.UntilAfterBurst(ctx, last, time.Duration(o.afterWait*float64(time.Second)), time.Now(), 5*time.Second); err != nil {
		return err
	}
	if err := snap("idle_end", pool); err != nil {
		return err
	}
	if o.afterJobs > 0 {
		lat, err := latencyRun("latency_after_burst", o.latencyJobs, o.afterJobs, o.afterOut, false)
		if err != nil {
			return err
		}
		lines = append(lines, lat)
	}

	// 6. single inserts
	if o.singleTasks > 0 {
		progress("%s: single inserts, %d jobs, %d in flight", o.config, o.singleTasks, o.singleInflight)
		r := insertSingles(ctx, client, o.singleTasks, o.singleInflight)
		single := measure.Single{System: "river", Config: o.config, Phase: "single", Tasks: o.singleTasks, Inflight: o.singleInflight,
			SubmitSecs: r.elapsed.Seconds(), SubmitPerSec: float64(o.singleTasks) / r.elapsed.Seconds(), Errors: r.errors}
		progress("%s: %.0f single inserts/s", o.config, single.SubmitPerSec)
		lines = append(lines, single)
		if r.errors > 0 {
			return fmt.Errorf("%d Client.Insert calls failed: %v", r.errors, r.firstErr)
		}
	}

	out := json.NewEncoder(os.Stdout)
	for _, line := range lines {
		if err := out.Encode(line); err != nil {
			return err
		}
	}
	for i := range pgLines {
		if err := out.Encode(pgLines[i]); err != nil {
			return err
		}
	}
	return nil
}

type bulkResult struct {
	elapsed  time.Duration
	errors   int64
	firstErr error
}

// insertBulk inserts n no-op jobs with InsertManyFast, batch at a time, inflight calls at once.
func insertBulk(ctx context.Context, client *river.Client[pgx.Tx], n, batch, inflight int) bulkResult {
	start := time.Now()
	var next atomic.Int64
	var errs atomic.Int64
	var firstErr atomic.Value
	batches := (n + batch - 1) / batch
	var wg sync.WaitGroup
	for range inflight {
		wg.Go(func() {
			for {
				b := int(next.Add(1)) - 1
				if b >= batches {
					return
				}
				size := min(batch, n-b*batch)
				params := make([]river.InsertManyParams, size)
				for i := range params {
					params[i] = river.InsertManyParams{Args: noopArgs{Phase: phaseBulk, Seq: -1}}
				}
				if _, err := client.InsertManyFast(ctx, params); err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		})
	}
	wg.Wait()
	r := bulkResult{elapsed: time.Since(start), errors: errs.Load()}
	if e, ok := firstErr.Load().(error); ok {
		r.firstErr = e
	}
	return r
}

// insertSingles inserts n no-op jobs with one Client.Insert each, inflight calls at once.
func insertSingles(ctx context.Context, client *river.Client[pgx.Tx], n, inflight int) bulkResult {
	start := time.Now()
	var next, errs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range inflight {
		wg.Go(func() {
			for int(next.Add(1)) <= n {
				if _, err := client.Insert(ctx, noopArgs{Phase: phaseBulk, Seq: -1}, nil); err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		})
	}
	wg.Wait()
	r := bulkResult{elapsed: time.Since(start), errors: errs.Load()}
	if e, ok := firstErr.Load().(error); ok {
		r.firstErr = e
	}
	return r
}

// waitCompleted reads n finished-job events; fails on a failed/cancelled job or after timeout.
func waitCompleted(ctx context.Context, events <-chan *river.Event, n int, timeout time.Duration, each func(*river.Event)) (int, time.Time, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	completed := 0
	var last time.Time
	for completed < n {
		select {
		case ev, ok := <-events:
			if !ok {
				return completed, last, errors.New("the event subscription closed")
			}
			if ev.Kind != river.EventKindJobCompleted {
				return completed, last, fmt.Errorf("a job ended with %s", ev.Kind)
			}
			completed++
			last = time.Now()
			if each != nil {
				each(ev)
			}
		case <-deadline.C:
			return completed, last, fmt.Errorf("timed out after %s: %d of %d jobs completed", timeout, completed, n)
		case <-ctx.Done():
			return completed, last, ctx.Err()
		}
	}
	return completed, last, nil
}

// querier: a pool or a single connection to the measured database.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// readTables adds "river.<table>" -> [n_tup_ins, n_tup_upd, n_tup_del] of every user table.
func readTables(ctx context.Context, tables querier, into map[string][3]int64) error {
	rows, err := tables.Query(ctx, "SELECT schemaname, relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var schema, rel string
		var c [3]int64
		if err := rows.Scan(&schema, &rel, &c[0], &c[1], &c[2]); err != nil {
			return err
		}
		if schema != "public" {
			rel = schema + "." + rel
		}
		into["river."+rel] = c
	}
	return rows.Err()
}

// takeSnapshot reads the WAL position and the database's size through admin, and its tables'
// row counters through tables (pg_stat_user_tables is per database; nil: not read).
func takeSnapshot(ctx context.Context, admin *pgx.Conn, tables querier, db string) (*measure.PgSnapshot, error) {
	sn := &measure.PgSnapshot{UnixMs: time.Now().UnixMilli(), DBBytes: map[string]int64{}, Tables: map[string][3]int64{}}
	if tables != nil {
		if err := readTables(ctx, tables, sn.Tables); err != nil {
			return nil, err
		}
	}
	// After the table read (a transaction on the database: "before" must come after it).
	var size int64
	if err := admin.QueryRow(ctx, "SELECT pg_database_size($1::text), (SELECT coalesce(xact_commit, 0) FROM pg_stat_database WHERE datname = $1)", db).Scan(&size, &sn.Commits); err != nil {
		return nil, err
	}
	sn.DBBytes[db] = size
	if err := admin.QueryRow(ctx, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::int8").Scan(&sn.WalLSN); err != nil {
		return nil, err
	}
	return sn, nil
}
