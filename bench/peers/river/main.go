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
//     clock). Every sample goes to -samples-out (microseconds, one per line, in submission order);
//  3. a pause of -settle-secs (PostgreSQL flushes a backend's statistics up to 10 s late);
//  4. throughput: -tasks jobs inserted with InsertManyFast in batches of -batch, -inflight
//     batches in flight, while the workers run; time from the first insert to the last
//     JobCompleted event (sent after River's completer committed the job's completion). CPU
//     seconds of this process (getrusage) and of every process of the PostgreSQL cluster
//     (/proc/<pid>/stat of the postmaster, including its reaped children, and of its live
//     children) are read just before the first insert and right after the last completion;
//     PostgreSQL commits are pg_stat_database.xact_commit of the throwaway database, read
//     before, and after the client stopped and its connections closed (a backend flushes its
//     counters when it exits). PostgreSQL's own accounting of the throughput phase, as JSON lines
//     of phase "pg" (see pgSnapshot), taken at four points: "idle_start" (the pause begins),
//     "before" (the first insert), "settled" (the last completion) and "stopped" (the client
//     stopped and every backend of the database exited, so its table counters are flushed).
//     bench-peers-report turns them into row writes per task (pg_stat_user_tables), WAL bytes
//     per task (pg_current_wal_lsn: the whole cluster's) and database growth (pg_database_size).
//
// Prints one JSON object per measured phase on stdout (see the `throughput` and `latency`
// types); progress and River's warnings go to stderr.
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
	keep           bool
	phaseTimeout   time.Duration
	latencyJobs    int
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
	if o.tasks < 1 || o.batch < 1 || o.inflight < 1 || o.workers < 1 || o.rate <= 0 || o.clkTck < 1 {
		fail(errors.New("-tasks, -batch, -inflight, -workers, -rate and -clk-tck must be positive"))
	}
	o.latencyJobs = int(math.Round(o.rate * o.latencySecs))
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
	poolOpen := true
	defer func() {
		if poolOpen {
			pool.Close()
		}
	}()

	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("River migrations: %w", err)
	}

	base := time.Now()
	worker := &noopWorker{base: base, started: make([]atomic.Int64, o.latencyJobs)}
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
		ChanSize: o.warmup + o.latencyJobs + o.tasks + 1000,
		Kinds:    []river.EventKind{river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled},
	})
	defer unsubscribe()
	if err := client.Start(ctx); err != nil {
		return err
	}
	clientRunning := true
	defer func() {
		if clientRunning {
			stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = client.Stop(stopCtx)
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

	// 2. latency
	lat := measure.Latency{System: "river", Config: o.config, Phase: "latency", Rate: o.rate, Tasks: o.latencyJobs, Settings: settings,
		Definition: "client: just before Client.Insert -> Work entered (same process, monotonic clock)"}
	if o.latencyJobs > 0 {
		progress("%s: latency, %d jobs at %.0f/s", o.config, o.latencyJobs, o.rate)
		submitted := make([]int64, o.latencyJobs)
		var insertErrors atomic.Int64
		var wg sync.WaitGroup
		var lateMax time.Duration
		var dbLatency []time.Duration
		collect := func(ev *river.Event) {
			if ev.Job != nil && ev.Job.AttemptedAt != nil {
				dbLatency = append(dbLatency, ev.Job.AttemptedAt.Sub(ev.Job.CreatedAt))
			}
		}
		waitDone := make(chan error, 1)
		go func() {
			_, _, err := waitCompleted(ctx, events, o.latencyJobs, o.phaseTimeout+time.Duration(o.latencySecs*float64(time.Second)), collect)
			waitDone <- err
		}()
		start := time.Now()
		for i := range o.latencyJobs {
			due := start.Add(time.Duration(float64(i) / o.rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			lateMax = max(lateMax, time.Since(due))
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				submitted[i] = int64(time.Since(base))
				if _, err := client.Insert(ctx, noopArgs{Phase: phaseLatency, Seq: i}, nil); err != nil {
					insertErrors.Add(1)
				}
			}(i)
		}
		wg.Wait()
		if err := <-waitDone; err != nil {
			return fmt.Errorf("latency phase: %w", err)
		}
		var samples []time.Duration
		for i := range o.latencyJobs {
			if s := worker.started[i].Load(); s > 0 {
				samples = append(samples, time.Duration(max(s-submitted[i], 0)))
			}
		}
		if o.samplesOut != "" { // in submission order: a stall shows as a run of slow ones
			if err := measure.WriteSamples(o.samplesOut, samples); err != nil {
				return err
			}
			lat.SamplesFile = filepath.Base(o.samplesOut)
		}
		slices.Sort(samples)
		slices.Sort(dbLatency)
		lat.Measured = len(samples)
		lat.P50, lat.P90, lat.P99, lat.Max = measure.Ms(measure.Quantile(samples, 0.50)), measure.Ms(measure.Quantile(samples, 0.90)), measure.Ms(measure.Quantile(samples, 0.99)), measure.Ms(measure.Quantile(samples, 1))
		lat.DBP50, lat.DBP99 = measure.Ms(measure.Quantile(dbLatency, 0.50)), measure.Ms(measure.Quantile(dbLatency, 0.99))
		lat.LateMax = measure.Ms(lateMax)
		lat.Errors = insertErrors.Load()
		progress("%s: latency p50 %.2f ms, p99 %.2f ms (%d samples)", o.config, lat.P50, lat.P99, lat.Measured)
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
	// Its table read is a transaction on the database: before the commit counter is read.
	if err := snap("before", pool); err != nil {
		return err
	}
	commitsBefore, err := xactCommit(ctx, admin, o.db)
	if err != nil {
		return err
	}
	selfBefore := measure.SelfCPU()
	pgBefore, err := measure.PostgresCPU(o.postmaster, o.clkTck)
	if err != nil {
		return err
	}
	t0 := time.Now()
	done := make(chan bulkResult, 1)
	go func() { done <- insertBulk(ctx, client, o.tasks, o.batch, o.inflight) }()
	completed, _, err := waitCompleted(ctx, events, o.tasks, o.phaseTimeout, nil)
	if err != nil {
		return fmt.Errorf("throughput phase: %w", err)
	}
	elapsed := time.Since(t0)
	selfAfter := measure.SelfCPU()
	pgAfter, err := measure.PostgresCPU(o.postmaster, o.clkTck)
	if err != nil {
		return err
	}
	// WAL and size only (no table read): a transaction on the database now would be counted.
	if err := snap("settled", nil); err != nil {
		return err
	}
	bulk := <-done

	// Stop the client and close the pool: every backend of the database flushes its statistics
	// when it exits.
	stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = client.Stop(stopCtx)
	cancel()
	clientRunning = false
	if err != nil {
		return fmt.Errorf("stopping the client: %w", err)
	}
	pool.Close()
	poolOpen = false
	if err := waitNoBackends(ctx, admin, o.db, 60*time.Second); err != nil {
		progress("warning: %v (commits may be undercounted)", err)
	}
	commitsAfter, err := xactCommit(ctx, admin, o.db)
	if err != nil {
		return err
	}
	// A connection of its own: the pool is closed, and this backend's reads write no rows.
	tablesConn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return fmt.Errorf("connecting to %s for its table statistics: %w", o.db, err)
	}
	err = snap("stopped", tablesConn)
	tablesConn.Close(context.Background())
	if err != nil {
		return err
	}

	cpu := map[string]float64{"river-bench": (selfAfter - selfBefore).Seconds()}
	if o.postmaster > 0 {
		cpu["postgres"] = pgAfter - pgBefore
	}
	var total float64
	for _, v := range cpu {
		total += v
	}
	tp := measure.Throughput{
		System: "river", Config: o.config, Phase: "throughput", Tasks: o.tasks, Completed: completed,
		Batch: o.batch, Inflight: o.inflight, Workers: o.workers,
		Secs: elapsed.Seconds(), TasksPerSec: float64(completed) / elapsed.Seconds(),
		SubmitSecs: bulk.elapsed.Seconds(), SubmitPerSec: float64(o.tasks) / bulk.elapsed.Seconds(),
		CPU: cpu, CPUTotal: total, CPUPer1000: total / float64(o.tasks) * 1000,
		Commits: commitsAfter - commitsBefore, CommitsPerTask: float64(commitsAfter-commitsBefore) / float64(o.tasks),
		Settings: settings, Errors: bulk.errors,
	}
	progress("%s: %.0f jobs/s, %.3f CPU s per 1000 jobs, %.3f commits per job", o.config, tp.TasksPerSec, tp.CPUPer1000, tp.CommitsPerTask)

	out := json.NewEncoder(os.Stdout)
	if o.latencyJobs > 0 {
		if err := out.Encode(lat); err != nil {
			return err
		}
	}
	if err := out.Encode(tp); err != nil {
		return err
	}
	for i := range pgLines {
		if err := out.Encode(pgLines[i]); err != nil {
			return err
		}
	}
	if bulk.errors > 0 {
		return fmt.Errorf("%d InsertManyFast calls failed: %v", bulk.errors, bulk.firstErr)
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
	var size int64
	if err := admin.QueryRow(ctx, "SELECT pg_database_size($1::text)", db).Scan(&size); err != nil {
		return nil, err
	}
	sn.DBBytes[db] = size
	if err := admin.QueryRow(ctx, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::int8").Scan(&sn.WalLSN); err != nil {
		return nil, err
	}
	return sn, nil
}

func xactCommit(ctx context.Context, admin *pgx.Conn, db string) (int64, error) {
	var n int64
	err := admin.QueryRow(ctx, "SELECT coalesce(xact_commit, 0) FROM pg_stat_database WHERE datname = $1", db).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("reading pg_stat_database: %w", err)
	}
	return n, nil
}

// waitNoBackends waits until no session is connected to db, then a little longer: a backend
// leaves pg_stat_activity just before it flushes its statistics.
func waitNoBackends(ctx context.Context, admin *pgx.Conn, db string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var n int
		if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", db).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			time.Sleep(300 * time.Millisecond)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d sessions still connected to %s after %s", n, db, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
