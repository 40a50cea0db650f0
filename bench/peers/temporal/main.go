// temporal-bench: the Temporal side of `make bench-peers` (bench/bench-peers.sh).
//
// Load generator and worker in one process (Go SDK), against a Temporal server the script
// started (bench/peers/temporal/server.yaml: PostgreSQL persistence, postgres12 plugin, a main
// and a visibility database it created and applied the schemas to). The workload is the shape of
// Temporal's own load generator's single-no-op-activity scenario: one workflow per task that runs
// one no-op activity and returns. It registers the namespace -namespace, starts one worker on
// -task-queue (-workers workflow task and activity slots) and measures, in this order (the same
// phases river-bench runs):
//
//  1. warm-up: -warmup workflows started and run to completion (not measured);
//  2. latency: single workflows started at -rate/s for -latency-secs (open loop: each
//     StartWorkflowExecution is its own goroutine, started on schedule); submit -> started is the
//     time from just before Client.ExecuteWorkflow to the moment the activity function is entered
//     (one process, monotonic clock). Every sample goes to -samples-out (µs, one per line, in
//     submission order). CPU seconds of this process (getrusage: the starts and the worker), of
//     the server (-server-pid, /proc/<pid>/stat) and of every process of the PostgreSQL cluster
//     from just before the first start until the visibility table shows every one completed:
//     the CPU per task at a steady rate of single starts;
//  3. a pause of -settle-secs (PostgreSQL flushes a backend's statistics up to 10 s late);
//  4. throughput: -tasks workflows started in batches of -batch (the starts of a batch
//     concurrently: Temporal has no batch start), -inflight batches in flight, while the worker
//     runs; time from the first start to the moment the visibility table
//     (executions_visibility of -vis-db) shows every workflow completed. The visibility table is
//     read (one count per read) every -poll-ms once the worker has seen every workflow function
//     return, and every second before that; those reads are this program's own transactions and
//     are subtracted from the commits. CPU seconds as in 2, read just before the first start and
//     right after the last completion was seen. The PostgreSQL snapshots (JSON lines of phase
//     "pg": idle_start, before, settled, flushed -settle-secs later, idle_end) are the ones
//     river-bench prints, over both databases ("temporal.<table>",
//     "temporal_visibility.<table>"), xact_commit summed over both;
//  5. after the burst: once -after-burst-wait has passed since the last completion (and at least
//     5 s after "flushed"), single workflows at -rate/s for -after-burst-secs, measured as in 2
//     (samples to -after-burst-samples-out, no CPU);
//  6. single starts: -single-tasks workflows, one ExecuteWorkflow each, from -single-inflight
//     goroutines with no rate limit while the worker runs: workflows / time from the first start
//     to the last start's return (the workflows are not waited for).
//
// Then the worker stops and the server gets SIGTERM (it must exit within 60 s). Prints one JSON
// object per measured phase on stdout, in the shape river-bench prints; progress goes to stderr.
package main

import (
	"cmp"
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
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/types/known/durationpb"

	"taskflow.local/bench/peers/measure"
)

const (
	phaseWarmup     = 0
	phaseLatency    = 1 // Seq indexes the submit/start arrays
	phaseThroughput = 2
	phaseSingle     = 3
	sdkVersion      = "v1.51.0"
)

// Task is the workflow's (and its activity's) input.
type Task struct {
	Phase int `json:"phase"`
	Seq   int `json:"seq"`
}

// bench holds what the workflow and the activity note down in this process.
type bench struct {
	base       time.Time
	started    []atomic.Int64 // latency tasks: ns since base when the activity was entered
	dbLatency  []atomic.Int64 // latency tasks: activity StartedTime - workflow start (server clock), ns
	returned   [4]atomic.Int64
	lastReturn atomic.Int64 // ns since base: the last workflow function returned
}

var b *bench

// NoopWorkflow runs one no-op activity and returns.
func NoopWorkflow(ctx workflow.Context, t Task) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	start := workflow.GetInfo(ctx).WorkflowStartTime
	if err := workflow.ExecuteActivity(ctx, NoopActivity, t, start).Get(ctx, nil); err != nil {
		return err
	}
	if !workflow.IsReplaying(ctx) && t.Phase >= 0 && t.Phase < len(b.returned) {
		b.returned[t.Phase].Add(1)
		b.lastReturn.Store(int64(time.Since(b.base)))
	}
	return nil
}

// NoopActivity does nothing; for latency tasks it notes when it was entered.
func NoopActivity(ctx context.Context, t Task, workflowStart time.Time) error {
	if t.Phase == phaseLatency && t.Seq >= 0 && t.Seq < len(b.started) {
		b.started[t.Seq].CompareAndSwap(0, max(int64(time.Since(b.base)), 1))
		if !workflowStart.IsZero() {
			b.dbLatency[t.Seq].Store(max(int64(activity.GetInfo(ctx).StartedTime.Sub(workflowStart)), 1))
		}
	}
	return nil
}

type options struct {
	adminURL     string
	db           string
	visDB        string
	frontend     string
	namespace    string
	taskQueue    string
	config       string
	workers      int
	wfPollers    int
	actPollers   int
	eagerStart   bool
	tasks        int
	batch        int
	inflight     int
	warmup       int
	rate         float64
	latencySecs  float64
	settleSecs   float64
	timeoutSecs  float64
	pollMs       int
	postmaster   int
	serverPid    int
	clkTck       int
	samplesOut   string
	afterWait    float64
	afterSecs    float64
	afterOut     string
	singleTasks  int
	singleFlight int
	settings     settingsFlag
	phaseTimeout time.Duration
	latencyJobs  int
	afterJobs    int
}

type settingsFlag map[string]string

func (s settingsFlag) String() string { return fmt.Sprint(map[string]string(s)) }
func (s settingsFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok {
		return errors.New("expected KEY=VALUE")
	}
	s[k] = val
	return nil
}

func main() {
	o := options{settings: settingsFlag{}}
	flag.StringVar(&o.adminURL, "admin-url", os.Getenv("DATABASE_URL_ADMIN"), "URL of the cluster's maintenance database (default $DATABASE_URL_ADMIN)")
	flag.StringVar(&o.db, "db", "", "the server's main database (created and dropped by the script)")
	flag.StringVar(&o.visDB, "vis-db", "", "the server's visibility database")
	flag.StringVar(&o.frontend, "frontend", "127.0.0.1:17233", "the server's frontend (gRPC)")
	flag.StringVar(&o.namespace, "namespace", "bench", "namespace to register and use")
	flag.StringVar(&o.taskQueue, "task-queue", "bench", "task queue of the workflows and activities")
	flag.StringVar(&o.config, "config", "default", "label of the configuration (default, tuned)")
	flag.IntVar(&o.workers, "workers", 100, "the worker's workflow task and activity slots (each)")
	flag.IntVar(&o.wfPollers, "wf-pollers", 0, "workflow task pollers (0: the SDK's default, 2)")
	flag.IntVar(&o.actPollers, "act-pollers", 0, "activity task pollers (0: the SDK's default, 2)")
	flag.BoolVar(&o.eagerStart, "eager-start", false, "request eager workflow start (the first workflow task comes back with the start)")
	flag.IntVar(&o.tasks, "tasks", 20000, "workflows in the throughput phase")
	flag.IntVar(&o.batch, "batch", 100, "workflows started together (one batch)")
	flag.IntVar(&o.inflight, "inflight", 4, "batches in flight")
	flag.IntVar(&o.warmup, "warmup", 1000, "warm-up workflows run to completion first")
	flag.Float64Var(&o.rate, "rate", 100, "workflows/s in the latency phase")
	flag.Float64Var(&o.latencySecs, "latency-secs", 20, "length of the latency phase")
	flag.Float64Var(&o.settleSecs, "settle-secs", 11, "pause between the latency and the throughput phase")
	flag.Float64Var(&o.timeoutSecs, "timeout-secs", 300, "give up a phase after this long")
	flag.IntVar(&o.pollMs, "poll-ms", 20, "visibility reads this often once the worker saw every workflow return")
	flag.IntVar(&o.postmaster, "pg-postmaster", 0, "pid of the cluster's postmaster (0: PostgreSQL CPU is not measured)")
	flag.IntVar(&o.serverPid, "server-pid", 0, "pid of the Temporal server (its CPU is measured; it gets SIGTERM at the end)")
	flag.IntVar(&o.clkTck, "clk-tck", 100, "clock ticks per second of /proc/<pid>/stat (getconf CLK_TCK)")
	flag.StringVar(&o.samplesOut, "samples-out", "", "write the latency samples (µs, one per line) here")
	flag.Float64Var(&o.afterWait, "after-burst-wait", 30, "the latency run after the burst starts this many seconds after its last completion")
	flag.Float64Var(&o.afterSecs, "after-burst-secs", 10, "length of the latency run after the burst (0: none)")
	flag.StringVar(&o.afterOut, "after-burst-samples-out", "", "write the samples of the latency run after the burst here")
	flag.IntVar(&o.singleTasks, "single-tasks", 3000, "workflows started one per ExecuteWorkflow at the end (0: none)")
	flag.IntVar(&o.singleFlight, "single-inflight", 16, "ExecuteWorkflow calls in flight in the single-start phase")
	flag.Var(o.settings, "setting", "KEY=VALUE shown with the results (the server's configuration); repeat")
	flag.Parse()

	ident := regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
	if !ident.MatchString(o.db) || !ident.MatchString(o.visDB) {
		fail(fmt.Errorf("-db and -vis-db must be lower-case identifiers, got %q and %q", o.db, o.visDB))
	}
	if o.adminURL == "" {
		fail(errors.New("set -admin-url or DATABASE_URL_ADMIN"))
	}
	if o.tasks < 1 || o.batch < 1 || o.inflight < 1 || o.workers < 2 || o.rate <= 0 || o.clkTck < 1 || o.pollMs < 1 || o.singleFlight < 1 {
		fail(errors.New("-tasks, -batch, -inflight, -rate, -poll-ms, -single-inflight and -clk-tck must be positive, -workers at least 2"))
	}
	if o.serverPid <= 0 {
		fail(errors.New("-server-pid is needed (its CPU is measured, and it gets SIGTERM at the end)"))
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
	fmt.Fprintf(os.Stderr, "temporal-bench: %v\n", err)
	os.Exit(1)
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[temporal-bench] "+format+"\n", args...)
}

func dbURL(admin, db string) (string, error) {
	u, err := url.Parse(admin)
	if err != nil {
		return "", fmt.Errorf("admin URL: %w", err)
	}
	u.Path = "/" + db
	return u.String(), nil
}

// connectSimple opens a connection that sends every statement with the simple protocol: one
// statement, one transaction, so this program's own commits are exactly its statements.
func connectSimple(ctx context.Context, rawURL string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, err
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	return pgx.ConnectConfig(ctx, cfg)
}

// visibility counts the workflows of the namespace the visibility table shows closed: completed,
// and closed otherwise (failed, timed out, terminated, ...). Each read is one transaction.
type visibility struct {
	conn  *pgx.Conn
	reads int64
}

func (v *visibility) count(ctx context.Context) (completed, otherwise int64, err error) {
	v.reads++
	err = v.conn.QueryRow(ctx, "SELECT count(*) FILTER (WHERE status = 2), count(*) FILTER (WHERE status > 2) FROM executions_visibility").Scan(&completed, &otherwise)
	return completed, otherwise, err
}

// waitCompleted waits until the visibility table shows `want` workflows completed (every
// workflow of the run so far) and returns when it saw that. It reads every -poll-ms once the
// worker has seen `phaseWant` workflow functions of `phase` return, every second before.
func waitCompleted(ctx context.Context, o *options, vis *visibility, want int64, phase int, phaseWant int64, timeout time.Duration, failed *atomic.Int64) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	lastRead := time.Time{}
	for {
		if failed != nil && failed.Load() > 0 {
			return time.Time{}, fmt.Errorf("%d workflows could not be started (5 attempts each)", failed.Load())
		}
		now := time.Now()
		fast := b.returned[phase].Load() >= phaseWant
		if fast || now.Sub(lastRead) >= time.Second {
			lastRead = now
			done, other, err := vis.count(ctx)
			if err != nil {
				return time.Time{}, fmt.Errorf("reading executions_visibility: %w", err)
			}
			if other > 0 {
				return time.Time{}, fmt.Errorf("%d workflows closed without completing", other)
			}
			if done >= want {
				return time.Now(), nil
			}
			if now.After(deadline) {
				return time.Time{}, fmt.Errorf("timed out after %s: %d of %d workflows completed (visibility), %d of %d returned in the worker",
					timeout, done, want, b.returned[phase].Load(), phaseWant)
			}
		}
		wait := time.Duration(o.pollMs) * time.Millisecond
		if !fast {
			wait = 5 * time.Millisecond // watch the worker's count closely, read the table every second
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

func run(ctx context.Context, o *options) (err error) {
	admin, err := pgx.Connect(ctx, o.adminURL)
	if err != nil {
		return fmt.Errorf("connecting to the admin database: %w", err)
	}
	defer admin.Close(context.Background())
	mainURL, err := dbURL(o.adminURL, o.db)
	if err != nil {
		return err
	}
	visURL, err := dbURL(o.adminURL, o.visDB)
	if err != nil {
		return err
	}

	logger := log.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	ns, err := client.NewNamespaceClient(client.Options{HostPort: o.frontend, Logger: logger})
	if err != nil {
		return fmt.Errorf("connecting to the frontend %s: %w", o.frontend, err)
	}
	// The frontend listens before every service is ready: retry for a minute.
	for i := 0; ; i++ {
		err = ns.Register(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace:                        o.namespace,
			WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
		})
		var exists *serviceerror.NamespaceAlreadyExists
		if err == nil || errors.As(err, &exists) {
			break
		}
		if i >= 120 || ctx.Err() != nil {
			ns.Close()
			return fmt.Errorf("registering namespace %s: %w", o.namespace, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// The services learn of a new namespace when they refresh their registry (every few s).
	for i := 0; ; i++ {
		if _, err = ns.Describe(ctx, o.namespace); err == nil {
			break
		}
		if i > 300 {
			ns.Close()
			return fmt.Errorf("namespace %s not visible after 30 s: %w", o.namespace, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	ns.Close()

	c, err := client.Dial(client.Options{HostPort: o.frontend, Namespace: o.namespace, Logger: logger})
	if err != nil {
		return fmt.Errorf("connecting to the frontend %s: %w", o.frontend, err)
	}
	clientOpen := true
	defer func() {
		if clientOpen {
			c.Close()
		}
	}()

	// Latency workflows: Seq 0.. before the burst, latencyJobs.. after it.
	nLat := o.latencyJobs + o.afterJobs
	b = &bench{base: time.Now(), started: make([]atomic.Int64, nLat), dbLatency: make([]atomic.Int64, nLat)}
	wopts := worker.Options{
		MaxConcurrentActivityExecutionSize:     o.workers,
		MaxConcurrentWorkflowTaskExecutionSize: o.workers,
		MaxConcurrentWorkflowTaskPollers:       o.wfPollers,
		MaxConcurrentActivityTaskPollers:       o.actPollers,
	}
	w := worker.New(c, o.taskQueue, wopts)
	w.RegisterWorkflow(NoopWorkflow)
	w.RegisterActivity(NoopActivity)
	if err := w.Start(); err != nil {
		return fmt.Errorf("starting the worker: %w", err)
	}
	workerRunning := true
	defer func() {
		if workerRunning {
			w.Stop()
		}
	}()

	vconn, err := connectSimple(ctx, visURL)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", o.visDB, err)
	}
	vis := &visibility{conn: vconn}
	visOpen := true
	defer func() {
		if visOpen {
			vconn.Close(context.Background())
		}
	}()

	settings := map[string]string{
		"temporal_sdk": "go " + sdkVersion,
		"workers":      strconv.Itoa(o.workers),
		"wf_pollers":   strconv.Itoa(o.wfPollers),
		"act_pollers":  strconv.Itoa(o.actPollers),
		"eager_start":  strconv.FormatBool(o.eagerStart),
	}
	if o.wfPollers == 0 {
		settings["wf_pollers"] = "2 (SDK default)"
	}
	if o.actPollers == 0 {
		settings["act_pollers"] = "2 (SDK default)"
	}
	for k, v := range o.settings {
		settings[k] = v
	}
	// A start the server does not answer in time (an overloaded machine) is sent again, up to 5
	// times: the workflow id makes it idempotent (already started = started).
	var retries atomic.Int64
	start := func(ctx context.Context, phase, seq int) error {
		id := fmt.Sprintf("%c-%d", "wlts"[phase], seq)
		for attempt := 1; ; attempt++ {
			_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
				ID: id, TaskQueue: o.taskQueue, EnableEagerStart: o.eagerStart && attempt == 1,
			}, NoopWorkflow, Task{Phase: phase, Seq: seq})
			var started *serviceerror.WorkflowExecutionAlreadyStarted
			if err == nil || (attempt > 1 && errors.As(err, &started)) {
				return nil
			}
			if attempt == 5 || ctx.Err() != nil {
				return err
			}
			retries.Add(1)
		}
	}
	var expected int64 // workflows started so far, all of which must complete

	// 1. warm-up
	if o.warmup > 0 {
		progress("%s: warm-up, %d workflows", o.config, o.warmup)
		r := startBulk(ctx, start, phaseWarmup, o.warmup, o.batch, o.inflight)
		if r.errors > 0 {
			return fmt.Errorf("warm-up: %d starts failed: %v", r.errors, r.firstErr)
		}
		expected += int64(o.warmup)
		if _, err := waitCompleted(ctx, o, vis, expected, phaseWarmup, int64(o.warmup), o.phaseTimeout, nil); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}

	cpuNow := func() (measure.CPU, error) {
		server, err := procCPU(o.serverPid, o.clkTck)
		if err != nil {
			return nil, fmt.Errorf("the server's CPU: %w", err)
		}
		cpu := measure.CPU{"temporal-bench": measure.SelfCPU().Seconds(), "temporal-server": server}
		if o.postmaster > 0 {
			cpu["postgres"], err = measure.PostgresCPU(o.postmaster, o.clkTck)
		}
		return cpu, err
	}
	// A latency run: n single workflows (Seq from offset) started at -rate/s, open loop, waited
	// for until the visibility table shows every one completed; with withCPU, the CPU over it.
	latencyRun := func(phase string, offset, n int, samplesOut string, withCPU bool) (measure.Latency, error) {
		lat := measure.Latency{System: "temporal", Config: o.config, Phase: phase, Rate: o.rate, Tasks: n, Settings: settings,
			Definition: "client: just before Client.ExecuteWorkflow -> the workflow's one activity entered (same process, monotonic clock)"}
		progress("%s: %s, %d workflows at %.0f/s", o.config, phase, n, o.rate)
		submitted := make([]int64, n)
		var startErrors atomic.Int64
		var wg sync.WaitGroup
		var lateMax time.Duration
		var cpuBefore measure.CPU
		if withCPU {
			var err error
			if cpuBefore, err = cpuNow(); err != nil {
				return lat, err
			}
		}
		t0 := time.Now()
		lat.StartUnixMs = t0.UnixMilli()
		for i := range n {
			due := t0.Add(time.Duration(float64(i) / o.rate * float64(time.Second)))
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
				submitted[i] = int64(time.Since(b.base))
				if err := start(ctx, phaseLatency, offset+i); err != nil {
					startErrors.Add(1)
				}
			}(i)
		}
		wg.Wait()
		if n := startErrors.Load(); n > 0 {
			return lat, fmt.Errorf("%s: %d starts failed", phase, n)
		}
		expected += int64(n)
		finished, err := waitCompleted(ctx, o, vis, expected, phaseLatency, int64(offset+n), o.phaseTimeout, nil)
		if err != nil {
			return lat, fmt.Errorf("%s: %w", phase, err)
		}
		lat.Secs = finished.Sub(t0).Seconds()
		if withCPU {
			cpuAfter, err := cpuNow()
			if err != nil {
				return lat, err
			}
			lat.CPU, lat.CPUTotal = cpuAfter.Since(cpuBefore)
			lat.CPUPer1000 = lat.CPUTotal / float64(n) * 1000
		}
		var samples, dbLatency []time.Duration
		for i := offset; i < offset+n; i++ {
			if s := b.started[i].Load(); s > 0 {
				samples = append(samples, time.Duration(max(s-submitted[i-offset], 0)))
			}
			if d := b.dbLatency[i].Load(); d > 0 {
				dbLatency = append(dbLatency, time.Duration(d))
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
	dbs := []string{o.db, o.visDB}
	var pgLines []measure.PgLine
	snap := func(at string, tables bool) error {
		sn, err := takeSnapshot(ctx, admin, tables, map[string]string{"temporal": mainURL, "temporal_visibility": visURL}, dbs)
		if err != nil {
			return fmt.Errorf("PostgreSQL snapshot %q: %w", at, err)
		}
		pgLines = append(pgLines, measure.PgLine{System: "temporal", Config: o.config, Phase: "pg", At: at, Snapshot: sn})
		return nil
	}
	if err := snap("idle_start", false); err != nil {
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
	progress("%s: throughput, %d workflows in batches of %d, %d in flight", o.config, o.tasks, o.batch, o.inflight)
	// Its table reads are transactions on the databases: before the commit counters (read last).
	if err := snap("before", true); err != nil {
		return err
	}
	readsBefore := vis.reads
	tpBefore, err := cpuNow()
	if err != nil {
		return err
	}
	t0 := time.Now()
	t0Rel := int64(t0.Sub(b.base))
	done := make(chan bulkResult, 1)
	var startFailures atomic.Int64
	go func() {
		r := startBulk(ctx, start, phaseThroughput, o.tasks, o.batch, o.inflight)
		startFailures.Store(r.errors)
		done <- r
	}()
	expected += int64(o.tasks)
	finished, err := waitCompleted(ctx, o, vis, expected, phaseThroughput, int64(o.tasks), o.phaseTimeout, &startFailures)
	if err != nil {
		return fmt.Errorf("throughput phase: %w", err)
	}
	elapsed := finished.Sub(t0)
	tpAfter, err := cpuNow()
	if err != nil {
		return err
	}
	// WAL and sizes only (no table read): a transaction on the databases now would be counted.
	if err := snap("settled", false); err != nil {
		return err
	}
	ownCommits := vis.reads - readsBefore
	bulk := <-done
	doneSecs := time.Duration(b.lastReturn.Load() - t0Rel).Seconds()
	cpu, total := tpAfter.Since(tpBefore)
	tp := measure.Throughput{
		System: "temporal", Config: o.config, Phase: "throughput", Tasks: o.tasks, Completed: o.tasks,
		Batch: o.batch, Inflight: o.inflight, Workers: o.workers,
		Secs: elapsed.Seconds(), TasksPerSec: float64(o.tasks) / elapsed.Seconds(), LastCompletionUnixMs: finished.UnixMilli(),
		SubmitSecs: bulk.elapsed.Seconds(), SubmitPerSec: float64(o.tasks) / bulk.elapsed.Seconds(),
		CPU: cpu, CPUTotal: total, CPUPer1000: total / float64(o.tasks) * 1000, OwnCommits: ownCommits,
		Settings: settings, Errors: bulk.errors,
	}
	if doneSecs > 0 {
		tp.DonePerSec = float64(o.tasks) / doneSecs
	}
	progress("%s: %.0f workflows/s, %.3f CPU s per 1000", o.config, tp.TasksPerSec, tp.CPUPer1000)
	lines = append(lines, tp)
	if bulk.errors > 0 {
		return fmt.Errorf("%d starts failed: %v", bulk.errors, bulk.firstErr)
	}

	// The run's commits and row counters, once every backend has published them (the server and
	// the worker keep running: what they do meanwhile is measured from here to idle_end and
	// subtracted).
	select {
	case <-time.After(time.Duration(o.settleSecs * float64(time.Second))):
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := snap("flushed", true); err != nil {
		return err
	}

	// 5. after the burst
	if err := measure.UntilAfterBurst(ctx, finished, time.Duration(o.afterWait*float64(time.Second)), time.Now(), 5*time.Second); err != nil {
		return err
	}
	if err := snap("idle_end", true); err != nil {
		return err
	}
	if o.afterJobs > 0 {
		lat, err := latencyRun("latency_after_burst", o.latencyJobs, o.afterJobs, o.afterOut, false)
		if err != nil {
			return err
		}
		lines = append(lines, lat)
	}

	// 6. single starts
	if o.singleTasks > 0 {
		progress("%s: single starts, %d workflows, %d in flight", o.config, o.singleTasks, o.singleFlight)
		// A batch of one per start: startBulk's batches run one after the other in each goroutine.
		r := startBulk(ctx, start, phaseSingle, o.singleTasks, 1, o.singleFlight)
		single := measure.Single{System: "temporal", Config: o.config, Phase: "single", Tasks: o.singleTasks, Inflight: o.singleFlight,
			SubmitSecs: r.elapsed.Seconds(), SubmitPerSec: float64(o.singleTasks) / r.elapsed.Seconds(), Errors: r.errors}
		progress("%s: %.0f single starts/s", o.config, single.SubmitPerSec)
		lines = append(lines, single)
		if r.errors > 0 {
			return fmt.Errorf("%d single starts failed: %v", r.errors, r.firstErr)
		}
	}
	settings["start_retries"] = strconv.FormatInt(retries.Load(), 10) // all phases

	// Stop the worker and the server.
	w.Stop()
	workerRunning = false
	c.Close()
	clientOpen = false
	vconn.Close(context.Background())
	visOpen = false
	progress("%s: stopping the server (pid %d)", o.config, o.serverPid)
	if err := stopProcess(o.serverPid, 60*time.Second); err != nil {
		progress("warning: %v", err)
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

// startBulk starts n workflows, batch at a time (the starts of a batch concurrently), inflight
// batches at once.
func startBulk(ctx context.Context, start func(context.Context, int, int) error, phase, n, batch, inflight int) bulkResult {
	t0 := time.Now()
	var next atomic.Int64
	var errs atomic.Int64
	var firstErr atomic.Value
	batches := (n + batch - 1) / batch
	var wg sync.WaitGroup
	for range inflight {
		wg.Go(func() {
			for {
				bi := int(next.Add(1)) - 1
				if bi >= batches {
					return
				}
				var one sync.WaitGroup
				for seq := bi * batch; seq < min((bi+1)*batch, n); seq++ {
					one.Go(func() {
						if err := start(ctx, phase, seq); err != nil {
							errs.Add(1)
							firstErr.CompareAndSwap(nil, err)
						}
					})
				}
				one.Wait()
			}
		})
	}
	wg.Wait()
	r := bulkResult{elapsed: time.Since(t0), errors: errs.Load()}
	if e, ok := firstErr.Load().(error); ok {
		r.firstErr = e
	}
	return r
}

// stopProcess sends SIGTERM to pid and waits until it has exited (gone, or a zombie its parent
// has not reaped yet).
func stopProcess(pid int, timeout time.Duration) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("SIGTERM to %d: %w", pid, err)
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return nil
		}
		s := string(raw)
		if f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]); len(f) > 0 && (f[0] == "Z" || f[0] == "X") {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("the server (pid %d) still runs %s after SIGTERM", pid, timeout)
}

// readTables adds "<label>.<table>" -> [n_tup_ins, n_tup_upd, n_tup_del] of every user table of
// the database at rawURL, through a connection of its own (closed again: its backend writes no
// rows, its one statement is a transaction on that database).
func readTables(ctx context.Context, label, rawURL string, into map[string][3]int64) error {
	conn, err := connectSimple(ctx, rawURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, "SELECT schemaname, relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables")
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
		into[label+"."+rel] = c
	}
	return rows.Err()
}

// takeSnapshot reads the WAL position, the databases' sizes and their summed xact_commit through
// admin and, with tables, every table's row counters (label -> URL of its database).
func takeSnapshot(ctx context.Context, admin *pgx.Conn, tables bool, urls map[string]string, dbs []string) (*measure.PgSnapshot, error) {
	sn := &measure.PgSnapshot{UnixMs: time.Now().UnixMilli(), DBBytes: map[string]int64{}, Tables: map[string][3]int64{}}
	if tables {
		for label, u := range urls {
			if err := readTables(ctx, label, u, sn.Tables); err != nil {
				return nil, err
			}
		}
	}
	for _, db := range dbs {
		var size int64
		if err := admin.QueryRow(ctx, "SELECT pg_database_size($1::text)", db).Scan(&size); err != nil {
			return nil, err
		}
		sn.DBBytes[db] = size
	}
	if err := admin.QueryRow(ctx, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::int8").Scan(&sn.WalLSN); err != nil {
		return nil, err
	}
	// After the table reads (transactions on the databases: "before" must come after them).
	var err error
	sn.Commits, err = xactCommit(ctx, admin, dbs)
	return sn, err
}

func xactCommit(ctx context.Context, admin *pgx.Conn, dbs []string) (int64, error) {
	var n int64
	err := admin.QueryRow(ctx, "SELECT coalesce(sum(xact_commit), 0)::int8 FROM pg_stat_database WHERE datname = ANY($1)", dbs).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("reading pg_stat_database: %w", err)
	}
	return n, nil
}

// procCPU: CPU seconds of one process (and the children it reaped) so far.
func procCPU(pid, clkTck int) (float64, error) {
	own, children, _, err := measure.ProcStat(pid)
	if err != nil {
		return 0, err
	}
	return float64(own+children) / float64(cmp.Or(clkTck, 100)), nil
}
